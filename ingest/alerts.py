"""Sentiment-shift alerts on the local service: a monitor that checks the tickers of newly
stored signals after each ingest pass (core.alerts decides), an append-only alert log, and
signed webhooks delivered with retries from their own thread, so ingestion never waits.

Configuration (TOML, `newsig serve --alerts FILE` or NEWSIG_ALERTS_FILE):

    [shift]                  # core.alerts.ShiftConfig; every key optional
    margin = 0.4
    z = 3.0
    [[webhooks]]
    url = "https://example.com/hooks/news-signals"
    secret = "at least 16 characters"
    tickers = ["AAPL", "MSFT"]   # optional: only these tickers' alerts

Each delivery is a POST of `{"type": "sentiment_shift", "alert": {...}}` with headers
`X-NewsSignals-Delivery` (id), `X-NewsSignals-Timestamp` (unix seconds) and
`X-NewsSignals-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`. A receiver
recomputes the HMAC over the raw body, compares in constant time, and rejects timestamps
older than it tolerates (5 minutes, say) to stop replays. Failed deliveries are retried with
exponential backoff (1, 2, 4, ... s, at most 5 minutes apart, 8 attempts); every attempt is
written to the delivery log."""

from __future__ import annotations

import hashlib
import heapq
import hmac
import itertools
import json
import logging
import threading
import time
import tomllib
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError

from core.alerts import Alert, MemoryCooldown, ShiftConfig, ShiftMonitor, page_all
from core.errors import ConfigError
from core.models import utcnow
from core.ports import SignalStore

log = logging.getLogger("newsig.alerts")


class Webhook(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: HttpUrl
    secret: str = Field(min_length=16)
    tickers: list[str] = Field(default_factory=list)

    def wants(self, alert: Alert) -> bool:
        return not self.tickers or alert.ticker in {t.upper() for t in self.tickers}


class RetryConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    attempts: int = Field(default=8, ge=1, le=20)
    base_delay_s: float = Field(default=1.0, gt=0)
    max_delay_s: float = Field(default=300.0, gt=0)
    timeout_s: float = Field(default=5.0, gt=0)


class AlertsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    shift: ShiftConfig = Field(default_factory=ShiftConfig)
    webhooks: list[Webhook] = Field(default_factory=list)
    retry: RetryConfig = Field(default_factory=RetryConfig)


def load_alerts_config(path: Path) -> AlertsConfig:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: no such alerts file") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    try:
        return AlertsConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                             for e in exc.errors())
        raise ConfigError(f"{path}: {problems}") from exc


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


class AlertLog:
    """alerts.jsonl and deliveries.jsonl in one folder, appended under a lock."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.alerts_file = folder / "alerts.jsonl"
        self.deliveries_file = folder / "deliveries.jsonl"
        self._lock = threading.Lock()

    def _append(self, path: Path, doc: str) -> None:
        with self._lock, path.open("a", encoding="utf-8") as fh:
            fh.write(doc + "\n")

    def add(self, alert: Alert) -> None:
        self._append(self.alerts_file, alert.model_dump_json())

    def delivery(self, **fields: Any) -> None:
        self._append(self.deliveries_file, json.dumps(fields, default=str))

    def _read(self, path: Path) -> list[dict[str, Any]]:
        if not path.exists():
            return []
        with self._lock:
            lines = path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def alerts(self, ticker: str | None = None, limit: int = 100) -> list[Alert]:
        rows = [Alert.model_validate(r) for r in self._read(self.alerts_file)]
        if ticker:
            rows = [a for a in rows if a.ticker == ticker.upper()]
        return list(reversed(rows))[:limit]

    def deliveries(self) -> list[dict[str, Any]]:
        return self._read(self.deliveries_file)


class WebhookDispatcher:
    """Deliveries wait in a heap keyed by when they are due; one thread sends them."""

    def __init__(self, webhooks: list[Webhook], retry: RetryConfig, log_: AlertLog,
                 clock: Callable[[], float] = time.time) -> None:
        self.webhooks, self.retry, self.log, self.clock = webhooks, retry, log_, clock
        self._heap: list[tuple[float, int, dict[str, Any]]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="newsig-webhooks", daemon=True)
        self._client = httpx.Client(timeout=retry.timeout_s)
        self._thread.start()

    def submit(self, alert: Alert) -> int:
        """Queues the alert for every webhook that wants it; returns at once."""
        body = json.dumps({"type": alert.type,
                           "alert": json.loads(alert.model_dump_json())}).encode()
        n = 0
        with self._cond:
            for hook in self.webhooks:
                if hook.wants(alert):
                    delivery = {"id": f"{alert.alert_id}-{n}", "alert_id": alert.alert_id,
                                "url": str(hook.url), "secret": hook.secret, "body": body,
                                "attempt": 0}
                    heapq.heappush(self._heap, (self.clock(), next(self._seq), delivery))
                    n += 1
            self._cond.notify()
        return n

    def _send(self, d: dict[str, Any]) -> str | None:
        ts = int(self.clock())
        headers = {"content-type": "application/json", "x-newssignals-delivery": d["id"],
                   "x-newssignals-timestamp": str(ts),
                   "x-newssignals-signature": sign(d["secret"], ts, d["body"])}
        try:
            resp = self._client.post(d["url"], content=d["body"], headers=headers)
        except httpx.HTTPError as exc:
            return f"{exc.__class__.__name__}: {exc}"
        return None if 200 <= resp.status_code < 300 else f"HTTP {resp.status_code}"

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stop and (not self._heap or self._heap[0][0] > self.clock()):
                    wait = (self._heap[0][0] - self.clock()) if self._heap else None
                    self._cond.wait(timeout=wait)
                if self._stop:
                    return
                _, _, d = heapq.heappop(self._heap)
            d["attempt"] += 1
            error = self._send(d)
            status = "delivered" if error is None else (
                "gave_up" if d["attempt"] >= self.retry.attempts else "failed")
            self.log.delivery(delivery=d["id"], alert_id=d["alert_id"], url=d["url"],
                              attempt=d["attempt"], status=status, error=error,
                              at=datetime.fromtimestamp(self.clock()).isoformat())
            if status == "failed":
                delay = min(self.retry.max_delay_s,
                            self.retry.base_delay_s * 2 ** (d["attempt"] - 1))
                with self._cond:
                    heapq.heappush(self._heap, (self.clock() + delay, next(self._seq), d))

    def pending(self) -> int:
        with self._cond:
            return len(self._heap)

    def close(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify()
        self._thread.join(5)
        self._client.close()


class AlertMonitor:
    """After each pass (`notify`), its own thread checks the tickers of the signals stored
    since the last check with the one shift engine (core.alerts.ShiftMonitor, cooldown kept in
    memory and seeded from the alert log); an alert is logged and handed to the dispatcher."""

    def __init__(self, store: SignalStore, config: AlertsConfig, log_: AlertLog,
                 dispatcher: WebhookDispatcher | None = None) -> None:
        self.store, self.config, self.log, self.dispatcher = store, config, log_, dispatcher
        self.engine = ShiftMonitor(store, config.shift,
                                   MemoryCooldown(log_.alerts(limit=1000)))
        self._last_check: datetime | None = None
        self._wake = threading.Event()
        self._stop = False
        self._thread: threading.Thread | None = None

    def check(self, now: datetime | None = None) -> list[Alert]:
        now = now or utcnow()
        since = self._last_check or now - timedelta(minutes=self.config.shift.recent_minutes)
        fresh = page_all(self.store, ShiftMonitor.MAX_HISTORY, since=since)
        self._last_check = now
        alerts = self.engine.check({t for s in fresh for t in s.tickers}, now)
        for alert in alerts:
            self.log.add(alert)
            if self.dispatcher is not None:
                self.dispatcher.submit(alert)
        return alerts

    def notify(self) -> None:
        """Called after an ingest pass: wakes the monitor's thread and returns."""
        self._wake.set()

    def start(self) -> None:
        def loop() -> None:
            while not self._stop:
                self._wake.wait()
                self._wake.clear()
                if self._stop:
                    return
                try:
                    for alert in self.check():
                        log.warning("sentiment shift: %s %s (delta %.2f, z %.1f)",
                                    alert.ticker, alert.direction, alert.index.delta or 0,
                                    alert.index.z or 0)
                except Exception:
                    log.exception("alert check failed")

        self._thread = threading.Thread(target=loop, name="newsig-alerts", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop = True
        self._wake.set()
        if self.dispatcher is not None:
            self.dispatcher.close()

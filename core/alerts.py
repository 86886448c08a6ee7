"""Sentiment-shift alerts: per ticker, a time-decayed sentiment index over a recent window,
compared with the ticker's own trailing baseline.

The statistic. Recent: the signals of the last `recent_minutes`, each weighted
0.5^(age / half_life) so the freshest news counts most; their weighted mean score and the
effective count n_eff = (sum w)^2 / sum w^2. Baseline: the plain mean and standard deviation
of the ticker's scores in the `baseline_hours` before that window. A shift needs both

- an effect a user cares about: |recent mean - baseline mean| >= `margin` (scores are in
  [-1, 1]), and
- evidence, judged against the ticker's own volatility and the counts on each side:
  z = delta / (sd_baseline * sqrt(1/n_eff + 1/n_baseline)) with |z| >= `z` (Welch-style,
  the baseline's spread standing in for both sides, floored at 0.1 so a perfectly flat
  baseline cannot make every wobble significant),

with at least `min_recent` and `min_baseline` signals. Either test alone misfires: a margin
alone fires on three headlines, a z alone fires on tiny moves of a very stable ticker. Once
alerted, a ticker and direction stay quiet for `cooldown_minutes`."""

from __future__ import annotations

import hashlib
import math
import threading
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from core.models import Signal
from core.ports import SignalStore


class ShiftConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    recent_minutes: float = Field(default=60, gt=0)
    baseline_hours: float = Field(default=24, gt=0)
    half_life_minutes: float = Field(default=30, gt=0)
    margin: float = Field(default=0.4, gt=0, le=2)
    z: float = Field(default=3.0, gt=0)
    min_recent: int = Field(default=5, ge=1)
    min_baseline: int = Field(default=10, ge=2)
    cooldown_minutes: float = Field(default=120, ge=0)


class SentimentIndex(BaseModel):
    ticker: str
    at: datetime
    recent_mean: float | None
    recent_count: int
    recent_effective_count: float
    baseline_mean: float | None
    baseline_sd: float | None
    baseline_count: int
    delta: float | None
    z: float | None


class Alert(BaseModel):
    alert_id: str
    type: Literal["sentiment_shift"] = "sentiment_shift"
    ticker: str
    direction: Literal["up", "down"]
    detected_at: datetime
    index: SentimentIndex
    recent_signal_ids: list[str]


def sentiment_index(ticker: str, signals: Sequence[Signal], now: datetime,
                    cfg: ShiftConfig) -> tuple[SentimentIndex, list[Signal]]:
    recent_from = now - timedelta(minutes=cfg.recent_minutes)
    base_from = recent_from - timedelta(hours=cfg.baseline_hours)
    recent = [s for s in signals if recent_from < s.first_seen_at <= now]
    # The sentiment toward this company (its entity's score), else the headline's.
    base = [s.score_for(ticker) for s in signals if base_from < s.first_seen_at <= recent_from]
    weights = [0.5 ** (max(0.0, (now - s.first_seen_at).total_seconds() / 60)
                       / cfg.half_life_minutes) for s in recent]
    sw = sum(weights)
    r_mean = (sum(w * s.score_for(ticker) for w, s in zip(weights, recent, strict=True)) / sw
              if sw else None)
    n_eff = sw * sw / sum(w * w for w in weights) if sw else 0.0
    b_mean = sum(base) / len(base) if base else None
    b_sd = (math.sqrt(sum((x - b_mean) ** 2 for x in base) / (len(base) - 1))
            if b_mean is not None and len(base) > 1 else None)
    delta = r_mean - b_mean if r_mean is not None and b_mean is not None else None
    z = None
    if delta is not None and b_sd is not None and n_eff > 0:
        z = delta / (max(b_sd, 0.1) * math.sqrt(1 / n_eff + 1 / len(base)))
    index = SentimentIndex(ticker=ticker, at=now, recent_mean=r_mean, recent_count=len(recent),
                           recent_effective_count=round(n_eff, 3), baseline_mean=b_mean,
                           baseline_sd=b_sd, baseline_count=len(base), delta=delta, z=z)
    return index, recent


def detect(ticker: str, signals: Sequence[Signal], now: datetime, cfg: ShiftConfig
           ) -> Alert | None:
    index, recent = sentiment_index(ticker, signals, now, cfg)
    if (index.delta is None or index.z is None or index.recent_count < cfg.min_recent
            or index.baseline_count < cfg.min_baseline or abs(index.delta) < cfg.margin
            or abs(index.z) < cfg.z):
        return None
    direction: Literal["up", "down"] = "up" if index.delta > 0 else "down"
    key = f"{ticker}|{direction}|{now.isoformat()}"
    return Alert(alert_id=hashlib.sha256(key.encode()).hexdigest()[:16], ticker=ticker,
                 direction=direction, detected_at=now, index=index,
                 recent_signal_ids=[s.signal_id for s in recent])


class Cooldown(Protocol):
    """Who may alert: after an alert, a ticker and direction stay quiet for the cooldown.
    `claim` is atomic where several monitors run at once (DynamoDB: a conditional write)."""

    def claim(self, ticker: str, direction: str, now: datetime, until: datetime,
              alert: Alert) -> bool:
        """True (and the cooldown starts, until `until`) if this ticker and direction may
        alert now; False while an earlier alert's cooldown lasts."""
        ...


class MemoryCooldown:
    """One process's cooldown (the local service), seeded from the alerts it logged, so a
    restart does not alert again within an earlier alert's cooldown."""

    def __init__(self, logged: Iterable[Alert] = ()) -> None:
        self._last: dict[tuple[str, str], datetime] = {
            (a.ticker, a.direction): a.detected_at
            for a in sorted(logged, key=lambda a: a.detected_at)}
        self._lock = threading.Lock()

    def claim(self, ticker: str, direction: str, now: datetime, until: datetime,
              alert: Alert) -> bool:
        with self._lock:
            last = self._last.get((ticker, direction))
            if last is not None and now - last < until - now:
                return False
            self._last[(ticker, direction)] = now
            return True


class ShiftMonitor:
    """The one shift engine: for each ticker, read its history (paged, bounded), test it
    (`detect`), and let the cooldown decide whether it alerts. The local monitor
    (ingest/alerts.py) and the AWS stream consumer (ingest/stream_handler.py) only choose the
    tickers and deliver what this returns."""

    #: Signals read per ticker and per check (the windows hold far fewer for any real feed).
    MAX_HISTORY = 5000

    def __init__(self, store: SignalStore, cfg: ShiftConfig, cooldown: Cooldown, *,
                 page: int = 500) -> None:
        self.store, self.cfg, self.cooldown, self.page = store, cfg, cooldown, page

    def history(self, ticker: str, now: datetime) -> list[Signal]:
        since = now - timedelta(minutes=self.cfg.recent_minutes, hours=self.cfg.baseline_hours)
        # One version's scores only (the active one): alerts never mix two models.
        from core.ports import VersionedStore

        version = self.store.active_version() if isinstance(self.store, VersionedStore) \
            else None
        return page_all(self.store, self.MAX_HISTORY, page=self.page, ticker=ticker,
                        since=since, **({"model_version": version} if version else {}))

    def check(self, tickers: Iterable[str], now: datetime) -> list[Alert]:
        alerts = []
        for ticker in sorted(set(tickers)):
            alert = detect(ticker, self.history(ticker, now), now, self.cfg)
            if alert is None:
                continue
            until = now + timedelta(minutes=self.cfg.cooldown_minutes)
            if self.cooldown.claim(ticker, alert.direction, now, until, alert):
                alerts.append(alert)
        return alerts


def page_all(store: SignalStore, limit: int, *, page: int = 500, **query: Any) -> list[Signal]:
    """Up to `limit` signals of a query, newest first, following its cursors."""
    out: list[Signal] = []
    cursor = None
    while len(out) < limit:
        result = store.query(limit=page, cursor=cursor, **query)
        out += result.items
        cursor = result.next_cursor
        if not cursor:
            break
    return out[:limit]

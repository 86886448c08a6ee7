"""Alerts end to end on the local service: the monitor finds a shift in a real SQLite store,
logs it once (cooldown), and webhooks deliver it signed; a receiver that fails three times
still gets it; submitting never waits for a receiver; GET /alerts and the config file."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import Services, create_app
from core.adapters.sqlite_store import SQLiteSignalStore
from core.alerts import ShiftConfig
from core.errors import ConfigError
from core.models import Signal
from ingest.alerts import (
    AlertLog,
    AlertMonitor,
    AlertsConfig,
    RetryConfig,
    Webhook,
    WebhookDispatcher,
    load_alerts_config,
)
from tests.support.builders import T0, make_signal

NOW = T0 + timedelta(days=2)
SECRET = "a-webhook-secret-of-some-length"


class Receiver:
    """A webhook receiver on 127.0.0.1 that verifies each signature as a user's would."""

    def __init__(self, fail_first: int = 0, gate: threading.Event | None = None) -> None:
        self.got: list[dict[str, Any]] = []
        self.attempts = 0
        self.verified = True
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                if gate is not None:
                    gate.wait(10)
                outer.attempts += 1
                ts = self.headers["x-newssignals-timestamp"]
                want = "sha256=" + hmac.new(SECRET.encode(), f"{ts}.".encode() + body,
                                            hashlib.sha256).hexdigest()
                ok = hmac.compare_digest(want, self.headers["x-newssignals-signature"])
                outer.verified &= ok
                if outer.attempts <= fail_first or not ok:
                    self.send_response(503 if ok else 401)
                    self.end_headers()
                    return
                outer.got.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()


def scored(i: int, score: float, minutes_ago: float, ticker: str = "ACME") -> Signal:
    p_pos = max(0.0, score) + (1 - abs(score)) / 3
    p_neg = max(0.0, -score) + (1 - abs(score)) / 3
    return make_signal(i, tickers=[ticker], seen=NOW - timedelta(minutes=minutes_ago),
                       probs=(p_neg, 1 - p_pos - p_neg, p_pos))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteSignalStore]:
    s = SQLiteSignalStore(tmp_path / "alerts.db")
    rng = random.Random(7)
    s.put_many([scored(i, rng.gauss(0.1, 0.2), rng.uniform(70, 60 * 24)) for i in range(48)]
               + [scored(200 + i, rng.gauss(0.1, 0.2), rng.uniform(70, 60 * 24), "CALM")
                  for i in range(48)])
    s.put_many([scored(100 + i, rng.gauss(-0.6, 0.15), rng.uniform(1, 55)) for i in range(10)]
               + [scored(300 + i, rng.gauss(0.1, 0.2), rng.uniform(1, 55), "CALM")
                  for i in range(10)])
    yield s
    s.close()


def fast_retry() -> RetryConfig:
    return RetryConfig(attempts=6, base_delay_s=0.05, max_delay_s=0.2, timeout_s=5)


def wait_for(predicate: Any, timeout: float = 15.0) -> bool:
    done = threading.Event()
    deadline = threading.Timer(timeout, done.set)
    deadline.start()
    try:
        while not done.is_set():
            if predicate():
                return True
            done.wait(0.02)
        return bool(predicate())
    finally:
        deadline.cancel()


def test_a_shift_is_alerted_once_and_delivered_signed(store: SQLiteSignalStore,
                                                      tmp_path: Path) -> None:
    receiver = Receiver()
    log = AlertLog(tmp_path / "log")
    hooks = [Webhook(url=receiver.url, secret=SECRET),
             Webhook(url=receiver.url, secret=SECRET, tickers=["OTHER"])]
    dispatcher = WebhookDispatcher(hooks, fast_retry(), log)
    monitor = AlertMonitor(store, AlertsConfig(shift=ShiftConfig()), log, dispatcher)
    try:
        alerts = monitor.check(NOW)
        assert [(a.ticker, a.direction) for a in alerts] == [("ACME", "down")]
        assert monitor.check(NOW + timedelta(minutes=1)) == []  # cooldown
        assert wait_for(lambda: len(receiver.got) == 1)
        assert receiver.verified
        (payload,) = receiver.got
        assert payload["type"] == "sentiment_shift" and payload["alert"]["ticker"] == "ACME"
        assert payload["alert"]["index"]["delta"] < -0.4
        assert [a.ticker for a in log.alerts()] == ["ACME"]
    finally:
        dispatcher.close()
        receiver.stop()


def test_a_receiver_failing_three_times_still_gets_it(store: SQLiteSignalStore,
                                                      tmp_path: Path) -> None:
    receiver = Receiver(fail_first=3)
    log = AlertLog(tmp_path / "log")
    dispatcher = WebhookDispatcher([Webhook(url=receiver.url, secret=SECRET)], fast_retry(),
                                   log)
    try:
        (alert,) = AlertMonitor(store, AlertsConfig(), log, dispatcher).check(NOW)
        assert wait_for(lambda: len(receiver.got) == 1)
        # The receiver has it before the dispatcher has read its answer and logged it.
        assert wait_for(lambda: any(d["status"] == "delivered" for d in log.deliveries()))
        statuses = [(d["attempt"], d["status"]) for d in log.deliveries()]
        assert statuses == [(1, "failed"), (2, "failed"), (3, "failed"), (4, "delivered")]
        assert receiver.got[0]["alert"]["alert_id"] == alert.alert_id
    finally:
        dispatcher.close()
        receiver.stop()


def test_submitting_never_waits_for_a_receiver(tmp_path: Path, store: SQLiteSignalStore) -> None:
    """The receiver holds every request until released: submit() has already returned and
    the monitor's check finished while the first delivery is still held."""
    gate = threading.Event()
    receiver = Receiver(gate=gate)
    log = AlertLog(tmp_path / "log")
    dispatcher = WebhookDispatcher([Webhook(url=receiver.url, secret=SECRET)], fast_retry(),
                                   log)
    try:
        alerts = AlertMonitor(store, AlertsConfig(), log, dispatcher).check(NOW)
        assert len(alerts) == 1 and receiver.got == [] and log.deliveries() == []
        gate.set()
        assert wait_for(lambda: len(receiver.got) == 1)
    finally:
        gate.set()
        dispatcher.close()
        receiver.stop()


def test_get_alerts_and_the_config_file(store: SQLiteSignalStore, tmp_path: Path) -> None:
    log = AlertLog(tmp_path / "log")
    AlertMonitor(store, AlertsConfig(), log).check(NOW)
    client = TestClient(create_app(Services(store, alert_log=log)))
    body = client.get("/alerts", params={"ticker": "acme"}).json()
    assert [a["ticker"] for a in body] == ["ACME"] and body[0]["direction"] == "down"
    assert client.get("/alerts", params={"ticker": "CALM"}).json() == []
    assert TestClient(create_app(Services(store))).get("/alerts").json() == []
    good = tmp_path / "alerts.toml"
    good.write_text(f'[shift]\nmargin = 0.5\n[[webhooks]]\nurl = "http://127.0.0.1:9/h"\n'
                    f'secret = "{SECRET}"\ntickers = ["AAPL"]\n')
    cfg = load_alerts_config(good)
    assert cfg.shift.margin == 0.5 and cfg.webhooks[0].tickers == ["AAPL"]
    bad = tmp_path / "bad.toml"
    bad.write_text('[[webhooks]]\nurl = "not a url"\nsecret = "short"\n')
    with pytest.raises(ConfigError, match=r"bad\.toml: webhooks\.0\.url") as info:
        load_alerts_config(bad)
    assert "webhooks.0.secret" in str(info.value)


def test_newsig_alerts_prints_a_servers_alerts(store: SQLiteSignalStore, tmp_path: Path,
                                               capsys: pytest.CaptureFixture) -> None:
    from api.cli import main
    from tests.support.live_server import live_uvicorn

    log = AlertLog(tmp_path / "log")
    AlertMonitor(store, AlertsConfig(), log).check(NOW)
    with live_uvicorn(create_app(Services(store, alert_log=log))) as base:
        assert main(["alerts", "--url", base, "--ticker", "ACME"]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert [json.loads(line)["ticker"] for line in lines] == ["ACME"]
        assert main(["alerts", "--url", base, "--limit", "0"]) == 2  # the server's 422


def test_newsig_serve_checks_for_shifts_after_each_pass_that_stored_signals(
        tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The wiring of `newsig serve --alerts`: the scheduler's pass wakes the monitor (which
    then checks in its own thread); GET /alerts reads the same log."""
    import ingest.alerts as alerts_module
    from api.server import build_app
    from core.settings import Settings
    from tests.support.feed_server import FeedServer, Route, rss

    woken = threading.Event()
    monkeypatch.setattr(alerts_module.AlertMonitor, "notify", lambda self: woken.set())
    feeds = FeedServer().start()
    try:
        feeds.routes["/wire.xml"] = Route(rss([
            {"title": "Nokia profit fell to a loss", "guid": "n1",
             "link": "https://n.example/1"}]))
        feeds_file = tmp_path / "feeds.toml"
        feeds_file.write_text(f'[[feeds]]\nid = "wire"\nurl = "{feeds.url("/wire.xml")}"\n')
        config = tmp_path / "alerts.toml"
        config.write_text("[shift]\nmargin = 0.5\n")
        settings = Settings(store_url=f"sqlite:///{tmp_path}/s.db", model_dir=tiny_model_dir,
                            alerts_file=config, alerts_dir=tmp_path / "log")
        app = build_app(settings, feeds_file=feeds_file, interval=3600, schedule=True)
        with TestClient(app) as client:
            assert woken.wait(30), "the pass did not wake the alert monitor"
            assert client.get("/alerts").json() == []
        assert (tmp_path / "log").is_dir()
    finally:
        feeds.stop()

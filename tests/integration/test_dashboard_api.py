"""Summary endpoint, server-sent events over a real uvicorn server, dashboard assets."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import Services, create_app
from core.adapters.onnx_classifier import OnnxClassifier
from core.adapters.sqlite_store import SQLiteSignalStore
from core.models import utcnow
from tests.support.builders import T0, make_signal
from tests.support.live_server import live_uvicorn


@pytest.fixture
def client(classifier: OnnxClassifier, sqlite_store: SQLiteSignalStore) -> Iterator[TestClient]:
    with TestClient(create_app(Services(sqlite_store, classifier=classifier))) as c:
        yield c


def test_summary_buckets_and_filters(client: TestClient, sqlite_store: SQLiteSignalStore) -> None:
    sqlite_store.put_many([make_signal(0, probs=(0.8, 0.1, 0.1)),
                           make_signal(30, probs=(0.1, 0.1, 0.8), tickers=["NOK"]),
                           make_signal(70, probs=(0.1, 0.2, 0.7), source="b")])
    body = client.get("/signals/summary", params={"bucket": "1h"}).json()
    assert body["bucket_seconds"] == 3600
    assert [b["total"] for b in body["buckets"]] == [2, 1]
    assert body["buckets"][0]["counts"] == {"negative": 1, "neutral": 0, "positive": 1}
    assert body["buckets"][0]["mean_score"] == pytest.approx(0.0)
    nok = client.get("/signals/summary", params={"ticker": "nok", "bucket": "1d"}).json()
    assert [b["total"] for b in nok["buckets"]] == [1]
    only_b = client.get("/signals/summary", params={"source": "b", "bucket": "300"}).json()
    assert only_b["bucket_seconds"] == 300 and only_b["buckets"][0]["counts"]["positive"] == 1
    since = client.get("/signals/summary", params={
        "since": (T0 + timedelta(minutes=60)).isoformat()}).json()
    assert [b["total"] for b in since["buckets"]] == [1]


@pytest.mark.parametrize("bucket", ["soon", "10s", "90d", "0"])
def test_bad_bucket_is_422(client: TestClient, bucket: str) -> None:
    r = client.get("/signals/summary", params={"bucket": bucket})
    assert r.status_code == 422 and "bucket" in r.text


def test_dashboard_page_and_assets_are_served_locally(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    # Relative URLs: the same page works at / here and under /prod/ on API Gateway.
    assert 'src="static/app.js"' in page.text and 'href="static/style.css"' in page.text
    assert "http://" not in page.text and "https://" not in page.text  # no CDN
    assert 'src="/' not in page.text and 'href="/' not in page.text
    for asset in ("/static/app.js", "/static/style.css"):
        r = client.get(asset)
        assert r.status_code == 200 and len(r.text) > 500
    js = client.get("/static/app.js").text
    for route in ('"signals/stream', "`signals/summary?", '"classify"', '"feeds"', '"health"'):
        assert route in js
    assert "fetch(`/" not in js and 'getJSON("/' not in js and "getJSON(`/" not in js


@pytest.fixture
def live_server(classifier: OnnxClassifier, tmp_path: Path) -> Iterator[tuple[str,
                                                                              SQLiteSignalStore]]:
    store = SQLiteSignalStore(tmp_path / "live.db")
    with live_uvicorn(create_app(Services(store, classifier=classifier))) as base:
        yield base, store
    store.close()


def test_stream_pushes_each_new_signal_once(live_server: tuple[str, SQLiteSignalStore]) -> None:
    base, store = live_server
    now = utcnow()
    store.put_many([make_signal(1, seen=now - timedelta(seconds=5))])  # before: not replayed
    received: list[dict] = []
    with httpx.stream("GET", f"{base}/signals/stream", params={"poll": 0.2},
                      timeout=10) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        lines = resp.iter_lines()
        assert next(lines).startswith("retry:")
        threading.Timer(0.5, lambda: store.put_many(
            [make_signal(2, seen=utcnow()), make_signal(3, seen=utcnow())])).start()
        deadline = time.monotonic() + 8
        event = None
        for line in lines:
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event == "signal":
                received.append(json.loads(line[5:]))
                if len(received) == 2:
                    break
            assert time.monotonic() < deadline
    assert sorted(s["title"] for s in received) == ["Headline number 2", "Headline number 3"]

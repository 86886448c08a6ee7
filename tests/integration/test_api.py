"""The HTTP API with the real tiny ONNX model and a real SQLite file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import Services, create_app
from api.fastpath import ClassifyFastPath
from api.middleware import GuardMiddleware
from core.adapters.onnx_classifier import OnnxClassifier
from core.adapters.sqlite_store import SQLiteSignalStore
from core.errors import ClassifierUnavailableError, ModelNotFoundError
from tests.support.builders import T0, make_signal


@pytest.fixture
def client(classifier: OnnxClassifier, sqlite_store: SQLiteSignalStore) -> Iterator[TestClient]:
    app = create_app(Services(sqlite_store, classifier=classifier))
    with TestClient(app) as c:
        yield c


def test_classify_one_headline(client: TestClient, classifier: OnnxClassifier) -> None:
    r = client.post("/classify", json={"headline": "  shares rose on record profit "})
    assert r.status_code == 200
    (p,) = r.json()["predictions"]
    assert p["text"] == "shares rose on record profit"
    assert p["label"] == "positive"
    assert set(p["probabilities"]) == {"negative", "neutral", "positive"}
    assert p["score"] == pytest.approx(p["probabilities"]["positive"]
                                       - p["probabilities"]["negative"])
    assert p["model_version"] == classifier.model_version
    assert r.headers["content-type"] == "application/json"
    timing = dict(part.strip().split(";dur=") for part in r.headers["server-timing"].split(","))
    assert 0 < float(timing["model"]) <= float(timing["route"])


def test_classify_many_keeps_order(client: TestClient) -> None:
    texts = ["profit fell to a loss", "board meets monday", "shares rose on record profit"]
    r = client.post("/classify", json={"headlines": texts})
    assert r.status_code == 200
    preds = r.json()["predictions"]
    assert [p["text"] for p in preds] == texts
    assert [p["label"] for p in preds] == ["negative", "neutral", "positive"]


def test_original_and_sagemaker_bodies(client: TestClient) -> None:
    original = client.post("/classify", json={"query": {"headline": "profit fell to a loss"}})
    assert original.status_code == 200
    assert original.json()["predictions"][0]["label"] == "negative"
    inputs = client.post("/classify", json={"inputs": "board meets monday"})
    assert inputs.json()["predictions"][0]["label"] == "neutral"


@pytest.mark.parametrize(("body", "needle"), [
    ({}, "exactly one"),
    ({"headline": "a", "headlines": ["b"]}, "exactly one"),
    ({"headline": "   "}, "headline"),
    ({"headline": "x" * 1001}, "headline"),
    ({"headlines": []}, "headlines"),
    ({"headlines": ["ok"] * 65}, "headlines"),
    ({"headlines": ["ok", ""]}, "headlines"),
    ({"headline": 5}, "headline"),
    ({"headlne": "typo"}, "headlne"),
    ({"query": {}}, "query"),
])
def test_bad_bodies_get_422_naming_the_problem(client: TestClient, body: dict,
                                               needle: str) -> None:
    r = client.post("/classify", json=body)
    assert r.status_code == 422
    assert needle in r.text


def test_not_json_is_422(client: TestClient) -> None:
    r = client.post("/classify", content=b"{not json", headers={"content-type":
                                                                 "application/json"})
    assert r.status_code == 422


def test_signals_query_and_cursor(client: TestClient, sqlite_store: SQLiteSignalStore) -> None:
    sqlite_store.put_many([make_signal(i, source="a" if i % 2 else "b",
                                       tickers=["NOK"] if i < 4 else []) for i in range(10)])
    r = client.get("/signals", params={"limit": 4})
    assert r.status_code == 200
    body = r.json()
    assert len(body["items"]) == 4 and body["next_cursor"]
    titles = [s["title"] for s in body["items"]]
    assert titles == [f"Headline number {i}" for i in (9, 8, 7, 6)]
    rest = client.get("/signals", params={"limit": 100, "cursor": body["next_cursor"]}).json()
    assert len(rest["items"]) == 6 and rest["next_cursor"] is None
    item = body["items"][0]
    for key in ("signal_id", "story_id", "source_id", "title", "link", "published_at",
                "first_seen_at", "scored_at", "tickers", "label", "probabilities", "score",
                "model_version"):
        assert key in item
    assert [s["title"] for s in client.get("/signals", params={"ticker": "nok"}).json()[
        "items"]] == [f"Headline number {i}" for i in (3, 2, 1, 0)]
    assert {s["source_id"] for s in client.get("/signals?source=a").json()["items"]} == {"a"}
    since = (T0 + timedelta(minutes=2)).isoformat()
    until = (T0 + timedelta(minutes=5)).isoformat()
    ranged = client.get("/signals", params={"since": since, "until": until}).json()["items"]
    assert [s["title"] for s in ranged] == [f"Headline number {i}" for i in (4, 3, 2)]


def test_signals_distinct_story(client: TestClient, sqlite_store: SQLiteSignalStore) -> None:
    sqlite_store.put_many([make_signal(3, source="a", title="Same story"),
                           make_signal(1, source="b", title="Same story"),
                           make_signal(2, source="a")])
    items = client.get("/signals", params={"distinct": "story"}).json()["items"]
    assert sorted((s["source_id"], s["title"]) for s in items) == [
        ("a", "Headline number 2"), ("b", "Same story")]
    assert client.get("/signals", params={"distinct": "nope"}).status_code == 422


def test_feeds_endpoint_lists_configured_feeds(sqlite_store: SQLiteSignalStore) -> None:
    from core.models import FeedConfig, FeedState

    sqlite_store.put_feed_state(FeedState(feed_id="b", url="http://b", last_attempt_at=T0,
                                          consecutive_failures=2, last_error="HTTP 500"))
    sqlite_store.put_feed_state(FeedState(feed_id="gone", url="http://old",
                                          last_attempt_at=T0))
    feeds = [FeedConfig(id="a", url="http://a", name="A"), FeedConfig(id="b", url="http://b")]
    with TestClient(create_app(Services(sqlite_store, feeds=feeds))) as c:
        body = c.get("/feeds").json()
    assert [(f["id"], f["status"], f["configured"]) for f in body] == [
        ("a", "never_polled", True), ("b", "failing", True), ("gone", "ok", False)]
    assert body[1]["last_error"] == "HTTP 500" and body[0]["name"] == "A"


@pytest.mark.parametrize(("params", "field"), [
    ({"limit": 0}, "limit"), ({"limit": 5000}, "limit"), ({"since": "yesterday"}, "since"),
    ({"cursor": "garbage!"}, "cursor"),
    ({"since": "2026-11-21T00:00:00Z", "until": "2026-11-20T00:00:00Z"}, "since"),
])
def test_bad_signal_queries_get_422(client: TestClient, params: dict, field: str) -> None:
    r = client.get("/signals", params=params)
    assert r.status_code == 422
    assert field in str(r.json()["detail"])


def test_health_and_openapi(client: TestClient, classifier: OnnxClassifier) -> None:
    h = client.get("/health")
    assert h.status_code == 200
    assert h.json()["status"] == "ok"
    assert h.json()["model_version"] == classifier.model_version
    assert h.json()["store"]["backend"] == "sqlite"
    spec = client.get("/openapi.json").json()
    assert {"/classify", "/signals", "/health"} <= set(spec["paths"])


def test_missing_model_degrades_health_and_classify_503(tmp_path: Path,
                                                        sqlite_store: SQLiteSignalStore) -> None:
    def factory() -> OnnxClassifier:
        return OnnxClassifier(tmp_path / "no-model")

    with TestClient(create_app(Services(sqlite_store, classifier_factory=factory))) as c:
        h = c.get("/health")
        assert h.status_code == 503 and h.json()["status"] == "degraded"
        assert "newsig model train" in h.json()["model_error"]
        r = c.post("/classify", json={"headline": "x"})
        assert r.status_code == 503
        assert r.json()["detail"][0]["type"] == ModelNotFoundError.__name__
        assert c.get("/signals").status_code == 200  # the store still serves


def test_classifier_outage_is_503(sqlite_store: SQLiteSignalStore) -> None:
    class Down:
        model_version = "down"

        def classify(self, texts: list[str]) -> list:
            raise ClassifierUnavailableError("endpoint throttled")

    with TestClient(create_app(Services(sqlite_store, classifier=Down()))) as c:
        r = c.post("/classify", json={"headline": "x"})
        assert r.status_code == 503 and "try again" in r.text
        # The backend's own words stay in the log, under the request id the client got.
        assert "throttled" not in r.text
        assert r.json()["detail"][0]["request_id"] == r.headers["x-request-id"]


def test_classify_workers_bound_concurrent_model_calls(sqlite_store: SQLiteSignalStore,
                                                       classifier: OnnxClassifier) -> None:
    """With a worker pool of 2, 12 concurrent requests never run more than 2 model calls at
    once, and every caller still gets its own headline's prediction."""
    import asyncio
    import threading
    import time

    import httpx

    lock = threading.Lock()
    state = {"now": 0, "peak": 0}

    class Counting:
        model_version = classifier.model_version

        def classify(self, texts):  # type: ignore[no-untyped-def]
            with lock:
                state["now"] += 1
                state["peak"] = max(state["peak"], state["now"])
            time.sleep(0.02)
            try:
                return classifier.classify(texts)
            finally:
                with lock:
                    state["now"] -= 1

    services = Services(sqlite_store, classifier=Counting(), classify_workers=2)
    app = create_app(services)
    headlines = [f"Company {i} profit {'soars' if i % 2 else 'collapses'}" for i in range(12)]

    async def drive() -> list[dict]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            rs = await asyncio.gather(*(c.post("/classify", json={"headline": h})
                                        for h in headlines))
        return [r.json()["predictions"][0] for r in rs]

    try:
        got = asyncio.run(drive())
    finally:
        services.close()
    assert state["peak"] == 2
    expected = classifier.classify(headlines)
    assert [g["text"] for g in got] == headlines
    assert [g["label"] for g in got] == [p.label for p in expected]


def test_serving_workers_follow_settings() -> None:
    import os

    from api.server import serving_workers
    from core.settings import Settings

    assert serving_workers(Settings()) == (os.cpu_count() or 1)
    assert serving_workers(Settings(classify_workers=3)) == 3
    assert serving_workers(Settings(micro_batching=True)) == 0  # the batcher's thread serves
    assert serving_workers(Settings(classifier="sagemaker")) == 0  # remote calls wait on I/O


BODIES = [{"headline": "  shares rose on record profit "},
          {"headlines": ["profit fell to a loss", "board meets monday"]},
          {"query": {"headline": "profit fell to a loss"}}, {"inputs": ["a", "b"]},
          {"inputs": "board meets monday"}, {"headline": "x" * 1001}, {"headlne": "typo"}]


@pytest.mark.parametrize("body", BODIES)
def test_fast_path_answers_as_the_route_does(client: TestClient, body: dict) -> None:
    """application/json is answered by api/fastpath.py; a +json type (JSON to FastAPI,
    not to the fast path) by the FastAPI route: same status, body and headers."""
    fast = client.post("/classify", json=body)
    route = client.post("/classify", content=json.dumps(body),
                        headers={"content-type": "application/vnd.api+json"})
    assert fast.status_code == route.status_code
    assert fast.json() == route.json()
    ignore = {"x-request-id", "server-timing"}
    assert ({k: v for k, v in fast.headers.items() if k not in ignore}
            == {k: v for k, v in route.headers.items() if k not in ignore})
    assert ("server-timing" in fast.headers) == (fast.status_code == 200)
    assert fast.headers["x-content-type-options"] == "nosniff"
    assert len(fast.headers["x-request-id"]) == 32


def test_fast_path_keeps_the_guards(sqlite_store: SQLiteSignalStore,
                                    classifier: OnnxClassifier) -> None:
    key = "k" * 20
    app = create_app(Services(sqlite_store, classifier=classifier), api_key=key,
                     max_body_bytes=100)
    # Outermost first: the guard sees every request before the fast path answers one.
    assert [m.cls for m in app.user_middleware] == [GuardMiddleware, ClassifyFastPath]
    with TestClient(app) as c:
        assert c.post("/classify", json={"headline": "x"}).status_code == 401
        ok = c.post("/classify", json={"headline": "x"}, headers={"x-api-key": key})
        assert ok.status_code == 200
        big = c.post("/classify", json={"headline": "x" * 200}, headers={"x-api-key": key})
        assert big.status_code == 413


def test_fast_path_errors_match_the_route(sqlite_store: SQLiteSignalStore) -> None:
    class Broken:
        model_version = "broken"

        def __init__(self, exc: Exception) -> None:
            self.exc = exc

        def classify(self, texts: list[str]) -> list:
            raise self.exc

    for exc, status in [(ClassifierUnavailableError("throttled"), 503),
                        (RuntimeError("a bug"), 500)]:
        app = create_app(Services(sqlite_store, classifier=Broken(exc)))
        with TestClient(app, raise_server_exceptions=False) as c:
            answers = [c.post("/classify", content=b'{"headline": "x"}',
                              headers={"content-type": ctype, "x-request-id": "req-7"})
                       for ctype in ("application/json", "application/problem+json")]
        for r in answers:
            assert r.status_code == status
            assert r.headers["x-request-id"] == "req-7"
            assert r.json()["detail"][0]["request_id"] == "req-7"
            assert "throttled" not in r.text and "a bug" not in r.text
        assert answers[0].json() == answers[1].json()


def test_classify_with_targets_and_their_bad_input(client: TestClient) -> None:
    """`targets`: the sentiment toward each (a model without an entity head gives each its
    text's); every bad target is a 422 naming it, and nothing is classified."""
    r = client.post("/classify", json={"headline": "Nokia profit rose to a record",
                                       "targets": ["Nokia"]})
    assert r.status_code == 200, r.text
    (p,) = r.json()["predictions"]
    assert [t["target"] for t in p["targets"]] == ["Nokia"]
    assert p["targets"][0]["label"] == p["label"]  # the tiny model has no entity head
    assert [e["ticker"] for e in p["entities"]] == ["NOK"]
    r = client.post("/classify", json={"headlines": ["Nokia rose", "Kone fell"],
                                       "targets": [["Nokia"], ["Kone"]]})
    assert [q["targets"][0]["target"] for q in r.json()["predictions"]] == ["Nokia", "Kone"]
    plain = client.post("/classify", json={"headline": "Nokia rose"}).json()
    assert "targets" not in plain["predictions"][0]
    bad = [({"headline": "Nokia rose", "targets": ["Tesla"]}, "Tesla"),
           ({"headline": "Nokia rose", "targets": [""]}, "targets"),
           ({"headline": "Nokia rose", "targets": ["x" * 201]}, "targets"),
           ({"headline": "Nokia rose", "targets": ["Nokia"] * 21}, "targets"),
           ({"headlines": ["Nokia rose", "Kone fell"], "targets": [["Nokia"]]}, "one list"),
           ({"headline": "Nokia rose", "targets": []}, "targets")]
    for body, named in bad:
        r = client.post("/classify", json=body)
        assert r.status_code == 422, (body, r.text)
        assert named in r.text, (body, r.text)


def test_micro_batched_classify_still_carries_events_and_tier(
        classifier: OnnxClassifier, sqlite_store: SQLiteSignalStore) -> None:
    """The micro-batcher calls the classifier itself: its answers get their events and tier
    on the same path as every other prediction."""
    from core.batching import MicroBatcher

    batcher = MicroBatcher(classifier)
    app = create_app(Services(sqlite_store, classifier=batcher))  # type: ignore[arg-type]
    try:
        with TestClient(app) as c:
            r = c.post("/classify", json={"headlines": ["Acme files for Chapter 11",
                                                        "board meets monday"]})
        assert r.status_code == 200, r.text
        preds = r.json()["predictions"]
        assert [p["events"] for p in preds] == [["bankruptcy"], []]
        assert {p["tier"] for p in preds} == {"fast"}
    finally:
        close = getattr(batcher, "close", None)
        if close:
            close()

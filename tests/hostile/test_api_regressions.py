"""Every hostile request the hardening issue listed, as a regression test: each got a 5xx (or
was accepted with no meaning) before, and gets a clear 4xx or a documented meaning now."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import Services, create_app
from api.server import check_exposure
from core.adapters.onnx_classifier import OnnxClassifier
from core.adapters.sqlite_store import SQLiteSignalStore
from core.errors import ConfigError
from core.settings import Settings
from tests.support.builders import make_signal
from tests.support.live_server import live_uvicorn

KEY = "k" * 24


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteSignalStore]:
    s = SQLiteSignalStore(tmp_path / "h.db")
    s.put_many([make_signal(i) for i in range(5)])
    yield s
    s.close()


@pytest.fixture
def client(store: SQLiteSignalStore, classifier: OnnxClassifier) -> Iterator[TestClient]:
    with TestClient(create_app(Services(store, classifier=classifier)),
                    raise_server_exceptions=False) as c:
        yield c


def test_naive_and_aware_bounds_mix(client: TestClient) -> None:
    r = client.get("/signals", params={"since": "2026-01-01", "until": "2026-01-02T00:00:00Z"})
    assert r.status_code == 200


@pytest.mark.parametrize("path", ["/signals", "/signals/summary"])
@pytest.mark.parametrize("params", [
    {"since": "0001-01-01T00:00:00+01:00"}, {"until": "0001-01-01T00:00:00+01:00"},
    {"since": "999-12-31T00:00:00Z"}, {"until": "0999-06-01"}, {"until": "0.5"},
    {"since": "1700000000"}, {"since": "2026-11-21T00:00:00Z", "until": "2026-11-20T00:00:00Z"},
])
def test_bad_time_bounds_are_422(client: TestClient, path: str, params: dict) -> None:
    r = client.get(path, params=params)
    assert r.status_code == 422, r.text
    assert "since" in r.text or "until" in r.text


@pytest.mark.parametrize("bound", ["9999-12-31T23:00:00-05:00", "1000-01-01T00:00:00+01:00"])
def test_bounds_at_the_ends_of_time_are_clamped_not_errors(client: TestClient,
                                                           bound: str) -> None:
    for path in ("/signals", "/signals/summary"):
        assert client.get(path, params={"until": bound}).status_code == 200
        assert client.get(path, params={"since": bound}).status_code == 200


@pytest.mark.parametrize("bucket", ["infm", "1e305d", "nanh", "-5m", "0", "9" * 400])
def test_bad_buckets_are_422(client: TestClient, bucket: str) -> None:
    r = client.get("/signals/summary", params={"bucket": bucket})
    assert r.status_code == 422 and "bucket" in r.text


@pytest.mark.parametrize("raw", ["%ED%A0%80", "%5C%75%64%38%30%30", "%FF%FE"])
def test_undecodable_cursor_bytes_are_422(client: TestClient, raw: str) -> None:
    r = client.get(f"/signals?cursor={raw}")
    assert r.status_code == 422 and "cursor" in r.text


@pytest.mark.parametrize("cursor", [
    "[" * 3000,
    base64.urlsafe_b64encode(("[" * 3000).encode()).decode(),
    base64.urlsafe_b64encode(b'{"q":"x","k":{"t":"2026","id":"a"}}').decode(),
    base64.urlsafe_b64encode(b'{"k":{"t":"\\ud800","id":"a"},"q":""}').decode(),
    "A" * 5000,
])
def test_forged_cursors_are_422(client: TestClient, cursor: str) -> None:
    r = client.get("/signals", params={"cursor": cursor})
    assert r.status_code == 422 and "cursor" in r.text


def test_a_cursor_from_another_query_is_422(client: TestClient) -> None:
    page = client.get("/signals", params={"limit": 2}).json()
    assert page["next_cursor"]
    r = client.get("/signals", params={"limit": 2, "source": "feed-a",
                                       "cursor": page["next_cursor"]})
    assert r.status_code == 422 and "cursor" in r.text


def test_lone_surrogate_in_a_headline_is_422(client: TestClient) -> None:
    body = b'{"headline": "\\ud800 profit rose"}'
    r = client.post("/classify", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "headline"]


@pytest.mark.parametrize("headline", ["\u200b", "\u200b\u200c\ufeff", " \u2060 ", "\x00\x01"])
def test_invisible_only_headlines_are_422(client: TestClient, headline: str) -> None:
    r = client.post("/classify", json={"headline": headline})
    assert r.status_code == 422 and "headline" in r.text


def test_a_huge_body_is_413_and_not_echoed(client: TestClient) -> None:
    body = json.dumps({"headline": "x" * (2 * 1024 * 1024)})
    r = client.post("/classify", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 413 and len(r.content) < 500


def test_a_huge_chunked_body_is_413(store: SQLiteSignalStore, classifier: OnnxClassifier) -> None:
    app = create_app(Services(store, classifier=classifier), max_body_bytes=64 * 1024)
    with live_uvicorn(app) as base:
        def chunks() -> Iterator[bytes]:
            yield b'{"headline": "'
            for _ in range(100):
                yield b"y" * 4096
            yield b'"}'

        r = httpx.post(f"{base}/classify", content=chunks(),
                       headers={"content-type": "application/json"})
        assert r.status_code == 413 and len(r.content) < 500
        assert httpx.post(f"{base}/classify", json={"headline": "profit rose to a record"}
                          ).status_code == 200


def test_422_echoes_only_a_short_prefix_of_the_input(client: TestClient) -> None:
    r = client.post("/classify", json={"headline": "z" * 1001})
    assert r.status_code == 422
    assert len(r.content) < 1000 and "1001 characters" in r.text


def test_unexpected_faults_are_500_with_a_request_id_and_no_internals(
        store: SQLiteSignalStore, classifier: OnnxClassifier, monkeypatch: pytest.MonkeyPatch
        ) -> None:
    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("secret table newsig-prod-signals exploded")

    monkeypatch.setattr(store, "query", broken)
    with TestClient(create_app(Services(store, classifier=classifier)),
                    raise_server_exceptions=False) as c:
        r = c.get("/signals")
    assert r.status_code == 500
    assert "newsig-prod" not in r.text and "RuntimeError" not in r.text
    assert r.json()["detail"][0]["request_id"] == r.headers["x-request-id"]


def test_health_shows_no_absolute_path(client: TestClient, store: SQLiteSignalStore) -> None:
    body = client.get("/health").json()
    assert str(store.path.parent) not in json.dumps(body)
    assert body["store"]["file"] == "h.db"


def test_html_responses_carry_security_headers_and_no_cdn(client: TestClient) -> None:
    for path in ("/", "/docs"):
        r = client.get(path)
        assert r.status_code == 200
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert "https://" not in r.text and "http://" not in r.text
    assert client.get("/docs/assets/swagger-ui-bundle.js").status_code == 200
    assert client.get("/signals").headers["x-content-type-options"] == "nosniff"


def test_api_key_guards_the_api_when_set(store: SQLiteSignalStore,
                                         classifier: OnnxClassifier) -> None:
    app = create_app(Services(store, classifier=classifier), api_key=KEY)
    with TestClient(app) as c:
        assert c.get("/signals").status_code == 401
        assert c.get("/signals", headers={"x-api-key": "wrong" * 5}).status_code == 401
        assert c.get("/signals", headers={"x-api-key": KEY}).status_code == 200
        assert c.get("/signals", headers={"authorization": f"Bearer {KEY}"}).status_code == 200
        assert c.get("/signals", params={"api_key": KEY}).status_code == 200
        assert c.post("/classify", json={"headline": "x"}).status_code == 401
        assert c.get("/health").status_code == 200  # probes need no key
        assert c.get("/").status_code == 200  # the page holds no data; it asks for the key


def test_serving_beyond_loopback_needs_a_key_or_insecure() -> None:
    with pytest.raises(ConfigError, match="NEWSIG_API_KEY"):
        check_exposure("0.0.0.0", Settings())
    check_exposure("0.0.0.0", Settings(api_key=KEY))
    check_exposure("0.0.0.0", Settings(), insecure=True)
    check_exposure("127.0.0.1", Settings())
    check_exposure("::1", Settings())

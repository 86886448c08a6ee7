"""The /classify fast path as an ASGI layer: what it answers itself, what it hands on."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from api.fastpath import ClassifyFastPath, is_json
from api.schemas import ClassifyRequest
from core.errors import ClassifierUnavailableError, NewsSignalsError


class Inner:
    """The app behind the layer: records what reached it and the body it could read."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, bytes]] = []

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        body = b""
        if scope["type"] == "http":
            while True:
                message = await receive()
                body += message.get("body", b"")
                if not message.get("more_body", False):
                    break
        self.calls.append((scope["path"], body))
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b"inner"})


def run(layer: ClassifyFastPath, *, method: str = "POST", path: str = "/classify",
        body: bytes | list[bytes] = b"", content_type: bytes | None = b"application/json",
        disconnect: bool = False) -> list[dict]:
    chunks = body if isinstance(body, list) else [body]
    messages: list[dict] = [{"type": "http.request", "body": c,
                             "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]
    if disconnect:
        messages = [{"type": "http.disconnect"}]
    headers = [(b"content-type", content_type)] if content_type is not None else []
    scope = {"type": "http", "method": method, "path": path, "headers": headers,
             "state": {"request_id": "rid-1"}}
    sent: list[dict] = []

    async def receive() -> dict:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(layer(scope, receive, send))
    return sent


def make(handled: list[ClassifyRequest], fail: Exception | None = None
         ) -> tuple[ClassifyFastPath, Inner]:
    inner = Inner()

    async def handle(request: ClassifyRequest) -> tuple[bytes, str]:
        if fail is not None:
            raise fail
        handled.append(request)
        return json.dumps({"texts": request.texts()}).encode(), "model;dur=1.000"

    def render(exc: NewsSignalsError, rid: str) -> tuple[int, bytes]:
        return 503, json.dumps({"error": type(exc).__name__, "rid": rid}).encode()

    return ClassifyFastPath(inner, path="/classify", handle=handle, render_error=render), inner


def status_and_body(sent: list[dict]) -> tuple[int, bytes, dict[bytes, bytes]]:
    start, body = sent
    return start["status"], body["body"], dict(start["headers"])


def test_a_valid_json_body_is_answered_without_the_app() -> None:
    handled: list[ClassifyRequest] = []
    layer, inner = make(handled)
    # Split over two messages, as a client streaming its body would send it.
    sent = run(layer, body=[b'{"headline": "Shares', b' rose"}'],
               content_type=b"application/json; charset=utf-8")
    status, body, headers = status_and_body(sent)
    assert status == 200 and json.loads(body) == {"texts": ["Shares rose"]}
    assert headers[b"content-length"] == str(len(body)).encode()
    assert headers[b"content-type"] == b"application/json"
    assert headers[b"server-timing"] == b"model;dur=1.000"
    assert inner.calls == [] and len(handled) == 1


@pytest.mark.parametrize("body", [b'{"headline": ""}', b'{"headlne": "typo"}', b"{not json",
                                  b"", b'{"headline": "a", "headlines": ["b"]}'])
def test_an_invalid_body_reaches_the_app_whole(body: bytes) -> None:
    handled: list[ClassifyRequest] = []
    layer, inner = make(handled)
    sent = run(layer, body=body)
    assert status_and_body(sent)[0] == 299
    assert inner.calls == [("/classify", body)] and handled == []


@pytest.mark.parametrize(("method", "path", "content_type"), [
    ("GET", "/classify", b"application/json"),
    ("POST", "/classify/", b"application/json"),
    ("POST", "/signals", b"application/json"),
    ("POST", "/classify", b"text/plain"),
    ("POST", "/classify", b"application/vnd.api+json"),
    ("POST", "/classify", None),
])
def test_other_requests_are_not_touched(method: str, path: str,
                                        content_type: bytes | None) -> None:
    handled: list[ClassifyRequest] = []
    layer, inner = make(handled)
    body = b'{"headline": "Shares rose"}'
    sent = run(layer, method=method, path=path, body=body, content_type=content_type)
    assert status_and_body(sent)[0] == 299
    assert inner.calls == [(path, body)] and handled == []


def test_a_domain_error_is_rendered_with_the_request_id() -> None:
    layer, inner = make([], fail=ClassifierUnavailableError("throttled"))
    status, body, _ = status_and_body(run(layer, body=b'{"headline": "x"}'))
    assert status == 503
    assert json.loads(body) == {"error": "ClassifierUnavailableError", "rid": "rid-1"}
    assert inner.calls == []


def test_an_unexpected_error_propagates_to_the_app_error_handler() -> None:
    layer, _ = make([], fail=RuntimeError("bug"))
    with pytest.raises(RuntimeError, match="bug"):
        run(layer, body=b'{"headline": "x"}')


def test_a_client_gone_before_its_body_gets_no_answer() -> None:
    handled: list[ClassifyRequest] = []
    layer, inner = make(handled)
    assert run(layer, disconnect=True) == []
    assert inner.calls == [] and handled == []


def test_is_json() -> None:
    assert is_json(b"application/json") and is_json(b"Application/JSON ; charset=utf-8")
    assert not is_json(None) and not is_json(b"application/jsonx")
    assert not is_json(b"text/json")

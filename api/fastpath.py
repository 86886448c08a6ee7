"""POST /classify, the hot route, answered in plain ASGI.

A lone headline spends a few hundred microseconds in FastAPI's request machinery (route
matching over every route, the request object, JSON decoding, dependency solving, the
body model's validation through a second adapter) before the model is called. This layer
answers the common case itself: a JSON body that `ClassifyRequest` accepts. Everything else
goes to the FastAPI route untouched (a body that does not validate is replayed to it, so
every 422 is FastAPI's own, in one format), and the route stays in the OpenAPI schema.

It sits inside GuardMiddleware (body limit, API key, request id and security headers apply
as before) and inside Starlette's error middleware (an unexpected exception becomes the
app's 500). Domain errors are rendered by the same function as the app's handler.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import ValidationError

from api.middleware import ASGIApp, Message, Receive, Scope, Send
from api.schemas import ClassifyRequest
from core.errors import NewsSignalsError

#: The route's own work: parsed request -> (JSON bytes, Server-Timing value).
Handler = Callable[[ClassifyRequest], Awaitable[tuple[bytes, str]]]
#: A domain error and the request id -> (status, JSON bytes), as the app's handler answers.
ErrorRenderer = Callable[[NewsSignalsError, str], tuple[int, bytes]]


def is_json(content_type: bytes | None) -> bool:
    """`application/json`, with or without parameters (the form every client sends)."""
    if content_type is None:
        return False
    return content_type.split(b";", 1)[0].strip().lower() == b"application/json"


class ClassifyFastPath:
    def __init__(self, app: ASGIApp, *, path: str, handle: Handler,
                 render_error: ErrorRenderer) -> None:
        self.app = app
        self.path = path
        self.handle = handle
        self.render_error = render_error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != self.path
                or not is_json(_header(scope, b"content-type"))):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        try:
            request = ClassifyRequest.model_validate_json(body)
        except ValidationError:
            await self.app(scope, _replay(body, receive), send)
            return
        try:
            payload, timing = await self.handle(request)
        except NewsSignalsError as exc:
            rid = str(scope.get("state", {}).get("request_id", ""))
            status, error = self.render_error(exc, rid)
            await _respond(send, status, error, [])
            return
        await _respond(send, 200, payload, [(b"server-timing", timing.encode())])


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return bytes(value)
    return None


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()
    return replay


async def _respond(send: Send, status: int, body: bytes,
                   extra: list[tuple[bytes, bytes]]) -> None:
    headers: list[Any] = [(b"content-length", str(len(body)).encode()),
                          (b"content-type", b"application/json"), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})

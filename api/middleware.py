"""ASGI middleware that guards every request: a body size limit, an optional API key, a
request id, security headers. Plain ASGI (no BaseHTTPMiddleware), so streaming responses
(SSE) pass through untouched and the hot path pays one function call per layer."""

from __future__ import annotations

import hmac
import json
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from core.names import PUBLIC_PATHS, PUBLIC_PREFIXES

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")
SECURITY_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"no-referrer")]


async def _json(send: Send, status: int, detail: str, request_id: str,
                extra: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps({"detail": [{"type": "request", "msg": detail,
                                   "request_id": request_id}]}).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"x-request-id", request_id.encode()), *SECURITY_HEADERS, *(extra or [])]})
    await send({"type": "http.response.body", "body": body})


class GuardMiddleware:
    """One pass over the request before the app sees it.

    - Every response carries `X-Request-ID` (the client's, if it sent a short one) and
      nosniff / frame / referrer headers; HTML responses also a strict CSP.
    - A body over `max_body_bytes` is answered 413 without being read further or echoed
      (declared by Content-Length, or counted while a chunked body streams in).
    - With `api_key` set, every non-public path needs it, as `X-API-Key` or
      `Authorization: Bearer`, or `?api_key=` (for EventSource, which sends no headers).
    """

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, api_key: str | None) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.api_key = api_key.encode() if api_key else None

    def _authorised(self, scope: Scope, headers: dict[bytes, bytes]) -> bool:
        if self.api_key is None:
            return True
        path = scope.get("path", "")
        if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
            return True
        given = headers.get(b"x-api-key")
        auth = headers.get(b"authorization", b"")
        if given is None and auth[:7].lower() == b"bearer ":
            given = auth[7:].strip()
        if given is None:
            from urllib.parse import parse_qs

            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            given = query.get("api_key", [""])[-1].encode("latin-1", "replace") or None
        return given is not None and hmac.compare_digest(given, self.api_key)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        client_id = headers.get(b"x-request-id", b"")
        request_id = (client_id.decode("ascii", "replace") if 0 < len(client_id) <= 64
                      and client_id.isascii() else uuid.uuid4().hex)
        scope.setdefault("state", {})["request_id"] = request_id

        if not self._authorised(scope, headers):
            await _json(send, 401, "missing or wrong API key (X-API-Key header)", request_id,
                        [(b"www-authenticate", b"Bearer")])
            return
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit()
                                     or int(declared) > self.max_body_bytes):
            await _json(send, 413, f"request body over {self.max_body_bytes} bytes",
                        request_id)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = [(b"x-request-id", request_id.encode()), *SECURITY_HEADERS]
                ctype = dict(message.get("headers", [])).get(b"content-type", b"")
                if ctype.startswith(b"text/html"):
                    extra.append((b"content-security-policy", CSP.encode()))
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        if declared is None and b"chunked" in headers.get(b"transfer-encoding", b""):
            # A body of unknown size: read it here, bounded, then hand it over whole.
            chunks: list[bytes] = []
            total = 0
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                chunk = message.get("body", b"")
                total += len(chunk)
                if total > self.max_body_bytes:
                    await _json(send, 413, f"request body over {self.max_body_bytes} bytes",
                                request_id)
                    return
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
            replayed = False

            async def replay() -> Message:
                nonlocal replayed
                if not replayed:
                    replayed = True
                    return {"type": "http.request", "body": b"".join(chunks),
                            "more_body": False}
                return await receive()

            await self.app(scope, replay, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)

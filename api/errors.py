"""Domain errors -> HTTP: the one place that maps core.errors to statuses and bodies (the
app's exception handlers and the /classify fast path both render through it)."""

from __future__ import annotations

import json
import logging
from typing import Any

from core.errors import (
    ClassifierError,
    ClassifierUnavailableError,
    ConfigError,
    InvalidInputError,
    NewsSignalsError,
    StoreError,
    StoreUnavailableError,
)

_STATUS: list[tuple[type[Exception], int]] = [
    (InvalidInputError, 422),
    (ClassifierUnavailableError, 503),
    (StoreUnavailableError, 503),
    (ConfigError, 503),
    (ClassifierError, 502),
    (StoreError, 500),
]


def status_for(exc: Exception) -> int:
    for kind, code in _STATUS:
        if isinstance(exc, kind):
            return code
    return 500


#: What a client is told of a server-side failure: never the backend's own message (table
#: names, paths, endpoint names); that goes to the log under the request id.
_PUBLIC_5XX: list[tuple[type[Exception], str]] = [
    (ClassifierUnavailableError, "the classifier is unavailable or busy; try again shortly"),
    (StoreUnavailableError, "the signal store is unavailable or busy; try again shortly"),
    (ConfigError, "the service is not fully configured (see its health and logs)"),
    (ClassifierError, "the classifier failed on this request"),
    (StoreError, "the signal store failed on this request"),
]
log = logging.getLogger("newsig.api")


def render_domain_error(exc: NewsSignalsError, request_id: str) -> tuple[int, bytes]:
    """Status and JSON body of a domain error's answer (server-side ones logged here)."""
    status = status_for(exc)
    if status >= 500:
        log.error("request %s: %s: %s", request_id, type(exc).__name__, exc)
    return status, json.dumps(error_body(exc, request_id)).encode()


def error_body(exc: NewsSignalsError, request_id: str = "") -> dict[str, Any]:
    status = status_for(exc)
    if status >= 500:
        msg = next((m for kind, m in _PUBLIC_5XX if isinstance(exc, kind)), "internal error")
        return {"detail": [{"type": type(exc).__name__, "msg": msg,
                            "request_id": request_id}]}
    detail: dict[str, Any] = {"type": type(exc).__name__, "msg": _clip(str(exc), 300)}
    field = getattr(exc, "field", None)
    if field:
        detail["loc"] = ["query", field]
    return {"detail": [detail]}


def _clip(value: object, limit: int = 80) -> str:
    """A short, always-encodable echo of client input (lone surrogates replaced)."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)[:limit * 2]
    text = text.encode("utf-8", "replace").decode("utf-8")
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


def validation_body(errors: list[dict[str, Any]]) -> dict[str, Any]:
    """FastAPI's 422 detail, with each echoed input cut to a short prefix."""
    out = []
    for e in errors[:20]:
        item: dict[str, Any] = {"type": e.get("type"), "loc": [str(p) for p in e.get("loc", [])],
                                "msg": _clip(e.get("msg", ""), 300)}
        if "input" in e:
            item["input"] = _clip(e["input"])
        out.append(item)
    return {"detail": out}

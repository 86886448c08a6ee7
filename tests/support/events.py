"""Lambda events from the fixtures in tests/events/, adapted per call."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

EVENTS = Path(__file__).resolve().parent.parent / "events"


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / f"{name}.json").read_text())


def scheduled_event() -> dict[str, Any]:
    return load_event("scheduled")


def api_event(method: str, path: str, query: dict[str, str] | None = None,
              body: object | None = None) -> dict[str, Any]:
    """The API Gateway REST proxy event of tests/events, for this method, path and input."""
    event = copy.deepcopy(load_event("apigw_rest_proxy"))
    event.update(resource=path, path=path, httpMethod=method,
                 queryStringParameters=query,
                 multiValueQueryStringParameters={k: [v] for k, v in (query or {}).items()}
                 or None,
                 body=json.dumps(body) if body is not None else None)
    event["requestContext"].update(resourcePath=path, httpMethod=method,
                                   path=f"/{event['requestContext']['stage']}{path}")
    return event

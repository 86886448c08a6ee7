"""WebSocket API handlers (API Gateway, AWS): live signals pushed to subscribed clients.

- `authorize`: the $connect route's Lambda authorizer. Clients present the token kept in
  Secrets Manager (NEWSIG_WS_TOKEN_SECRET) as `?token=` (browsers cannot set headers on a
  WebSocket) or `Authorization: Bearer`; compared in constant time.
- `handler`: $connect registers the connection (TTL 2 h, API Gateway's limit); $disconnect
  removes it and its subscriptions; `{"action": "subscribe", "tickers": [...], "sources":
  [...]}` replaces its subscriptions (none: every signal). Pushing happens in the stream
  consumer (ingest/stream_handler.py) for each new signal; a gone connection (410) is removed.
"""

from __future__ import annotations

import hmac
import json
from functools import lru_cache
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from core.adapters.ws_registry import ConnectionRegistry, subscription_keys
from core.errors import ConfigError
from core.names import MAX_TICKERS_PER_SIGNAL
from core.wiring import get_settings, secrets_client, ws_registry

Ticker = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9.\-]{1,12}$")]
Source = Annotated[str, StringConstraints(min_length=1, max_length=128)]


class Subscribe(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: str = Field(pattern="^subscribe$")
    tickers: list[Ticker] = Field(default_factory=list, max_length=MAX_TICKERS_PER_SIGNAL)
    sources: list[Source] = Field(default_factory=list, max_length=10)


def registry() -> ConnectionRegistry:
    reg: ConnectionRegistry = ws_registry()
    return reg


@lru_cache(maxsize=1)
def _token() -> str:
    settings = get_settings()
    if not settings.ws_token_secret:
        raise ConfigError("NEWSIG_WS_TOKEN_SECRET must name the WebSocket token secret")
    return str(secrets_client(settings.aws_region).get_secret_value(
        SecretId=settings.ws_token_secret)["SecretString"])


def _policy(effect: str, resource: str) -> dict[str, Any]:
    return {"principalId": "newsig-ws", "policyDocument": {
        "Version": "2012-10-17",
        "Statement": [{"Action": "execute-api:Invoke", "Effect": effect,
                       "Resource": resource}]}}


def authorize(event: dict[str, Any], context: Any) -> dict[str, Any]:
    given = (event.get("queryStringParameters") or {}).get("token") or ""
    auth = {k.lower(): v for k, v in (event.get("headers") or {}).items()}.get(
        "authorization", "")
    if not given and auth.lower().startswith("bearer "):
        given = auth[7:]
    ok = bool(given) and hmac.compare_digest(given.encode(), _token().encode())
    return _policy("Allow" if ok else "Deny", event["methodArn"])


def _reply(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "body": json.dumps(body)}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    ctx = event["requestContext"]
    route, cid = ctx["routeKey"], ctx["connectionId"]
    if route == "$connect":
        registry().connect(cid)
        return _reply(200, {"connected": True})
    if route == "$disconnect":
        registry().disconnect(cid)
        return _reply(200, {"disconnected": True})
    try:
        msg = Subscribe.model_validate_json(event.get("body") or "")
    except ValidationError as exc:
        return _reply(400, {"error": "expected {\"action\": \"subscribe\", \"tickers\": "
                                     "[...], \"sources\": [...]}",
                            "detail": [{"loc": list(e["loc"]), "msg": e["msg"]}
                                       for e in exc.errors()]})
    keys = subscription_keys(msg.tickers, msg.sources)
    registry().subscribe(cid, keys)
    return _reply(200, {"subscribed": keys})

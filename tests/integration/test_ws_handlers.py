"""The WebSocket API's handlers under moto: the $connect authorizer against a Secrets Manager
token; connect, subscribe and disconnect in the DynamoDB table; the stream consumer pushing
each new signal to the right connections only (moto's API Gateway management API records
what each connection was sent); a gone connection (410) removed; expired ones skipped."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

import core.wiring as wiring
from api import ws
from core.adapters.dynamodb_store import DynamoDBSignalStore
from core.adapters.ws_registry import CONNECTION_TTL_S, ConnectionRegistry
from ingest import stream_handler
from tests.support.builders import make_signal
from tests.support.dynamodb import create_table

REGION = "us-east-1"
ENDPOINT = "https://abc123.execute-api.us-east-1.amazonaws.com/prod"


def clear() -> None:
    for fn in (wiring.get_settings, wiring.ws_registry, wiring.ws_management_client,
               wiring.secrets_client, wiring.events_client, wiring.dynamodb_client,
               ws._token, stream_handler.publisher):
        fn.cache_clear()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        create_table(ddb, "signals")
        secret = boto3.client("secretsmanager", region_name=REGION).create_secret(
            Name="ws-token", SecretString="s3cret-token-value")["ARN"]
        boto3.client("events", region_name=REGION).create_event_bus(Name="news-signals")
        for k, v in {"NEWSIG_STORE_URL": f"dynamodb://signals?region={REGION}&workers=1",
                     "NEWSIG_AWS_REGION": REGION, "NEWSIG_WS_TOKEN_SECRET": secret,
                     "NEWSIG_WS_ENDPOINT": ENDPOINT, "NEWSIG_EVENT_BUS": "news-signals"
                     }.items():
            monkeypatch.setenv(k, v)
        clear()
        yield {"ddb": ddb}
        clear()


def ws_event(route: str, cid: str, body: Any = None) -> dict[str, Any]:
    return {"requestContext": {"routeKey": route, "connectionId": cid, "stage": "prod",
                               "domainName": "abc123.execute-api.us-east-1.amazonaws.com"},
            "body": json.dumps(body) if body is not None else None}


def sent_to(cid: str) -> list[dict[str, Any]]:
    from moto.apigatewaymanagementapi.models import apigatewaymanagementapi_backends
    from moto.core import DEFAULT_ACCOUNT_ID

    raw = apigatewaymanagementapi_backends[DEFAULT_ACCOUNT_ID][REGION].connections[cid].data
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    decoder, out, i = json.JSONDecoder(), [], 0
    while i < len(text):
        obj, i = decoder.raw_decode(text, i)
        out.append(obj)
    return out


def consume(signals: list[Any]) -> dict[str, Any]:
    records = []
    store = DynamoDBSignalStore("unused", client=None)
    for s in signals:
        for item in store._signal_items(s):
            records.append({"eventName": "INSERT", "dynamodb": {
                "NewImage": item, "SequenceNumber": str(len(records) + 1)}})
    return stream_handler.handler({"Records": records}, None)


def test_the_authorizer_allows_the_token_and_denies_anything_else(aws: dict[str, Any]) -> None:
    arn = "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/$connect"

    def effect(event: dict[str, Any]) -> str:
        out = ws.authorize({"methodArn": arn, **event}, None)
        (st,) = out["policyDocument"]["Statement"]
        assert st["Resource"] == arn
        return str(st["Effect"])

    assert effect({"queryStringParameters": {"token": "s3cret-token-value"}}) == "Allow"
    assert effect({"headers": {"Authorization": "Bearer s3cret-token-value"}}) == "Allow"
    assert effect({"queryStringParameters": {"token": "s3cret-token-valuX"}}) == "Deny"
    assert effect({"queryStringParameters": {"token": ""}}) == "Deny"
    assert effect({}) == "Deny"


def test_subscriptions_decide_who_gets_each_signal(aws: dict[str, Any]) -> None:
    for cid in ("aapl", "msft-or-feedb", "everything", "idle"):
        assert ws.handler(ws_event("$connect", cid), None)["statusCode"] == 200
    assert ws.handler(ws_event("subscribe", "aapl",
                               {"action": "subscribe", "tickers": ["aapl"]}), None)[
        "statusCode"] == 200
    ws.handler(ws_event("subscribe", "msft-or-feedb", {"action": "subscribe",
                                                       "tickers": ["MSFT"],
                                                       "sources": ["feed-b"]}), None)
    ws.handler(ws_event("subscribe", "everything", {"action": "subscribe"}), None)
    ws.handler(ws_event("subscribe", "idle", {"action": "subscribe", "tickers": ["ZZZ"]}),
               None)
    s1 = make_signal(1, tickers=["AAPL"])
    s2 = make_signal(2, tickers=["MSFT", "AAPL"])
    s3 = make_signal(3, source="feed-b")
    assert consume([s1, s2, s3]) == {"batchItemFailures": []}
    ids = {cid: [m["signal_id"] for m in sent_to(cid)] for cid in
           ("aapl", "msft-or-feedb", "everything", "idle")}
    assert ids == {"aapl": [s1.signal_id, s2.signal_id],
                   "msft-or-feedb": [s2.signal_id, s3.signal_id],
                   "everything": [s1.signal_id, s2.signal_id, s3.signal_id],
                   "idle": []}
    # Re-subscribing replaces: aapl now wants feed-b only.
    ws.handler(ws_event("subscribe", "aapl", {"action": "subscribe", "sources": ["feed-b"]}),
               None)
    consume([make_signal(4, tickers=["AAPL"]), make_signal(5, source="feed-b")])
    assert [m["title"] for m in sent_to("aapl")][2:] == ["Headline number 5"]


def test_bad_subscribe_messages_are_400(aws: dict[str, Any]) -> None:
    ws.handler(ws_event("$connect", "c1"), None)
    for body in ({"action": "subscribe", "tickers": ["not a ticker!"]},
                 {"action": "subscribe", "tickers": ["A"] * 21}, {"action": "other"},
                 {"action": "subscribe", "extra": 1}):
        out = ws.handler(ws_event("subscribe", "c1", body), None)
        assert out["statusCode"] == 400 and "subscribe" in out["body"]
    out = ws.handler({**ws_event("subscribe", "c1"), "body": "{not json"}, None)
    assert out["statusCode"] == 400


class GoneFor:
    def __init__(self, inner: Any, gone: set[str]) -> None:
        self.inner, self.gone = inner, gone

    def post_to_connection(self, **kwargs: Any) -> Any:
        if kwargs["ConnectionId"] in self.gone:
            raise ClientError({"Error": {"Code": "GoneException", "Message": "gone"},
                               "ResponseMetadata": {"HTTPStatusCode": 410}},
                              "PostToConnection")
        return self.inner.post_to_connection(**kwargs)


def test_gone_connections_are_removed_and_expired_ones_skipped(
        aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    for cid in ("alive", "gone", "old"):
        ws.handler(ws_event("$connect", cid), None)
        ws.handler(ws_event("subscribe", cid, {"action": "subscribe"}), None)
    reg: ConnectionRegistry = wiring.ws_registry()
    # "old" subscribed longer ago than a connection can live: TTL may not have run yet.
    real_now = reg.now
    reg.now = lambda: real_now() - CONNECTION_TTL_S - 10
    ws.handler(ws_event("subscribe", "old", {"action": "subscribe"}), None)
    reg.now = real_now
    inner = wiring.ws_management_client(ENDPOINT, REGION)
    monkeypatch.setattr(stream_handler, "ws_management_client",
                        lambda *a, **k: GoneFor(inner, {"gone"}))
    consume([make_signal(1)])
    assert [m["title"] for m in sent_to("alive")] == ["Headline number 1"]
    assert sent_to("old") == []
    assert reg.targets(make_signal(2)) == {"alive"}  # "gone" was removed
    items = aws["ddb"].scan(TableName="signals")["Items"]
    assert not [i for i in items if "gone" in (i["pk"]["S"], i["sk"]["S"])]
    ws.handler(ws_event("$disconnect", "alive"), None)
    assert reg.targets(make_signal(3)) == set()

"""WebSocket connections and their subscriptions, kept in the signals table.

Items (all with the table's TTL attribute, so DynamoDB removes them after a connection's
lifetime; reads also skip expired ones, as TTL deletion can lag):
- `CONN#<id>` / `CONN`: the connection and the subscription keys it holds;
- `SUB#T:<TICKER>`, `SUB#S:<source>` or `SUB#*` / `<id>`: one per subscription, so the
  connections a signal goes to are a few key queries, never a scan."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from core.models import Signal
from core.names import KEY_CONNECTION, KEY_SUBSCRIPTION, SORT_CONNECTION
from core.names import TABLE_PARTITION_KEY as PK
from core.names import TABLE_SORT_KEY as SK
from core.names import TABLE_TTL_ATTRIBUTE as TTL

#: API Gateway ends a WebSocket connection after 2 hours at most.
CONNECTION_TTL_S = 2 * 3600
ALL = f"{KEY_SUBSCRIPTION}*"
_BY_TICKER = f"{KEY_SUBSCRIPTION}T:"
_BY_SOURCE = f"{KEY_SUBSCRIPTION}S:"


def _s(v: str) -> dict[str, str]:
    return {"S": v}


def subscription_keys(tickers: Iterable[str], sources: Iterable[str]) -> list[str]:
    keys = [f"{_BY_TICKER}{t.upper()}" for t in tickers] + [f"{_BY_SOURCE}{s}" for s in sources]
    return sorted(set(keys)) or [ALL]


def signal_keys(signal: Signal) -> list[str]:
    return [ALL, f"{_BY_SOURCE}{signal.source_id}", *(f"{_BY_TICKER}{t}" for t in signal.tickers)]


class ConnectionRegistry:
    def __init__(self, table: str, *, client: Any, now: Any = time.time) -> None:
        self.table, self.client, self.now = table, client, now

    def connect(self, connection_id: str) -> None:
        self.client.put_item(TableName=self.table, Item={
            PK: _s(f"{KEY_CONNECTION}{connection_id}"), SK: _s(SORT_CONNECTION), "subs": {"L": []},
            TTL: {"N": str(int(self.now()) + CONNECTION_TTL_S)}})

    def _subs(self, connection_id: str) -> list[str]:
        item = self.client.get_item(TableName=self.table, Key={
            PK: _s(f"{KEY_CONNECTION}{connection_id}"), SK: _s(SORT_CONNECTION)}).get("Item")
        return [v["S"] for v in item.get("subs", {}).get("L", [])] if item else []

    def subscribe(self, connection_id: str, keys: list[str]) -> None:
        """Replaces the connection's subscriptions with `keys`."""
        old = self._subs(connection_id)
        expires = {"N": str(int(self.now()) + CONNECTION_TTL_S)}
        for key in set(old) - set(keys):
            self.client.delete_item(TableName=self.table,
                                    Key={PK: _s(key), SK: _s(connection_id)})
        for key in keys:
            self.client.put_item(TableName=self.table, Item={
                PK: _s(key), SK: _s(connection_id), TTL: expires})
        self.client.put_item(TableName=self.table, Item={
            PK: _s(f"{KEY_CONNECTION}{connection_id}"), SK: _s(SORT_CONNECTION),
            "subs": {"L": [_s(k) for k in keys]}, TTL: expires})

    def disconnect(self, connection_id: str) -> None:
        for key in self._subs(connection_id):
            self.client.delete_item(TableName=self.table,
                                    Key={PK: _s(key), SK: _s(connection_id)})
        self.client.delete_item(TableName=self.table, Key={
            PK: _s(f"{KEY_CONNECTION}{connection_id}"), SK: _s(SORT_CONNECTION)})

    def targets(self, signal: Signal) -> set[str]:
        """Connections subscribed to this signal (its tickers, its source, or everything)."""
        now = int(self.now())
        out: set[str] = set()
        for key in signal_keys(signal):
            kwargs: dict[str, Any] = {
                "TableName": self.table, "KeyConditionExpression": "#pk = :pk",
                "ExpressionAttributeNames": {"#pk": PK}, "ExpressionAttributeValues": {
                    ":pk": _s(key)}}
            while True:
                resp = self.client.query(**kwargs)
                for item in resp.get("Items", []):
                    if int(item.get(TTL, {}).get("N", "0")) > now:
                        out.add(item[SK]["S"])
                if "LastEvaluatedKey" not in resp:
                    break
                kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
        return out

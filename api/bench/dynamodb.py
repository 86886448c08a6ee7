"""The signals table in moto (tests and benchmarks): the layout core/adapters/dynamodb_store.py
expects and infra/constructs/table.py deploys, from the same names (core.names)."""

from __future__ import annotations

from typing import Any

from core.names import (
    GSI_BY_SOURCE,
    GSI_BY_SOURCE_PK,
    GSI_BY_SOURCE_SK,
    GSI_BY_TIME,
    GSI_BY_TIME_PK,
    GSI_BY_TIME_SK,
    TABLE_PARTITION_KEY,
    TABLE_SORT_KEY,
)

PK, SK = TABLE_PARTITION_KEY, TABLE_SORT_KEY


def create_table(client: Any, table: str) -> None:
    """Create the table in moto. In AWS the CDK app creates it (infra/)."""
    key = {"AttributeType": "S"}
    client.create_table(
        TableName=table, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": n, **key} for n in (
            PK, SK, GSI_BY_SOURCE_PK, GSI_BY_SOURCE_SK, GSI_BY_TIME_PK, GSI_BY_TIME_SK)],
        KeySchema=[{"AttributeName": PK, "KeyType": "HASH"},
                   {"AttributeName": SK, "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {"IndexName": GSI_BY_SOURCE, "Projection": {"ProjectionType": "ALL"},
             "KeySchema": [{"AttributeName": GSI_BY_SOURCE_PK, "KeyType": "HASH"},
                           {"AttributeName": GSI_BY_SOURCE_SK, "KeyType": "RANGE"}]},
            {"IndexName": GSI_BY_TIME, "Projection": {"ProjectionType": "ALL"},
             "KeySchema": [{"AttributeName": GSI_BY_TIME_PK, "KeyType": "HASH"},
                           {"AttributeName": GSI_BY_TIME_SK, "KeyType": "RANGE"}]},
        ])
    client.get_waiter("table_exists").wait(TableName=table)

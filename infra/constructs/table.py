"""The signals table: on-demand, point-in-time recovery, encrypted, TTL, the store's GSIs,
deletion protection (on unless the stack's context turns it off)."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as ddb
from constructs import Construct

from core.names import (
    GSI_BY_SOURCE,
    GSI_BY_SOURCE_PK,
    GSI_BY_SOURCE_SK,
    GSI_BY_TIME,
    GSI_BY_TIME_PK,
    GSI_BY_TIME_SK,
    TABLE_PARTITION_KEY,
    TABLE_SORT_KEY,
    TABLE_TTL_ATTRIBUTE,
)

S = ddb.AttributeType.STRING


class SignalsTable(Construct):
    def __init__(self, scope: Construct, cid: str, *, retain: bool = True,
                 deletion_protection: bool = True) -> None:
        super().__init__(scope, cid)
        self.table = ddb.TableV2(
            self, "Table",
            partition_key=ddb.Attribute(name=TABLE_PARTITION_KEY, type=S),
            sort_key=ddb.Attribute(name=TABLE_SORT_KEY, type=S),
            billing=ddb.Billing.on_demand(),
            point_in_time_recovery_specification=ddb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True),
            encryption=ddb.TableEncryptionV2.aws_managed_key(),
            time_to_live_attribute=TABLE_TTL_ATTRIBUTE,
            removal_policy=RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY,
            deletion_protection=deletion_protection,
            # New images feed the stream consumer (one `Signal Created` event per signal).
            dynamo_stream=ddb.StreamViewType.NEW_IMAGE,
            global_secondary_indexes=[
                ddb.GlobalSecondaryIndexPropsV2(
                    index_name=GSI_BY_SOURCE,
                    partition_key=ddb.Attribute(name=GSI_BY_SOURCE_PK, type=S),
                    sort_key=ddb.Attribute(name=GSI_BY_SOURCE_SK, type=S)),
                ddb.GlobalSecondaryIndexPropsV2(
                    index_name=GSI_BY_TIME,
                    partition_key=ddb.Attribute(name=GSI_BY_TIME_PK, type=S),
                    sort_key=ddb.Attribute(name=GSI_BY_TIME_SK, type=S)),
            ])

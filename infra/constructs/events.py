"""Events: DynamoDB Streams (new images) -> the stream consumer -> the `news-signals` bus, one
`Signal Created` event per signal, and `Sentiment Shift` events from the shift monitor.

Only inserted signal items reach the function (an event-source filter built from the same
names the store writes; the handler checks again). Partial batch failures, bisect on error,
3 retries, then the batch's stream coordinates go to the EventFailures queue."""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from core.names import (
    EVENT_BUS_NAME,
    EVENT_SIGNAL_CREATED,
    EVENT_SOURCE,
    KEY_ALERT,
    KEY_TICKER,
    SERVICE_EVENTS,
    SORT_SIGNAL,
    TABLE_SORT_KEY,
)
from infra.bundling import HANDLERS
from infra.constructs.functions import function, grant_items, pin


class SignalEvents(Construct):
    def __init__(self, scope: Construct, cid: str, *, code: lambda_.Code,
                 env: dict[str, str], table: ddb.ITableV2) -> None:
        super().__init__(scope, cid)
        self.bus = events.EventBus(self, "Bus", event_bus_name=EVENT_BUS_NAME,
                                   description="News Signals: one Signal Created per signal")
        pin(self.bus, "BusEA82B648")  # a named bus cannot be replaced in place
        self.failures = sqs.Queue(
            self, "EventFailures", retention_period=Duration.days(14),
            encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True)
        pin(self.failures, "EventFailures7E223DE4")
        self.fn = function(
            self, "Events", code, HANDLERS["events"],
            {**env, "NEWSIG_EVENT_BUS": self.bus.event_bus_name},
            memory=256, timeout=Duration.seconds(60), service=SERVICE_EVENTS,
            # One batch per shard at a time (parallelization 1); an on-demand table has a
            # handful of shards.
            reserved_concurrent_executions=5)
        self.fn.add_event_source(event_sources.DynamoEventSource(
            table, starting_position=lambda_.StartingPosition.LATEST, batch_size=100,
            max_batching_window=Duration.seconds(1), bisect_batch_on_error=True,
            retry_attempts=3, max_record_age=Duration.hours(6),
            report_batch_item_failures=True, parallelization_factor=1,
            on_failure=event_sources.SqsDlq(self.failures),
            filters=[lambda_.FilterCriteria.filter({
                "eventName": lambda_.FilterRule.is_equal("INSERT"),
                "dynamodb": {"NewImage": {TABLE_SORT_KEY: {
                    "S": lambda_.FilterRule.is_equal(SORT_SIGNAL)}}}})]))
        self.bus.grant_put_events_to(self.fn)
        # Sentiment shifts: a ticker's history (its ticker copies), and one alert item per
        # ticker and direction as the cooldown.
        grant_items(self.fn, table.table_arn, ["dynamodb:Query"], KEY_TICKER)
        grant_items(self.fn, table.table_arn, ["dynamodb:PutItem"], KEY_ALERT)
        CfnOutput(scope, "EventBusName", value=self.bus.event_bus_name,
                  description=f"Rules on this bus match source {EVENT_SOURCE!r}, detail-type "
                              f"{EVENT_SIGNAL_CREATED!r}; detail is the signal's JSON")

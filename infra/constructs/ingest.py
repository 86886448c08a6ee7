"""Ingestion: the ingest function on an EventBridge schedule, one run at a time, and the
IngestFailures queue where failed runs and undeliverable schedule events are kept."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from core.names import SERVICE_INGEST
from infra.bundling import HANDLERS
from infra.constructs.functions import function, pin


class Ingestion(Construct):
    def __init__(self, scope: Construct, cid: str, *, code: lambda_.Code,
                 env: dict[str, str], table: ddb.ITableV2, rate_minutes: int,
                 in_lambda: bool, table_actions: tuple[str, ...]) -> None:
        super().__init__(scope, cid)
        # One run at a time (reserved concurrency 1): a run may take up to the schedule's
        # interval, and overlapping runs would fetch and classify the same items twice.
        self.failures = sqs.Queue(self, "IngestFailures", retention_period=Duration.days(14),
                                  encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True)
        pin(self.failures, "IngestFailuresA08611A6")
        self.fn = function(
            self, "Ingest", code, HANDLERS["ingest"], env, memory=2048 if in_lambda else 1024,
            timeout=Duration.minutes(min(rate_minutes, 15)),
            service=SERVICE_INGEST, reserved_concurrent_executions=1, retry_attempts=2,
            max_event_age=Duration.minutes(max(2 * rate_minutes, 5)),
            on_failure=destinations.SqsDestination(self.failures))
        grant_table(self.fn, table, table_actions)
        # EventBridge invokes the function asynchronously: events it cannot deliver go to
        # the failures queue; Lambda retries failed runs twice, then sends them there.
        self.schedule = events.Rule(
            self, "IngestSchedule", description="Poll the news feeds",
            schedule=events.Schedule.rate(Duration.minutes(rate_minutes)),
            targets=[targets.LambdaFunction(
                self.fn, dead_letter_queue=self.failures, retry_attempts=2,
                max_event_age=Duration.minutes(max(rate_minutes, 5)))])


def grant_table(fn: lambda_.Function, table: ddb.ITableV2, actions: tuple[str, ...]) -> None:
    """Exactly the calls the store makes: on the table and its indexes (queries use the
    by_source and by_time GSIs); no Scan, DeleteItem or stream actions."""
    from aws_cdk import aws_iam as iam

    fn.add_to_role_policy(iam.PolicyStatement(
        actions=list(actions), resources=[table.table_arn, f"{table.table_arn}/index/*"]))

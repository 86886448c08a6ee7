"""Rescoring at AWS scale: `newsig rescore --fanout QUEUE_URL` splits the history into time
windows (core.versions.plan_jobs) and sends one SQS message per window; the Rescore function
(ingest/rescore_handler.py, the model bundled in it) scores each window, and SQS's event
source mapping runs as many at once as `concurrency` allows (the table's write rate is the
limit to respect, not Lambda's). Windows not finished in one invocation come back after the
visibility timeout and continue where they stopped; five failed receives go to the
dead-letter queue. Cost per million signals: docs/aws.md, "Rescoring"."""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from core.names import SERVICE_RESCORE
from infra.bundling import HANDLERS
from infra.constructs.functions import function
from infra.constructs.ingest import grant_table

#: The worker's timeout; the queue hides a message six times as long (AWS's guidance for an
#: SQS event source), so a running shard is never handed to a second worker.
WORKER_TIMEOUT = Duration.minutes(15)
RESCORE_TABLE_ACTIONS = ("dynamodb:Query", "dynamodb:GetItem", "dynamodb:BatchGetItem",
                         "dynamodb:BatchWriteItem", "dynamodb:UpdateItem",
                         "dynamodb:DescribeTable")


class RescoreFanout(Construct):
    def __init__(self, scope: Construct, cid: str, *, code: lambda_.Code,
                 env: dict[str, str], table: ddb.ITableV2, concurrency: int) -> None:
        super().__init__(scope, cid)
        self.dead_letters = sqs.Queue(self, "RescoreDeadLetters",
                                      retention_period=Duration.days(14),
                                      encryption=sqs.QueueEncryption.SQS_MANAGED,
                                      enforce_ssl=True)
        self.queue = sqs.Queue(
            self, "RescoreJobs", visibility_timeout=Duration.minutes(90),
            retention_period=Duration.days(4), encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=5, queue=self.dead_letters))
        self.fn = function(self, "Rescore", code, HANDLERS["rescore"], env, memory=2048,
                           timeout=WORKER_TIMEOUT, service=SERVICE_RESCORE,
                           reserved_concurrent_executions=concurrency)
        grant_table(self.fn, table, RESCORE_TABLE_ACTIONS)
        self.fn.add_event_source(sources.SqsEventSource(
            self.queue, batch_size=1, report_batch_item_failures=True,
            max_concurrency=max(2, concurrency)))
        CfnOutput(self, "RescoreQueueUrl", value=self.queue.queue_url,
                  description="newsig rescore --fanout THIS_URL")

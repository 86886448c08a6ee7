"""Alarms: one SNS topic (`-c alarm_email=...` subscribes an address) and the alarms README
lists under "Alarms", each publishing to it."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from core.names import (
    METRIC_FEED_FAILURES,
    METRIC_INGEST_SUCCEEDED,
    METRIC_NAMESPACE,
    SERVICE_INGEST,
)
from infra.constructs.endpoint import ClassifierEndpoint
from infra.constructs.functions import pin


class Alarms(Construct):
    def __init__(self, scope: Construct, cid: str, *, rate_minutes: int,
                 ingest_fn: lambda_.Function, ingest_failures: sqs.IQueue,
                 api_fn: lambda_.Function, api: apigw.RestApi, table: ddb.ITableV2,
                 events_fn: lambda_.Function, event_failures: sqs.IQueue,
                 rescore_dead_letters: sqs.IQueue,
                 endpoint: ClassifierEndpoint | None, latency_alarm_ms: float,
                 model_setup_alarm_s: float, email: str | None) -> None:
        super().__init__(scope, cid)
        self.topic = sns.Topic(self, "AlarmTopic", display_name="News Signals alarms",
                               enforce_ssl=True)
        pin(self.topic, "AlarmTopicD01E77F9")  # its confirmed email subscriptions
        if email:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
        interval = Duration.minutes(rate_minutes)
        five = Duration.minutes(5)

        def emf(name: str) -> cw.Metric:
            return cw.Metric(namespace=METRIC_NAMESPACE, metric_name=name, statistic="Sum",
                             period=interval, dimensions_map={"service": SERVICE_INGEST})

        def table_metric(name: str) -> cw.Metric:
            return cw.Metric(namespace="AWS/DynamoDB", metric_name=name, statistic="Sum",
                             period=five, dimensions_map={"TableName": table.table_name})

        alarm = self._alarm
        self.alarms = {
            "IngestFailuresQueued": alarm(
                "IngestFailuresQueued",
                ingest_failures.metric_approximate_number_of_messages_visible(period=five),
                "A failed ingest run (after Lambda's retries) or an undeliverable schedule "
                "event is waiting in the IngestFailures queue"),
            "IngestErrors": alarm(
                "IngestErrors", ingest_fn.metric_errors(period=interval),
                "An ingest invocation failed (items left pending or an unhandled error)"),
            "IngestStopped": alarm(
                "IngestStopped",
                cw.Metric(namespace=METRIC_NAMESPACE, metric_name=METRIC_INGEST_SUCCEEDED,
                          statistic="Sum", period=Duration.minutes(3 * rate_minutes),
                          dimensions_map={"service": SERVICE_INGEST}),
                f"No successful ingest pass in 3 intervals ({3 * rate_minutes} minutes); no "
                "data counts as breaching", threshold=1,
                comparison=cw.ComparisonOperator.LESS_THAN_THRESHOLD,
                missing=cw.TreatMissingData.BREACHING),
            "FeedsFailing": alarm(
                "FeedsFailing", emf(METRIC_FEED_FAILURES),
                "Some feed failed in 3 consecutive ingest passes", periods=3),
            "IngestThrottles": alarm(
                "IngestThrottles", ingest_fn.metric_throttles(period=interval),
                "An ingest run was throttled: the previous run was still going (reserved "
                "concurrency 1), so runs take longer than the interval"),
            "ApiErrors": alarm(
                "ApiErrors", api_fn.metric_errors(period=five),
                "API Lambda errors (5 or more in 5 minutes)", threshold=5),
            "ApiThrottles": alarm(
                "ApiThrottles", api_fn.metric_throttles(period=five),
                "API Lambda invocations throttled (account concurrency exhausted)"),
            "Api5xx": alarm(
                "Api5xx", api.metric_server_error(period=five),
                "API Gateway 5xx responses (5 or more in 5 minutes)", threshold=5),
            "TableThrottles": alarm(
                "TableThrottles", cw.MathExpression(
                    expression="r + w", period=five, label="Throttle events",
                    using_metrics={"r": table_metric("ReadThrottleEvents"),
                                   "w": table_metric("WriteThrottleEvents")}),
                "DynamoDB throttled reads or writes on the signals table"),
            "EventsIteratorAge": alarm(
                "EventsIteratorAge", events_fn.metric(
                    "IteratorAge", statistic="Maximum", period=five),
                "Signal Created events lag the table by over a minute (stream consumer behind "
                "or failing)", threshold=60_000,
                comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD),
            "EventFailuresQueued": alarm(
                "EventFailuresQueued",
                event_failures.metric_approximate_number_of_messages_visible(period=five),
                "A stream batch could not be published after its retries (EventFailures "
                "queue)"),
            "RescoreJobsFailed": alarm(
                "RescoreJobsFailed",
                rescore_dead_letters.metric_approximate_number_of_messages_visible(period=five),
                "A rescore window failed five times (RescoreDeadLetters queue): see the "
                "Rescore function's log, fix, and send the window again"),
        }
        if endpoint:
            def endpoint_metric(name: str, stat: str) -> cw.Metric:
                return cw.Metric(namespace="AWS/SageMaker", metric_name=name, statistic=stat,
                                 period=five, dimensions_map={
                                     "EndpointName": endpoint.endpoint_name,
                                     "VariantName": endpoint.variant_name})

            self.alarms["EndpointLatency"] = alarm(
                "EndpointLatency", endpoint_metric("ModelLatency", "p90"),
                f"Endpoint p90 model latency over {latency_alarm_ms} ms for 15 minutes",
                threshold=latency_alarm_ms * 1000, periods=3,
                comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD)
            self.alarms["Endpoint5xx"] = alarm(
                "Endpoint5xx", endpoint_metric("Invocation5XXErrors", "Sum"),
                "The endpoint answered an invocation with a 5xx (model or container error)")
            if endpoint.serverless:
                self.alarms["EndpointModelSetup"] = alarm(
                    "EndpointModelSetup", endpoint_metric("ModelSetupTime", "Maximum"),
                    f"A serverless cold start took over {model_setup_alarm_s:g} s to set the "
                    "model up", threshold=model_setup_alarm_s * 1_000_000,
                    comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD)
        action = cw_actions.SnsAction(self.topic)
        for each in self.alarms.values():
            each.add_alarm_action(action)

    def _alarm(self, cid: str, metric: cw.Metric | cw.MathExpression, description: str, *,
               threshold: float = 1,
               periods: int = 1, missing: cw.TreatMissingData = cw.TreatMissingData.NOT_BREACHING,
               comparison: cw.ComparisonOperator =
               cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD) -> cw.Alarm:
        return metric.create_alarm(self, cid, threshold=threshold, evaluation_periods=periods,
                                   datapoints_to_alarm=periods, comparison_operator=comparison,
                                   treat_missing_data=missing, alarm_description=description)

"""CloudWatch dashboard for the AWS deployment. Metric names come from core.names."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from core.names import (
    LABELS,
    METRIC_CLASSIFY_LATENCY,
    METRIC_DIMENSION_LABEL,
    METRIC_DUPLICATES,
    METRIC_FEED_FAILURES,
    METRIC_HEADLINES_SEEN,
    METRIC_NAMESPACE,
    METRIC_SIGNALS_PER_LABEL,
    METRIC_SIGNALS_WRITTEN,
    SERVICE_API,
    SERVICE_INGEST,
)

FIVE_MIN = Duration.minutes(5)


def emf(name: str, service: str, stat: str = "Sum", **dims: str) -> cw.Metric:
    return cw.Metric(namespace=METRIC_NAMESPACE, metric_name=name, statistic=stat,
                     period=FIVE_MIN, dimensions_map={"service": service, **dims})


def endpoint_metric(endpoint_name: str, name: str, stat: str,
                    namespace: str = "AWS/SageMaker") -> cw.Metric:
    return cw.Metric(namespace=namespace, metric_name=name, statistic=stat, period=FIVE_MIN,
                     dimensions_map={"EndpointName": endpoint_name, "VariantName": "AllTraffic"})


class NewsSignalsDashboard(Construct):
    def __init__(self, scope: Construct, cid: str, *, api_fn: lambda_.IFunction,
                 ingest_fn: lambda_.IFunction, api: apigw.RestApi,
                 endpoint_name: str | None) -> None:
        super().__init__(scope, cid)
        self.dashboard = cw.Dashboard(self, "Dashboard", default_interval=Duration.hours(24))
        widgets: list[cw.IWidget] = []
        if endpoint_name:
            widgets += [
                cw.GraphWidget(title="Endpoint invocations and errors", left=[
                    endpoint_metric(endpoint_name, "Invocations", "Sum"),
                    endpoint_metric(endpoint_name, "Invocation4XXErrors", "Sum"),
                    endpoint_metric(endpoint_name, "Invocation5XXErrors", "Sum"),
                    endpoint_metric(endpoint_name, "ModelSetupTime", "Average")]),
                cw.GraphWidget(title="Model latency (microseconds)", left=[
                    endpoint_metric(endpoint_name, "ModelLatency", s)
                    for s in ("p50", "p90", "p99")]),
            ]
        for fn, title in ((api_fn, "API Lambda"), (ingest_fn, "Ingest Lambda")):
            widgets.append(cw.GraphWidget(
                title=f"{title}: duration, errors, throttles",
                left=[fn.metric_duration(statistic=s, period=FIVE_MIN) for s in ("p50", "p99")],
                right=[fn.metric_errors(period=FIVE_MIN), fn.metric_throttles(period=FIVE_MIN)]))
        widgets += [
            cw.GraphWidget(title="API Gateway requests", left=[
                api.metric_count(period=FIVE_MIN), api.metric_client_error(period=FIVE_MIN),
                api.metric_server_error(period=FIVE_MIN)],
                right=[api.metric_latency(statistic=s, period=FIVE_MIN) for s in ("p50", "p99")]),
            cw.GraphWidget(title="Ingestion", left=[
                emf(METRIC_HEADLINES_SEEN, SERVICE_INGEST),
                emf(METRIC_SIGNALS_WRITTEN, SERVICE_INGEST),
                emf(METRIC_DUPLICATES, SERVICE_INGEST),
                emf(METRIC_FEED_FAILURES, SERVICE_INGEST)]),
            cw.GraphWidget(title="Signals per label", stacked=True, left=[
                emf(METRIC_SIGNALS_PER_LABEL, SERVICE_INGEST, **{METRIC_DIMENSION_LABEL: label})
                for label in LABELS]),
            cw.GraphWidget(title="Classify latency (ms)", left=[
                emf(METRIC_CLASSIFY_LATENCY, svc, stat=s)
                for svc in (SERVICE_API, SERVICE_INGEST) for s in ("p50", "p99")]),
        ]
        for i in range(0, len(widgets), 2):
            self.dashboard.add_widgets(*widgets[i:i + 2])

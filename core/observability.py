"""Structured logs and CloudWatch EMF metrics for the Lambda handlers (Powertools).

Metric names come from core.names, so the CloudWatch dashboard in dashboards/ reads the same
names the handlers write. Powertools is imported only when a handler runs (the `aws` extra)."""

from __future__ import annotations

from typing import Any

from core.names import (
    LABELS,
    METRIC_CLASSIFY_LATENCY,
    METRIC_DIMENSION_FEED,
    METRIC_DIMENSION_LABEL,
    METRIC_DUPLICATES,
    METRIC_FEED_FAILURES,
    METRIC_HEADLINES_SEEN,
    METRIC_INGEST_SUCCEEDED,
    METRIC_NAMESPACE,
    METRIC_SIGNALS_PER_LABEL,
    METRIC_SIGNALS_WRITTEN,
)


def emit_ingest_metrics(summary: Any, *, service: str = "newsig-ingest") -> None:
    """One EMF document per metric family: totals, per-feed headlines, per-label signals."""
    from aws_lambda_powertools import single_metric
    from aws_lambda_powertools.metrics import MetricUnit

    def one(name: str, value: float, unit: Any, dims: dict[str, str] | None = None) -> None:
        with single_metric(name=name, unit=unit, value=value, namespace=METRIC_NAMESPACE,
                           default_dimensions={"service": service}) as metric:
            for k, v in (dims or {}).items():
                metric.add_dimension(name=k, value=v)

    one(METRIC_INGEST_SUCCEEDED, 1 if summary.succeeded else 0, MetricUnit.Count)
    one(METRIC_SIGNALS_WRITTEN, summary.signals_written, MetricUnit.Count)
    one(METRIC_DUPLICATES, summary.duplicates, MetricUnit.Count)
    one(METRIC_FEED_FAILURES, len(summary.feeds_failed), MetricUnit.Count)
    one(METRIC_HEADLINES_SEEN, summary.entries_seen, MetricUnit.Count)
    for feed in summary.feeds:
        one(METRIC_HEADLINES_SEEN, feed.entries_seen, MetricUnit.Count,
            {METRIC_DIMENSION_FEED: feed.id})
    for label in LABELS:
        one(METRIC_SIGNALS_PER_LABEL, summary.labels.get(label, 0), MetricUnit.Count,
            {METRIC_DIMENSION_LABEL: label})
    if summary.signals_written:
        one(METRIC_CLASSIFY_LATENCY, summary.classify_s * 1000 / summary.signals_written,
            MetricUnit.Milliseconds)


def emit_classify_latency(ms: float, n: int, *, service: str = "newsig-api") -> None:
    from aws_lambda_powertools import single_metric
    from aws_lambda_powertools.metrics import MetricUnit

    with single_metric(name=METRIC_CLASSIFY_LATENCY, unit=MetricUnit.Milliseconds, value=ms,
                       namespace=METRIC_NAMESPACE,
                       default_dimensions={"service": service}) as metric:
        metric.add_metadata(key="headlines", value=n)

"""Ingest Lambda: one ingestion pass per scheduled EventBridge event.

Safe under at-least-once delivery: a repeated or concurrent event finds every signal already
stored (conditional writes) and writes nothing twice. If the classifier or the store left items
pending, the invocation fails so Lambda's retries (then the dead-letter queue and its alarm)
see it; the items themselves are picked up by the next pass either way."""

from __future__ import annotations

from typing import Any

from core.errors import NewsSignalsError
from core.names import SERVICE_INGEST
from core.observability import emit_ingest_metrics
from core.wiring import cached_service, get_settings
from ingest.feeds import load_feeds
from ingest.pipeline import Ingestor

try:  # Powertools is in the Lambda bundle (`aws` extra); keep the module importable without.
    from aws_lambda_powertools import Logger

    logger: Any = Logger(service=SERVICE_INGEST)
except ImportError:  # pragma: no cover
    import logging

    logger = logging.getLogger("newsig.ingest")


class IngestIncompleteError(NewsSignalsError):
    """Items were left pending; raised so the invocation counts as failed."""


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = get_settings()
    service = cached_service()
    feeds = load_feeds(settings.feeds_file)
    run_timeout = settings.ingest_run_timeout
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if callable(remaining):  # leave time to write state and flush metrics
        run_timeout = max(5.0, min(run_timeout, remaining() / 1000 - 15))
    ingestor = Ingestor.from_settings(settings, service, run_timeout=run_timeout)
    summary = ingestor.run_once(feeds)
    result = summary.model_dump(mode="json", exclude={"feeds"})
    logger.info("ingestion pass", extra={"summary": result, "event_id": event.get("id"),
                                          "event_time": event.get("time")})
    emit_ingest_metrics(summary)
    if summary.pending:
        raise IngestIncompleteError(f"{summary.pending} items left pending: "
                                    f"{'; '.join(summary.errors)}")
    return result

"""Rescore worker Lambda: one SQS message is one shard of a rescore (core.versions.RescoreJob,
a time window), scored with the model bundled into this function.

Safe under at-least-once delivery and timeouts: the store is the checkpoint (only what the
version has not scored is scored), so a message delivered twice, or retried after the
function ran out of time, finishes the window with nothing doubled. A shard not finished
before the deadline is reported as a batch item failure and comes back after the queue's
visibility timeout; after five receives it goes to the dead-letter queue (alarmed)."""

from __future__ import annotations

import time
from typing import Any

from core.names import SERVICE_RESCORE
from core.ports import VersionedStore
from core.versions import RescoreJob, rescore
from core.wiring import cached_service, retry_policy

try:
    from aws_lambda_powertools import Logger

    logger: Any = Logger(service=SERVICE_RESCORE)
except ImportError:  # pragma: no cover
    import logging

    logger = logging.getLogger("newsig.rescore")

#: Seconds kept back from the Lambda timeout to report and return.
MARGIN_S = 30.0


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from core.wiring import get_settings

    service = cached_service()
    store = service.store
    assert isinstance(store, VersionedStore), "the rescore worker needs a versioned store"
    classifier = service.classifier
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    started = time.monotonic()

    def deadline() -> bool:
        if callable(remaining):
            return remaining() / 1000 < MARGIN_S
        return time.monotonic() - started > 840

    failures = []
    for record in event.get("Records", []):
        job = RescoreJob.model_validate_json(record["body"])
        if job.model_version != classifier.model_version:
            logger.error("rescore job for another model version", extra={
                "job": job.model_version, "deployed": classifier.model_version})
            failures.append({"itemIdentifier": record["messageId"]})
            continue
        result = rescore(store, classifier, since=job.since, until=job.until,
                         source=job.source, ticker=job.ticker, progress=False,
                         retry=retry_policy(get_settings()), deadline=deadline)
        logger.info("rescore shard", extra={"job": job.model_dump(mode="json"),
                                            "result": result.model_dump()})
        if not result.complete:
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}

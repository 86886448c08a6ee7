"""Stream consumer Lambda: DynamoDB Streams (new images of the signals table) -> one
`Signal Created` event per signal on the News Signals EventBridge bus.

Only signal items count (pk SIG#..., sk SIG, inserted): ticker copies, link and story markers
and feed state are the table's own bookkeeping. The response reports partial batch failures:
the first record not published and every later one, so Lambda retries from there (bisecting
on errors) and, after its retries, sends the batch to the on-failure queue. A record whose
signal cannot be read is reported the same way: it ends on that queue instead of blocking
the shard."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pydantic import ValidationError

from core.adapters.eventbridge import EventBridgePublisher
from core.errors import ConfigError
from core.models import Signal
from core.names import SERVICE_EVENTS, TABLE_PARTITION_KEY, TABLE_SORT_KEY
from core.wiring import events_client, get_settings

try:
    from aws_lambda_powertools import Logger

    logger: Any = Logger(service=SERVICE_EVENTS)
except ImportError:  # pragma: no cover
    import logging

    logger = logging.getLogger("newsig.events")


@lru_cache(maxsize=1)
def publisher() -> EventBridgePublisher:
    settings = get_settings()
    if not settings.event_bus:
        raise ConfigError("NEWSIG_EVENT_BUS must name the EventBridge bus")
    return EventBridgePublisher(settings.event_bus, client=events_client(
        settings.aws_region, max_attempts=settings.aws_max_attempts))


def is_signal_insert(record: dict[str, Any]) -> bool:
    image = record.get("dynamodb", {}).get("NewImage") or {}
    return (record.get("eventName") == "INSERT"
            and image.get(TABLE_PARTITION_KEY, {}).get("S", "").startswith("SIG#")
            and image.get(TABLE_SORT_KEY, {}).get("S") == "SIG")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    records = [r for r in event.get("Records", []) if is_signal_insert(r)]
    signals: list[Signal] = []
    failed_from: int | None = None
    for i, record in enumerate(records):
        try:
            signals.append(Signal.model_validate_json(
                record["dynamodb"]["NewImage"]["doc"]["S"]))
        except (KeyError, ValidationError) as exc:
            logger.error("unreadable signal record", extra={
                "sequence_number": record["dynamodb"].get("SequenceNumber"), "error": str(exc)})
            failed_from = i
            break
    first_unsent = publisher().publish(signals)
    if first_unsent is not None:
        failed_from = first_unsent if failed_from is None else min(failed_from, first_unsent)
    published = len(signals) if failed_from is None else min(failed_from, len(signals))
    logger.info("signals published", extra={"records": len(event.get("Records", [])),
                                            "signals": len(records), "published": published})
    failures = records[failed_from:] if failed_from is not None else []
    return {"batchItemFailures": [{"itemIdentifier": r["dynamodb"]["SequenceNumber"]}
                                  for r in failures]}

"""Stream consumer Lambda: DynamoDB Streams (new images of the signals table) -> one
`Signal Created` event per signal on the News Signals EventBridge bus.

Only signal items count (pk SIG#..., sk SIG, inserted; core.names): ticker copies, link and
story markers and feed state are the table's own bookkeeping. The response reports partial
batch failures: the first record not published and every later one, so Lambda retries from
there (bisecting on errors) and, after its retries, sends the batch to the on-failure
queue. A record whose signal cannot be read is reported the same way: it ends on that queue
instead of blocking the shard."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any

from pydantic import ValidationError

from core.adapters.eventbridge import EventBridgePublisher
from core.alerts import Alert
from core.errors import ConfigError
from core.models import Signal
from core.names import (
    KEY_SIGNAL,
    SERVICE_EVENTS,
    SORT_SIGNAL,
    TABLE_PARTITION_KEY,
    TABLE_SORT_KEY,
)
from core.wiring import (
    build_store,
    events_client,
    get_settings,
    ws_management_client,
    ws_registry,
)

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


def push(signals: list[Signal]) -> dict[str, int]:
    """Each new signal to the WebSocket connections subscribed to it; a gone connection
    (410) is removed. Live pushes are best effort: a failure never fails the batch (the
    events went out; clients that miss one can read GET /signals)."""
    from botocore.exceptions import BotoCoreError, ClientError

    settings = get_settings()
    sent = gone = failed = 0
    if not settings.ws_endpoint or not signals:
        return {"sent": 0, "gone": 0, "failed": 0}
    client = ws_management_client(settings.ws_endpoint, settings.aws_region)
    reg = ws_registry()
    for signal in signals:
        data = signal.model_dump_json().encode()
        for cid in sorted(reg.targets(signal)):
            try:
                client.post_to_connection(ConnectionId=cid, Data=data)
                sent += 1
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "GoneException" or \
                        exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 410:
                    reg.disconnect(cid)
                    gone += 1
                else:
                    failed += 1
                    logger.warning("push failed", extra={"connection": cid, "error": str(exc)})
            except BotoCoreError as exc:
                failed += 1
                logger.warning("push failed", extra={"connection": cid, "error": str(exc)})
    return {"sent": sent, "gone": gone, "failed": failed}


def shifts(signals: list[Signal], now: datetime | None = None) -> list[Alert]:
    """Sentiment shifts for the tickers of these new signals (core.alerts.ShiftMonitor, the
    same engine as the local service), each published as a `Sentiment Shift` event. The
    cooldown lives in the table (DynamoDBCooldown), so concurrent consumers alert once."""
    from core.adapters.dynamodb_store import DynamoDBCooldown, DynamoDBSignalStore
    from core.alerts import ShiftConfig, ShiftMonitor
    from core.models import utcnow

    tickers = {t for s in signals for t in s.tickers}
    if not tickers:
        return []
    settings = get_settings()
    store = build_store(settings.store_url, settings)
    if not isinstance(store, DynamoDBSignalStore):
        return []
    engine = ShiftMonitor(store, ShiftConfig(), DynamoDBCooldown(store), page=1000)
    return [a for a in engine.check(tickers, now or utcnow()) if publisher().publish_alert(a)]


def is_signal_insert(record: dict[str, Any]) -> bool:
    image = record.get("dynamodb", {}).get("NewImage") or {}
    return (record.get("eventName") == "INSERT"
            and image.get(TABLE_PARTITION_KEY, {}).get("S", "").startswith(KEY_SIGNAL)
            and image.get(TABLE_SORT_KEY, {}).get("S") == SORT_SIGNAL)


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
    pushed = push(signals[:published])
    try:
        alerted = [a.ticker for a in shifts(signals[:published])]
    except Exception as exc:
        logger.warning("shift check failed", extra={"error": str(exc)})
        alerted = []
    logger.info("signals published", extra={"records": len(event.get("Records", [])),
                                            "signals": len(records), "published": published,
                                            "pushed": pushed, "alerts": alerted})
    failures = records[failed_from:] if failed_from is not None else []
    return {"batchItemFailures": [{"itemIdentifier": r["dynamodb"]["SequenceNumber"]}
                                  for r in failures]}

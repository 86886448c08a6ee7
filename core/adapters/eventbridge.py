"""Publishes signals to an EventBridge bus: one `Signal Created` event per signal, whose
detail is the signal's public JSON (the same document GET /signals returns)."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from core.alerts import Alert
from core.models import Role, Signal
from core.names import EVENT_SENTIMENT_SHIFT, EVENT_SIGNAL_CREATED, EVENT_SOURCE

log = logging.getLogger("newsig.events")

#: PutEvents takes at most 10 entries per call.
BATCH = 10


class EventBridgePublisher:
    def __init__(self, bus: str, *, client: Any) -> None:
        self.bus = bus
        self.client = client

    def entry(self, signal: Signal) -> dict[str, Any]:
        return {"Source": EVENT_SOURCE, "DetailType": EVENT_SIGNAL_CREATED,
                "Detail": event_detail(signal), "EventBusName": self.bus,
                "Time": signal.first_seen_at}

    def publish(self, signals: Sequence[Signal]) -> int | None:
        """Publishes in order, 10 per call; returns the index of the first signal that did not
        go out (it and every later one are for the caller to retry), or None when all did.
        A failure stops the batch there, so a retry re-sends as little as possible."""
        from botocore.exceptions import BotoCoreError, ClientError

        for start in range(0, len(signals), BATCH):
            chunk = signals[start:start + BATCH]
            try:
                resp = self.client.put_events(Entries=[self.entry(s) for s in chunk])
            except (ClientError, BotoCoreError) as exc:
                log.warning("EventBridge bus %s refused a batch: %s", self.bus, exc)
                return start
            for i, result in enumerate(resp.get("Entries", [])):
                if result.get("ErrorCode"):
                    log.warning("EventBridge bus %s refused %s: %s %s", self.bus,
                                chunk[i].signal_id, result.get("ErrorCode"),
                                result.get("ErrorMessage"))
                    return start + i
        return None

    def publish_alert(self, alert: Alert) -> bool:
        """One `Sentiment Shift` event (detail: the alert's JSON); True if EventBridge took it."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            resp = self.client.put_events(Entries=[{
                "Source": EVENT_SOURCE, "DetailType": EVENT_SENTIMENT_SHIFT,
                "Detail": alert.model_dump_json(), "EventBusName": self.bus,
                "Time": alert.detected_at}])
        except (ClientError, BotoCoreError) as exc:
            log.warning("EventBridge bus %s refused an alert: %s", self.bus, exc)
            return False
        return not resp.get("FailedEntryCount")


def event_detail(signal: Signal) -> str:
    """The signal's JSON plus `subjects`: the tickers it is about. EventBridge matches each
    field of an array of objects on its own (a rule on `entities.ticker` and `entities.role`
    would match AAPL as rater beside another company as subject), so a rule for "news about
    AAPL" matches `{"detail": {"subjects": ["AAPL"]}}`."""
    doc = json.loads(signal.model_dump_json())
    doc["subjects"] = [e.ticker for e in signal.entities if e.role == Role.subject]
    return json.dumps(doc)

"""The stream consumer under moto: the store writes signals to a moto table; every item it
writes becomes the INSERT record DynamoDB Streams would carry (new image = the item written:
moto's own dynamodbstreams answers "Not yet implemented" to this botocore); the handler
publishes to a moto EventBridge bus whose rules route to SQS queues, as a consumer's rule
would. Exactly one `Signal Created` per signal; ticker copies and markers publish nothing; a
failed publish reports the records from there on."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

import core.wiring as wiring
from core.adapters.dynamodb_store import DynamoDBSignalStore
from core.names import EVENT_SIGNAL_CREATED, EVENT_SOURCE
from ingest import stream_handler
from tests.support.builders import make_signal
from tests.support.dynamodb import create_table

REGION = "us-east-1"


class StreamRecorder:
    """The DynamoDB client the store writes through; each item it puts becomes a NEW_IMAGE
    INSERT record, in write order, as DynamoDB Streams would deliver it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.records: list[dict[str, Any]] = []

    def _record(self, item: dict[str, Any]) -> None:
        n = len(self.records) + 1
        self.records.append({
            "eventID": f"e{n}", "eventName": "INSERT", "eventSource": "aws:dynamodb",
            "awsRegion": REGION,
            "dynamodb": {"Keys": {k: item[k] for k in ("pk", "sk")}, "NewImage": item,
                         "SequenceNumber": f"{n:021d}", "StreamViewType": "NEW_IMAGE"}})

    def transact_write_items(self, **kwargs: Any) -> Any:
        out = self.inner.transact_write_items(**kwargs)
        for op in kwargs["TransactItems"]:
            if "Put" in op:
                self._record(op["Put"]["Item"])
        return out

    def put_item(self, **kwargs: Any) -> Any:
        out = self.inner.put_item(**kwargs)
        self._record(kwargs["Item"])
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def stream_records(aws: dict[str, Any]) -> list[dict[str, Any]]:
    return list(aws["recorder"].records)


def drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    out = []
    while True:
        msgs = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not msgs:
            return out
        for m in msgs:
            out.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name=REGION)
        create_table(ddb, "signals")
        recorder = StreamRecorder(ddb)
        events = boto3.client("events", region_name=REGION)
        events.create_event_bus(Name="news-signals")
        sqs = boto3.client("sqs", region_name=REGION)
        queues = {}
        for name, pattern in (
                ("shifts", {"source": [EVENT_SOURCE], "detail-type": ["Sentiment Shift"]}),
                ("all", {"source": [EVENT_SOURCE], "detail-type": [EVENT_SIGNAL_CREATED]}),
                ("aapl", {"source": [EVENT_SOURCE], "detail-type": [EVENT_SIGNAL_CREATED],
                          "detail": {"tickers": ["AAPL"]}})):
            url = sqs.create_queue(QueueName=name)["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
                "Attributes"]["QueueArn"]
            events.put_rule(Name=name, EventBusName="news-signals",
                            EventPattern=json.dumps(pattern))
            events.put_targets(Rule=name, EventBusName="news-signals",
                               Targets=[{"Id": name, "Arn": arn}])
            queues[name] = url
        monkeypatch.setenv("NEWSIG_EVENT_BUS", "news-signals")
        monkeypatch.setenv("NEWSIG_STORE_URL", f"dynamodb://signals?region={REGION}")
        monkeypatch.setenv("NEWSIG_AWS_REGION", REGION)
        wiring.get_settings.cache_clear()
        wiring.events_client.cache_clear()
        stream_handler.publisher.cache_clear()
        yield {"recorder": recorder, "sqs": sqs, "queues": queues,
               "store": DynamoDBSignalStore("signals", client=recorder, workers=1)}
        stream_handler.publisher.cache_clear()
        wiring.get_settings.cache_clear()


def test_one_event_per_signal_and_none_for_copies_or_markers(aws: dict[str, Any]) -> None:
    signals = [make_signal(1, tickers=["AAPL", "MSFT"]), make_signal(2, tickers=["MSFT"]),
               make_signal(3)]
    aws["store"].put_many(signals)
    records = stream_records(aws)
    # The table's own items: 3 signals, 3 ticker copies, link and story markers...
    assert len(records) > len(signals)
    result = stream_handler.handler({"Records": records}, None)
    assert result == {"batchItemFailures": []}
    everything = drain(aws["sqs"], aws["queues"]["all"])
    assert sorted(e["detail"]["signal_id"] for e in everything) == sorted(
        s.signal_id for s in signals)
    assert {e["detail-type"] for e in everything} == {"Signal Created"}
    assert {e["source"] for e in everything} == {"news-signals"}
    first = next(e["detail"] for e in everything if e["detail"]["signal_id"] ==
                 signals[0].signal_id)
    # The public JSON, whole, plus the subjects a rule can match on.
    assert first == {**json.loads(signals[0].model_dump_json()), "subjects": []}
    (aapl,) = drain(aws["sqs"], aws["queues"]["aapl"])
    assert aapl["detail"]["signal_id"] == signals[0].signal_id


class FailingAfter:
    """An EventBridge client whose calls fail after the first `ok` ones."""

    def __init__(self, inner: Any, ok: int) -> None:
        self.inner, self.ok = inner, ok

    def put_events(self, **kwargs: Any) -> Any:
        from botocore.exceptions import ClientError

        if self.ok <= 0:
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow"}},
                              "PutEvents")
        self.ok -= 1
        return self.inner.put_events(**kwargs)


def test_a_failed_publish_reports_that_record_and_every_later_one(aws: dict[str, Any]) -> None:
    signals = [make_signal(i) for i in range(25)]
    aws["store"].put_many(signals)
    records = [r for r in stream_records(aws)
               if stream_handler.is_signal_insert(r)]
    assert len(records) == 25
    pub = stream_handler.publisher()
    pub.client = FailingAfter(pub.client, ok=1)  # the first 10 go out, then a throttle
    result = stream_handler.handler({"Records": records}, None)
    failed = [f["itemIdentifier"] for f in result["batchItemFailures"]]
    assert failed == [r["dynamodb"]["SequenceNumber"] for r in records[10:]]
    assert len(drain(aws["sqs"], aws["queues"]["all"])) == 10


def test_an_unreadable_signal_record_is_reported_not_skipped(aws: dict[str, Any]) -> None:
    aws["store"].put_many([make_signal(1), make_signal(2)])
    records = [r for r in stream_records(aws)
               if stream_handler.is_signal_insert(r)]
    records[1]["dynamodb"]["NewImage"]["doc"]["S"] = "{not json"
    result = stream_handler.handler({"Records": records}, None)
    assert [f["itemIdentifier"] for f in result["batchItemFailures"]] == [
        records[1]["dynamodb"]["SequenceNumber"]]
    assert len(drain(aws["sqs"], aws["queues"]["all"])) == 1


def test_a_sentiment_shift_is_one_event_per_cooldown(aws: dict[str, Any]) -> None:
    import random
    from datetime import timedelta

    from core.models import utcnow

    now = utcnow()
    rng = random.Random(3)

    def scored(i: int, score: float, minutes_ago: float) -> Any:
        p_pos = max(0.0, score) + (1 - abs(score)) / 3
        p_neg = max(0.0, -score) + (1 - abs(score)) / 3
        return make_signal(i, tickers=["ACME"], seen=now - timedelta(minutes=minutes_ago),
                           probs=(p_neg, 1 - p_pos - p_neg, p_pos))

    aws["store"].put_many([scored(i, rng.gauss(0.1, 0.2), rng.uniform(70, 60 * 24))
                           for i in range(48)])
    mark = len(aws["recorder"].records)
    aws["store"].put_many([scored(100 + i, rng.gauss(-0.6, 0.15), rng.uniform(1, 50))
                           for i in range(10)])
    recent = [r for r in stream_records(aws)[mark:] if stream_handler.is_signal_insert(r)]
    assert len(recent) == 10
    assert stream_handler.handler({"Records": recent}, None) == {"batchItemFailures": []}
    (shift,) = drain(aws["sqs"], aws["queues"]["shifts"])
    assert shift["detail-type"] == "Sentiment Shift"
    assert shift["detail"]["ticker"] == "ACME" and shift["detail"]["direction"] == "down"
    assert shift["detail"]["index"]["recent_count"] == 10
    # Redelivered or next batch within the cooldown: no second alert.
    stream_handler.handler({"Records": recent}, None)
    assert drain(aws["sqs"], aws["queues"]["shifts"]) == []


def test_a_rule_on_a_subject_ticker_matches_subjects_never_raters() -> None:
    """The README's rule example, evaluated by EventBridge's own pattern matcher (moto):
    "news about TSLA" matches where TSLA is a subject, not where it only rates others."""
    import boto3
    from moto import mock_aws

    from core.adapters.eventbridge import event_detail
    from tests.support.builders import make_entity_signal

    subject = make_entity_signal(1, [("DB", "rater", (0.1, 0.8, 0.1)),
                                     ("TSLA", "subject", (0.8, 0.1, 0.1))])
    rater_only = make_entity_signal(2, [("TSLA", "rater", (0.1, 0.8, 0.1)),
                                        ("F", "subject", (0.8, 0.1, 0.1))])
    pattern = json.dumps({"source": ["news-signals"], "detail-type": ["Signal Created"],
                          "detail": {"subjects": ["TSLA"]}})
    with mock_aws():
        events = boto3.client("events", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        queue = sqs.create_queue(QueueName="tsla-news")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        events.create_event_bus(Name="news-signals")
        events.put_rule(Name="tsla", EventBusName="news-signals", EventPattern=pattern)
        events.put_targets(Rule="tsla", EventBusName="news-signals",
                           Targets=[{"Id": "q", "Arn": arn}])
        for signal in (subject, rater_only):
            events.put_events(Entries=[{"Source": "news-signals",
                                        "DetailType": "Signal Created",
                                        "Detail": event_detail(signal),
                                        "EventBusName": "news-signals"}])
        got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        delivered = [json.loads(m["Body"])["detail"]["signal_id"] for m in got]
        assert delivered == [subject.signal_id]
    assert json.loads(event_detail(subject))["entities"][1]["role"] == "subject"

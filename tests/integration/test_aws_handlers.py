"""Lambda handlers end to end: ingest handler (scheduled event) -> local feed server ->
SageMaker runtime answered by the real inference.py on a tiny model -> moto DynamoDB;
then the API handler (API Gateway events through Mangum) reads the signals back."""

from __future__ import annotations

import importlib.util
import io
import json
import tarfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.response import StreamingBody
from moto import mock_aws

import api.lambda_handler as api_lambda
import core.wiring as wiring
from ingest import lambda_handler as ingest_lambda
from model.export import export_sagemaker
from tests.support.dynamodb import create_table
from tests.support.events import api_event, scheduled_event
from tests.support.feed_server import FeedServer, Route, rss

SCHEDULED_EVENT = scheduled_event()


class Context:
    function_name = "newsig-ingest"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:newsig-ingest"
    aws_request_id = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def clear_caches() -> None:
    for fn in (wiring.get_settings, wiring.cached_service,
               wiring.dynamodb_client, wiring.sagemaker_runtime_client, api_lambda._mangum):
        fn.cache_clear()


class FakeEndpoint:
    """Answers InvokeEndpoint with inference.py's model_fn/input_fn/predict_fn/output_fn."""

    def __init__(self, model_dir: Path, tmp: Path) -> None:
        artifact = export_sagemaker(model_dir, tmp)
        with tarfile.open(artifact) as tar:
            tar.extractall(tmp / "model", filter="data")
        spec = importlib.util.spec_from_file_location("sm_inf", tmp / "model/code/inference.py")
        assert spec and spec.loader
        self.inference = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(self.inference)
        self.model = self.inference.model_fn(str(tmp / "model"))
        self.calls: list[list[str]] = []
        self.fail_with: str | None = None

    def __call__(self, params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        if self.fail_with:
            status = 429 if self.fail_with == "ThrottlingException" else 500
            return (AWSResponse("https://runtime.sagemaker", status, {}, None),
                    {"Error": {"Code": self.fail_with, "Message": "injected"},
                     "ResponseMetadata": {"HTTPStatusCode": status}})
        texts = self.inference.input_fn(params["body"], "application/json")
        self.calls.append(texts)
        raw = self.inference.output_fn(self.inference.predict_fn(texts, self.model),
                                       "application/json").encode()
        return (AWSResponse("https://runtime.sagemaker", 200, {}, None),
                {"Body": StreamingBody(io.BytesIO(raw), len(raw)),
                 "ContentType": "application/json",
                 "ResponseMetadata": {"HTTPStatusCode": 200}})


@pytest.fixture
def aws_env(tiny_model_dir: Path, tmp_path: Path, feed_server: FeedServer,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    feed_server.routes["/markets.xml"] = Route(rss([
        {"title": "Apple profit rose to a record", "guid": "m1", "link": "https://n.example/1"},
        {"title": "Tesla profit fell to a loss", "guid": "m2", "link": "https://n.example/2"},
        {"title": "Board meets Monday", "guid": "m3", "link": "https://n.example/3"},
    ]), conditional=True)
    feeds = tmp_path / "feeds.toml"
    feeds.write_text(f'[[feeds]]\nid = "markets"\nurl = "{feed_server.url("/markets.xml")}"\n'
                     f'[[feeds]]\nid = "gone"\nurl = "{feed_server.url("/gone.xml")}"\n')
    endpoint = FakeEndpoint(tiny_model_dir, tmp_path / "sm")
    with mock_aws():
        create_table(boto3.client("dynamodb", region_name="us-east-1"), "newsig-signals")
        # workers=1: moto's in-process backend is not thread-safe (it deep-copies a dict another
        # writer changes); parallel writes run against the moto server in the contract suite.
        for key, value in {"NEWSIG_STORE_URL":
                           "dynamodb://newsig-signals?region=us-east-1&workers=1",
                           "NEWSIG_CLASSIFIER": "sagemaker",
                           "NEWSIG_SAGEMAKER_ENDPOINT": "newsig-classifier",
                           "NEWSIG_AWS_REGION": "us-east-1",
                           "NEWSIG_FEEDS_FILE": str(feeds),
                           "NEWSIG_FETCH_TIMEOUT": "2",
                           "POWERTOOLS_METRICS_NAMESPACE": "NewsSignals"}.items():
            monkeypatch.setenv(key, value)
        clear_caches()
        # The very client the service's classifier will use (one per process, cached).
        runtime = wiring.build_classifier(wiring.get_settings()).client  # type: ignore[attr-defined]
        runtime.meta.events.register("before-call.sagemaker-runtime.InvokeEndpoint", endpoint)
        yield {"endpoint": endpoint, "server": feed_server}
        clear_caches()


def call_api(*args: Any, **kwargs: Any) -> tuple[int, Any]:
    resp = api_lambda.handler(api_event(*args, **kwargs), Context())
    return resp["statusCode"], json.loads(resp["body"])


def test_scheduled_ingest_then_read_back_through_the_api(aws_env: dict[str, Any],
                                                         capsys: pytest.CaptureFixture) -> None:
    result = ingest_lambda.handler(SCHEDULED_EVENT, Context())
    assert result["signals_written"] == 3 and result["feeds_ok"] == 1
    assert [f["id"] for f in result["feeds_failed"]] == ["gone"]
    assert result["labels"] == {"positive": 1, "negative": 1, "neutral": 1}
    assert aws_env["endpoint"].calls == [["Apple profit rose to a record",
                                          "Tesla profit fell to a loss", "Board meets Monday"]]
    out = capsys.readouterr().out
    emf = [json.loads(line) for line in out.splitlines() if '"_aws"' in line]
    names = {m["Name"] for doc in emf for d in doc["_aws"]["CloudWatchMetrics"]
             for m in d["Metrics"]}
    assert {"SignalsWritten", "HeadlinesSeen", "FeedFailures", "SignalsPerLabel"} <= names
    assert any(doc.get("Feed") == "markets" and doc.get("HeadlinesSeen") == [3.0] for doc in emf)
    assert any(doc.get("Label") == "positive" and doc.get("SignalsPerLabel") == [1.0]
               for doc in emf)

    # At-least-once delivery: the same event again writes nothing (and asks nothing of the
    # endpoint: the feed answers 304).
    again = ingest_lambda.handler(SCHEDULED_EVENT, Context())
    assert again["signals_written"] == 0 and again["feeds_not_modified"] == 1
    assert len(aws_env["endpoint"].calls) == 1

    status, body = call_api("GET", "/signals")
    assert status == 200
    by_title = {s["title"]: s for s in body["items"]}
    assert set(by_title) == {"Apple profit rose to a record", "Tesla profit fell to a loss",
                             "Board meets Monday"}
    assert by_title["Apple profit rose to a record"]["label"] == "positive"
    assert by_title["Apple profit rose to a record"]["tickers"] == ["AAPL"]
    status, body = call_api("GET", "/signals", {"ticker": "TSLA"})
    assert [s["label"] for s in body["items"]] == ["negative"]
    status, body = call_api("GET", "/feeds")
    assert {f["id"]: f["status"] for f in body} == {"markets": "ok", "gone": "failing"}
    status, body = call_api("POST", "/classify", body={"headline": "profit fell to a loss"})
    assert status == 200 and body["predictions"][0]["label"] == "negative"
    status, body = call_api("POST", "/classify", body={"headline": ""})
    assert status == 422
    status, body = call_api("GET", "/health")
    assert status == 200 and body["store"]["backend"] == "dynamodb"


@pytest.mark.parametrize(("code", "http"), [("ThrottlingException", 503),
                                            ("ModelError", 502)])
def test_endpoint_failure_writes_nothing_and_fails_the_invocation(
        aws_env: dict[str, Any], code: str, http: int) -> None:
    aws_env["endpoint"].fail_with = code
    with pytest.raises(ingest_lambda.IngestIncompleteError, match="3 items left pending"):
        ingest_lambda.handler(SCHEDULED_EVENT, Context())
    status, body = call_api("GET", "/signals")
    assert status == 200 and body["items"] == []
    status, _ = call_api("POST", "/classify", body={"headline": "x"})
    assert status == http
    aws_env["endpoint"].fail_with = None  # the next scheduled pass picks the items up
    assert ingest_lambda.handler(SCHEDULED_EVENT, Context())["signals_written"] == 3


def test_rescore_fanout_through_sqs_to_the_worker(tiny_model_dir: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """`newsig rescore --fanout` plans windows onto a queue; the worker Lambda scores each
    with its bundled model; a job for another model version is refused, not scored."""
    from api.cli import main as newsig
    from core.adapters.dynamodb_store import DynamoDBSignalStore
    from core.models import Article, Prediction, Signal
    from ingest import rescore_handler
    from tests.support.builders import T0
    from tests.support.tiny_model import build_tiny_model

    second = build_tiny_model(tmp_path / "v2", seed=7)
    v2 = (second / "model_version").read_text().strip()
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        create_table(ddb, "newsig-signals")
        store = DynamoDBSignalStore("newsig-signals", client=ddb, workers=1)
        arts = [Article(source_id="s", title=f"profit rose to a record {i}", guid=f"g{i}",
                        first_seen_at=T0 + timedelta(hours=i)) for i in range(30)]
        store.put_many([Signal.from_article(a, Prediction.from_probabilities(
            (0.1, 0.2, 0.7), "v1"), scored_at=a.first_seen_at) for a in arts])
        queue = boto3.client("sqs", region_name="us-east-1").create_queue(
            QueueName="jobs")["QueueUrl"]
        for key, value in {"NEWSIG_STORE_URL": "dynamodb://newsig-signals?region=us-east-1"
                                               "&workers=1",
                           "NEWSIG_CLASSIFIER": "onnx", "NEWSIG_MODEL_DIR": str(second),
                           "NEWSIG_AWS_REGION": "us-east-1"}.items():
            monkeypatch.setenv(key, value)
        clear_caches()
        assert newsig(["rescore", "--fanout", queue, "--shards", "4"]) == 0
        sqs = boto3.client("sqs", region_name="us-east-1")
        msgs = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
        assert len(msgs) == 4
        records = [{"messageId": m["MessageId"], "body": m["Body"]} for m in msgs]
        records.append({"messageId": "wrong", "body": json.dumps({"model_version": "other"})})
        out = rescore_handler.handler({"Records": records}, Context())
        assert out == {"batchItemFailures": [{"itemIdentifier": "wrong"}]}
        assert store.missing(v2) == 0
        total, rows = store.versions()
        assert total == 30 and {r["version"]: r["scored"] for r in rows} == {"v1": 30, v2: 30}
        # delivered again (at least once): nothing doubled
        assert rescore_handler.handler({"Records": records[:4]}, Context()) == {
            "batchItemFailures": []}
        assert {r["version"]: r["scored"] for r in store.versions()[1]}[v2] == 30
        clear_caches()

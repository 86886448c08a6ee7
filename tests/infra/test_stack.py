"""CDK template assertions and cdk-nag (AwsSolutions) on the synthesized stack.

Bundling is skipped here (context aws:cdk:bundling-stacks = []): assets are staged from
source, no pip download runs. `make synth` bundles for real."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
assertions = pytest.importorskip("aws_cdk.assertions", reason="needs the infra extra")
from aws_cdk.assertions import Match, Template  # noqa: E402

from core.names import (  # noqa: E402
    GSI_BY_SOURCE,
    GSI_BY_TIME,
    METRIC_HEADLINES_SEEN,
    METRIC_NAMESPACE,
    METRIC_SIGNALS_PER_LABEL,
    METRIC_SIGNALS_WRITTEN,
    TABLE_TTL_ATTRIBUTE,
)
from infra import app as infra_app  # noqa: E402
from model.export import export_sagemaker  # noqa: E402

NO_BUNDLING = {"aws:cdk:bundling-stacks": []}


@pytest.fixture(scope="module")
def artifact(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_sagemaker(tiny_model_dir, tmp_path_factory.mktemp("sm"))


def synth(tmp: Path, nag: bool = False, **context: Any) -> tuple[Template, Any]:
    _, stack = infra_app.build_app({**NO_BUNDLING, **context}, outdir=str(tmp), nag=nag)
    return Template.from_stack(stack), stack


@pytest.fixture(scope="module")
def sagemaker_stack(artifact: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return synth(tmp_path_factory.mktemp("cdk"), model_artifact=str(artifact))


@pytest.fixture(scope="module")
def lambda_stack(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return synth(tmp_path_factory.mktemp("cdk"), classifier="lambda",
                 model_dir=str(tiny_model_dir), ingest_rate_minutes=15, retention_days=90)


def policy_statements(template: Template, role_prefix: str) -> list[dict]:
    out = []
    for logical_id, res in template.find_resources("AWS::IAM::Policy").items():
        if logical_id.startswith(role_prefix):
            out += res["Properties"]["PolicyDocument"]["Statement"]
    return out


def actions(statements: list[dict]) -> set[str]:
    found: set[str] = set()
    for st in statements:
        acts = st["Action"]
        found |= {acts} if isinstance(acts, str) else set(acts)
    return found


def test_resource_counts(sagemaker_stack) -> None:  # type: ignore[no-untyped-def]
    t, _ = sagemaker_stack
    for kind, n in {"AWS::DynamoDB::GlobalTable": 1, "AWS::Lambda::Function": 2,
                    "AWS::SageMaker::Model": 1, "AWS::SageMaker::EndpointConfig": 1,
                    "AWS::SageMaker::Endpoint": 1, "AWS::ApiGateway::RestApi": 1,
                    "AWS::ApiGateway::UsagePlan": 1, "AWS::ApiGateway::ApiKey": 1,
                    "AWS::Events::Rule": 1, "AWS::SQS::Queue": 1,
                    "AWS::CloudWatch::Alarm": 5, "AWS::CloudWatch::Dashboard": 1}.items():
        t.resource_count_is(kind, n)


def test_table(sagemaker_stack) -> None:  # type: ignore[no-untyped-def]
    t, _ = sagemaker_stack
    t.has_resource_properties("AWS::DynamoDB::GlobalTable", {
        "BillingMode": "PAY_PER_REQUEST",
        "SSESpecification": {"SSEEnabled": True},
        "TimeToLiveSpecification": {"AttributeName": TABLE_TTL_ATTRIBUTE, "Enabled": True},
        "Replicas": [Match.object_like({"PointInTimeRecoverySpecification": {
            "PointInTimeRecoveryEnabled": True}})],
        "GlobalSecondaryIndexes": Match.array_with([
            Match.object_like({"IndexName": GSI_BY_SOURCE}),
            Match.object_like({"IndexName": GSI_BY_TIME})]),
    })
    t.has_resource("AWS::DynamoDB::GlobalTable", {"DeletionPolicy": "Retain"})


def test_serverless_endpoint_with_the_hugging_face_image(sagemaker_stack) -> None:  # type: ignore[no-untyped-def]
    t, _ = sagemaker_stack
    t.has_resource_properties("AWS::SageMaker::EndpointConfig", {"ProductionVariants": [
        Match.object_like({"ServerlessConfig": {"MaxConcurrency": 10,
                                                "MemorySizeInMB": 3072}})]})
    (model,) = t.find_resources("AWS::SageMaker::Model").values()
    container = model["Properties"]["PrimaryContainer"]
    assert re.match(r"763104351884\.dkr\.ecr\.us-east-1\.amazonaws\.com/"
                    r"huggingface-pytorch-inference:.*cpu", container["Image"])
    assert container["Environment"]["SAGEMAKER_PROGRAM"] == "inference.py"
    t.resource_count_is("AWS::ApplicationAutoScaling::ScalableTarget", 0)


def test_instance_endpoint_with_autoscaling(artifact: Path, tmp_path: Path) -> None:
    t, _ = synth(tmp_path, model_artifact=str(artifact), instance_type="ml.c6i.large",
                 min_instances=1, max_instances=4, region="eu-west-1")
    t.has_resource_properties("AWS::SageMaker::EndpointConfig", {"ProductionVariants": [
        Match.object_like({"InstanceType": "ml.c6i.large", "InitialInstanceCount": 1})]})
    t.has_resource_properties("AWS::ApplicationAutoScaling::ScalableTarget", {
        "MinCapacity": 1, "MaxCapacity": 4,
        "ScalableDimension": "sagemaker:variant:DesiredInstanceCount"})
    (model,) = t.find_resources("AWS::SageMaker::Model").values()
    assert ".eu-west-1." in model["Properties"]["PrimaryContainer"]["Image"]


def test_least_privilege_grants(sagemaker_stack) -> None:  # type: ignore[no-untyped-def]
    t, _ = sagemaker_stack
    (endpoint_id,) = t.find_resources("AWS::SageMaker::Endpoint")
    api = policy_statements(t, "ApiFunctionServiceRoleDefaultPolicy")
    ingest = policy_statements(t, "IngestFunctionServiceRoleDefaultPolicy")
    assert "dynamodb:PutItem" not in actions(api) and "dynamodb:Query" in actions(api)
    assert {"dynamodb:PutItem", "dynamodb:BatchGetItem", "dynamodb:Query"} <= actions(ingest)
    # TransactWriteItems is authorised by the per-item actions (PutItem) on the table.
    for statements in (api, ingest):
        assert not any(a.endswith(":*") and a.startswith("dynamodb") for a in actions(statements))
        for st in statements:
            if any(a.startswith("dynamodb:") for a in actions([st])):
                text = json.dumps(st["Resource"])
                assert "SignalsTable" in text and '"*"' not in text
            if "sagemaker:InvokeEndpoint" in actions([st]):
                assert st["Resource"] == {"Ref": endpoint_id}  # this endpoint, nothing else
    assert "sagemaker:InvokeEndpoint" in actions(api) and "sagemaker:InvokeEndpoint" in \
        actions(ingest)


def test_api_gateway(sagemaker_stack) -> None:  # type: ignore[no-untyped-def]
    t, _ = sagemaker_stack
    methods = t.find_resources("AWS::ApiGateway::Method")
    verbs = sorted(m["Properties"]["HttpMethod"] for m in methods.values())
    assert verbs == ["GET", "GET", "GET", "POST"]
    assert all(m["Properties"]["ApiKeyRequired"] for m in methods.values())
    assert all("RequestValidatorId" in m["Properties"] for m in methods.values())
    t.has_resource_properties("AWS::ApiGateway::Model", {"Name": "ClassifyRequest",
                                                         "ContentType": "application/json"})
    t.has_resource_properties("AWS::ApiGateway::Stage", {
        "StageName": "prod", "TracingEnabled": True,
        "AccessLogSetting": Match.object_like({"DestinationArn": Match.any_value()}),
        "MethodSettings": Match.array_with([Match.object_like({
            "ThrottlingRateLimit": 50, "ThrottlingBurstLimit": 100})])})
    t.has_resource_properties("AWS::ApiGateway::UsagePlan", {
        "Throttle": {"RateLimit": 50, "BurstLimit": 100},
        "Quota": {"Limit": 1_000_000, "Period": "MONTH"}})


def test_schedule_retry_and_dead_letters(sagemaker_stack) -> None:  # type: ignore[no-untyped-def]
    t, _ = sagemaker_stack
    t.has_resource_properties("AWS::Events::Rule", {
        "ScheduleExpression": "rate(5 minutes)",
        "Targets": [Match.object_like({
            "RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 300},
            "DeadLetterConfig": {"Arn": Match.any_value()}})]})
    t.has_resource_properties("AWS::SQS::Queue", {"SqsManagedSseEnabled": True})


def test_alarms_and_dashboard(sagemaker_stack) -> None:  # type: ignore[no-untyped-def]
    t, _ = sagemaker_stack
    alarms = t.find_resources("AWS::CloudWatch::Alarm")
    metric_names = {a["Properties"].get("MetricName") for a in alarms.values()}
    assert {"Errors", "ApproximateNumberOfMessagesVisible", "5XXError",
            "ModelLatency"} <= metric_names
    assert all(a["Properties"]["AlarmActions"] for a in alarms.values())
    (dash,) = t.find_resources("AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dash["Properties"]["DashboardBody"])
    for name in (METRIC_NAMESPACE, METRIC_HEADLINES_SEEN, METRIC_SIGNALS_WRITTEN,
                 METRIC_SIGNALS_PER_LABEL, "ModelLatency", "Invocations", "5XXError",
                 "Throttles", "Duration"):
        assert name in body, name


def test_lambda_classifier_mode(lambda_stack) -> None:  # type: ignore[no-untyped-def]
    t, _ = lambda_stack
    t.resource_count_is("AWS::SageMaker::Endpoint", 0)
    t.resource_count_is("AWS::CloudWatch::Alarm", 4)
    t.has_resource_properties("AWS::Events::Rule", {"ScheduleExpression": "rate(15 minutes)"})
    for fn in t.find_resources("AWS::Lambda::Function").values():
        env = fn["Properties"]["Environment"]["Variables"]
        assert env["NEWSIG_CLASSIFIER"] == "onnx"
        assert env["NEWSIG_MODEL_DIR"] == "/var/task/model"
        assert fn["Properties"]["Runtime"] == "python3.14"
        assert fn["Properties"]["MemorySize"] == 2048
        assert "ttl_days=90" in json.dumps(env["NEWSIG_STORE_URL"])
    api_policy = policy_statements(t, "ApiFunctionServiceRoleDefaultPolicy")
    assert "sagemaker:InvokeEndpoint" not in actions(api_policy)


def test_missing_model_artifact_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="newsig model export --sagemaker"):
        synth(tmp_path, model_artifact=str(tmp_path / "none.tar.gz"))


def test_cdk_nag_passes_with_every_acknowledgment_reasoned(artifact: Path, tmp_path: Path,
                                                          tiny_model_dir: Path) -> None:
    for context in ({"model_artifact": str(artifact)},
                    {"classifier": "lambda", "model_dir": str(tiny_model_dir)}):
        app, _ = infra_app.build_app({**NO_BUNDLING, **context}, outdir=str(tmp_path / "ok"),
                                     nag=True)
        app.synth()  # raises if any AwsSolutions finding is not acknowledged
    tree = json.loads((tmp_path / "ok" / "tree.json").read_text())
    assert "NewsSignals" in json.dumps(tree)


def test_cdk_nag_fails_synthesis_on_an_unacknowledged_finding(
        artifact: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(infra_app, "acknowledge_findings", lambda stack: None)
    app, _ = infra_app.build_app({**NO_BUNDLING, "model_artifact": str(artifact)},
                                 outdir=str(tmp_path / "bad"), nag=True)
    with pytest.raises(Exception, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "bad" / "validation-report.json").read_text())
    rules = {v["ruleName"] for p in report["pluginReports"] for v in p["violations"]}
    assert "AwsSolutions-APIG4" in rules

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
    METRIC_FEED_FAILURES,
    METRIC_HEADLINES_SEEN,
    METRIC_INGEST_SUCCEEDED,
    METRIC_NAMESPACE,
    METRIC_SIGNALS_PER_LABEL,
    METRIC_SIGNALS_WRITTEN,
    SERVICE_INGEST,
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
        if role_prefix in logical_id:
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
    for kind, n in {"AWS::DynamoDB::GlobalTable": 1, "AWS::Lambda::Function": 6,
                    "AWS::ApiGatewayV2::Api": 1, "AWS::ApiGatewayV2::Route": 3,
                    "AWS::SecretsManager::Secret": 1,
                    "AWS::SageMaker::Model": 1, "AWS::SageMaker::EndpointConfig": 1,
                    "AWS::SageMaker::Endpoint": 1, "AWS::ApiGateway::RestApi": 1,
                    "AWS::ApiGateway::UsagePlan": 1, "AWS::ApiGateway::ApiKey": 1,
                    "AWS::Events::Rule": 1, "AWS::SQS::Queue": 4, "AWS::Events::EventBus": 1,
                    "AWS::Lambda::EventSourceMapping": 2,
                    "AWS::Lambda::EventInvokeConfig": 1, "AWS::SNS::Topic": 1,
                    "AWS::SNS::Subscription": 0,
                    "AWS::CloudWatch::Alarm": 15, "AWS::CloudWatch::Dashboard": 1}.items():
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
    t.has_resource_properties("AWS::DynamoDB::GlobalTable", {"Replicas": [
        Match.object_like({"DeletionProtectionEnabled": True})]})


def test_serverless_endpoint_with_the_hugging_face_image(sagemaker_stack) -> None:  # type: ignore[no-untyped-def]
    t, _ = sagemaker_stack
    t.has_resource_properties("AWS::SageMaker::EndpointConfig", {"ProductionVariants": [
        Match.object_like({"ServerlessConfig": {"MaxConcurrency": 10,
                                                "MemorySizeInMB": 3072}})]})
    (model,) = t.find_resources("AWS::SageMaker::Model").values()
    container = model["Properties"]["PrimaryContainer"]
    assert image_uri(t, container["Image"], "us-east-1", "aws") == expected_image("us-east-1")
    assert container["Environment"]["SAGEMAKER_PROGRAM"] == "inference.py"
    assert model["Properties"]["EnableNetworkIsolation"] is True
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
    image = image_uri(t, model["Properties"]["PrimaryContainer"]["Image"], "eu-west-1", "aws")
    assert image == expected_image("eu-west-1", "ml.c6i.large")


def test_least_privilege_grants(sagemaker_stack) -> None:  # type: ignore[no-untyped-def]
    t, _ = sagemaker_stack
    (endpoint_id,) = t.find_resources("AWS::SageMaker::Endpoint")
    api = policy_statements(t, "ApiFunctionServiceRoleDefaultPolicy")
    ingest = policy_statements(t, "IngestFunctionServiceRoleDefaultPolicy")
    dynamo = {a for a in actions(api) | actions(ingest) if a.startswith("dynamodb:")}
    # Exactly the calls core/adapters/dynamodb_store.py makes; nothing it never uses.
    assert {a for a in actions(api) if a.startswith("dynamodb:")} == {
        "dynamodb:Query", "dynamodb:GetItem", "dynamodb:DescribeTable"}
    assert {a for a in actions(ingest) if a.startswith("dynamodb:")} == {
        "dynamodb:Query", "dynamodb:GetItem", "dynamodb:DescribeTable",
        "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}
    assert not dynamo & {"dynamodb:Scan", "dynamodb:DeleteItem", "dynamodb:GetRecords",
                         "dynamodb:GetShardIterator", "dynamodb:DescribeStream",
                         "dynamodb:ListStreams", "dynamodb:BatchWriteItem"}
    for statements in (api, ingest):
        for st in statements:
            if any(a.startswith("dynamodb:") for a in actions([st])):
                text = json.dumps(st["Resource"])
                assert "SignalsTable" in text and '"*"' not in text
            if "sagemaker:InvokeEndpoint" in actions([st]):
                assert st["Resource"] == {"Ref": endpoint_id}  # this endpoint, nothing else
    assert "sagemaker:InvokeEndpoint" in actions(api) and "sagemaker:InvokeEndpoint" in \
        actions(ingest)
    assert "sqs:SendMessage" in actions(ingest)  # its on-failure destination


def test_endpoint_role_reads_the_model_object_only_and_logs_to_its_log_group(
        sagemaker_stack) -> None:  # type: ignore[no-untyped-def]
    t, _ = sagemaker_stack
    role = policy_statements(t, "ClassifierExecutionRoleDefaultPolicy")
    s3 = [st for st in role if any(a.startswith("s3:") for a in actions([st]))]
    assert len(s3) == 1 and actions(s3) == {"s3:GetObject"}
    resource = json.dumps(s3[0]["Resource"])
    (model,) = t.find_resources("AWS::SageMaker::Model").values()
    url = json.dumps(model["Properties"]["PrimaryContainer"]["ModelDataUrl"])
    digest = re.search(r"/([0-9a-f]{64})\.tar\.gz\"}$", url)
    assert digest, url  # the S3 key ends in .tar.gz
    # The one object the model's ModelDataUrl names: no wildcard, no bucket-wide grant.
    assert "*" not in resource and f"/{digest.group(1)}.tar.gz" in resource
    (logs,) = [st for st in role if "logs:PutLogEvents" in actions([st])]
    arn = json.dumps(logs["Resource"])
    assert ":log-group:/aws/sagemaker/Endpoints/*" in arn and "log-group//" not in arn
    ecr = [st for st in role if "ecr:BatchGetImage" in actions([st])]
    assert "FindInMap" in json.dumps(ecr[0]["Resource"])  # the image's account, per region
    assert "AWS::Partition" in json.dumps(ecr[0]["Resource"])


def test_model_data_key_ends_in_tar_gz_and_is_staged(sagemaker_stack, artifact: Path,
                                                     tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import hashlib

    _, stack = sagemaker_stack
    assets = json.loads((Path(stack.node.root.outdir) / "NewsSignals.assets.json").read_text())
    digest = hashlib.sha256(artifact.read_bytes()).hexdigest()
    entry = assets["files"][f"{digest}.tar"]
    assert entry["source"] == {"path": f"asset.{digest}.tar.gz", "packaging": "file"}
    (dest,) = entry["destinations"].values()
    assert dest["objectKey"] == f"{digest}.tar.gz"
    staged = Path(stack.node.root.outdir) / entry["source"]["path"]
    assert staged.read_bytes() == artifact.read_bytes()


def resolve(value: Any, region: str, partition: str, mappings: dict[str, Any]) -> Any:
    """Evaluate the intrinsics an image URI uses, as CloudFormation would in `region`."""
    suffix = {"aws": "amazonaws.com", "aws-cn": "amazonaws.com.cn",
              "aws-us-gov": "amazonaws.com", "aws-iso": "c2s.ic.gov",
              "aws-iso-b": "sc2s.sgov.gov"}[partition]
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return {"AWS::Region": region, "AWS::Partition": partition,
                "AWS::URLSuffix": suffix}[value["Ref"]]
    if "Fn::Join" in value:
        sep, parts = value["Fn::Join"]
        return sep.join(resolve(p, region, partition, mappings) for p in parts)
    if "Fn::FindInMap" in value:
        name, key, attr = (resolve(p, region, partition, mappings)
                           for p in value["Fn::FindInMap"])
        return mappings[name][key][attr]
    raise AssertionError(f"unexpected intrinsic {value}")


def image_uri(t: Template, image: Any, region: str, partition: str) -> str:
    return str(resolve(image, region, partition, t.to_json().get("Mappings", {})))


def expected_image(region: str, instance_type: str = "ml.m5.xlarge") -> str:
    from sagemaker.core import image_uris

    return str(image_uris.retrieve(
        framework="huggingface", region=region, version="4.49.0",
        base_framework_version="pytorch2.6.0", image_scope="inference",
        instance_type=instance_type))


def partition_of(region: str) -> str:
    for prefix, partition in (("cn-", "aws-cn"), ("us-gov-", "aws-us-gov"),
                              ("us-isob-", "aws-iso-b"), ("us-iso-", "aws-iso")):
        if region.startswith(prefix):
            return partition
    return "aws"


def test_image_resolves_to_the_sdk_uri_in_every_region_it_lists(sagemaker_stack) -> None:  # type: ignore[no-untyped-def]
    from infra.constructs.endpoint import image_registries

    t, _ = sagemaker_stack
    (model,) = t.find_resources("AWS::SageMaker::Model").values()
    image = model["Properties"]["PrimaryContainer"]["Image"]
    regions = list(image_registries())
    # The regions where the account is not 763104351884, and the China partition.
    assert {"ap-east-1", "me-south-1", "af-south-1", "eu-south-1", "ap-southeast-3",
            "il-central-1", "cn-north-1", "cn-northwest-1"} <= set(regions)
    for region in regions:
        got = image_uri(t, image, region, partition_of(region))
        assert got == expected_image(region), region
    assert image_uri(t, image, "cn-north-1", "aws-cn").endswith(
        ".dkr.ecr.cn-north-1.amazonaws.com.cn/" + expected_image("us-east-1").split("/")[1])


def test_a_region_without_the_image_is_a_clear_error(artifact: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not published in xx-nowhere-1"):
        synth(tmp_path, model_artifact=str(artifact), region="xx-nowhere-1")


def api_routes(t: Template) -> dict[tuple[str, str], dict[str, Any]]:
    """(method, path) -> the method's properties, paths rebuilt from the resource tree."""
    resources = t.find_resources("AWS::ApiGateway::Resource")
    (api_id,) = t.find_resources("AWS::ApiGateway::RestApi")

    def path_of(ref: Any) -> str:
        if "Fn::GetAtt" in ref:  # the root resource
            assert ref["Fn::GetAtt"] == [api_id, "RootResourceId"]
            return ""
        res = resources[ref["Ref"]]["Properties"]
        return f"{path_of(res['ParentId'])}/{res['PathPart']}"

    out = {}
    for m in t.find_resources("AWS::ApiGateway::Method").values():
        props = m["Properties"]
        out[(props["HttpMethod"], path_of(props["ResourceId"]) or "/")] = props
    return out


def app_routes() -> set[tuple[str, str]]:
    """Every request/response route of the FastAPI app, mounts as `{proxy+}`."""
    from fastapi.routing import APIRoute
    from starlette.routing import Mount

    from api.app import Services, create_app
    from core.service import SignalService

    class Unused:
        def __getattr__(self, name: str) -> Any:
            raise AttributeError(f"{name}: routes are listed here, never called")

    app = create_app(Services(service=SignalService(store=Unused(), classifier=Unused()),
                              feeds=[]))
    found: set[tuple[str, str]] = set()
    for route in app.routes:
        if isinstance(route, APIRoute):
            found |= {(m, route.path) for m in route.methods - {"HEAD"}}
        elif isinstance(route, Mount):
            found.add(("GET", f"{route.path}/{{proxy+}}"))
        elif getattr(route, "methods", None):  # starlette routes FastAPI adds (docs pages)
            found |= {(m, route.path) for m in route.methods - {"HEAD"}}  # type: ignore[attr-defined]
    return found


def test_every_app_route_is_reachable_through_api_gateway(sagemaker_stack) -> None:  # type: ignore[no-untyped-def]
    from core.names import PUBLIC_PATHS
    from infra.stacks import NOT_ROUTED, ROUTES

    t, _ = sagemaker_stack
    routes = api_routes(t)
    app = app_routes()
    assert set(routes) == set(ROUTES)
    assert app - set(NOT_ROUTED) == set(routes), "API Gateway and the app disagree"
    assert set(NOT_ROUTED) <= app  # nothing excluded that the app does not have
    for (method, path), props in routes.items():
        public = path.replace("{proxy+}", "x") in PUBLIC_PATHS or path.startswith(
            ("/static/", "/docs/"))
        assert props["ApiKeyRequired"] is (not public), (method, path)
        assert props["Integration"]["Type"] == "AWS_PROXY"
    assert "RequestValidatorId" in routes[("POST", "/classify")]
    for data in (("GET", "/signals"), ("GET", "/signals/summary"), ("GET", "/feeds")):
        assert routes[data]["ApiKeyRequired"] is True


def test_route_parity_fails_when_the_app_grows_a_route(monkeypatch: pytest.MonkeyPatch,
                                                       sagemaker_stack) -> None:  # type: ignore[no-untyped-def]
    import api.app as api_app

    real = api_app.create_app

    def bigger(services: Any) -> Any:
        app = real(services)
        app.add_api_route("/signals/export", lambda: {}, methods=["GET"])
        return app

    monkeypatch.setattr(api_app, "create_app", bigger)
    with pytest.raises(AssertionError, match="disagree"):
        test_every_app_route_is_reachable_through_api_gateway(sagemaker_stack)


def test_api_gateway_stage_and_plan(sagemaker_stack) -> None:  # type: ignore[no-untyped-def]
    t, _ = sagemaker_stack
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


def function_id(t: Template, prefix: str) -> str:
    (fid,) = [k for k in t.find_resources("AWS::Lambda::Function") if prefix in k]
    return fid


def test_functions_arm64_python_314_ingest_one_at_a_time(sagemaker_stack) -> None:  # type: ignore[no-untyped-def]
    t, _ = sagemaker_stack
    fns = t.find_resources("AWS::Lambda::Function")
    for fn in fns.values():
        assert fn["Properties"]["Architectures"] == ["arm64"]
        assert fn["Properties"]["Runtime"] == "python3.14"
        # DependsOn names the role's policy only (cfn-lint W3005 otherwise)
        assert all("Policy" in d for d in fn["DependsOn"])
    ingest = fns[function_id(t, "IngestFunction")]["Properties"]
    api = fns[function_id(t, "ApiFunction")]["Properties"]
    assert ingest["ReservedConcurrentExecutions"] == 1
    assert api["ReservedConcurrentExecutions"] == 20
    assert ingest["Timeout"] == 5 * 60  # = the interval: with concurrency 1, never overlapping


def test_failed_ingest_runs_are_kept_on_the_failures_queue(sagemaker_stack) -> None:  # type: ignore[no-untyped-def]
    t, _ = sagemaker_stack
    (queue_id,) = [q for q in t.find_resources("AWS::SQS::Queue")
                   if q.startswith("IngestFailures")]
    t.has_resource_properties("AWS::SQS::Queue", {"SqsManagedSseEnabled": True,
                                                  "MessageRetentionPeriod": 14 * 86400})
    t.has_resource_properties("AWS::Lambda::EventInvokeConfig", {
        "FunctionName": {"Ref": function_id(t, "IngestFunction")},
        "MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 600,
        "DestinationConfig": {"OnFailure": {"Destination": {
            "Fn::GetAtt": [queue_id, "Arn"]}}}})
    t.has_resource_properties("AWS::Events::Rule", {
        "ScheduleExpression": "rate(5 minutes)",
        "Targets": [Match.object_like({
            "RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 300},
            "DeadLetterConfig": {"Arn": {"Fn::GetAtt": [queue_id, "Arn"]}}})]})


def alarms_by_name(t: Template) -> dict[str, dict[str, Any]]:
    """Alarms by the id they have in the Alarms construct (logical id without its prefix and
    hash)."""
    return {k.removeprefix("Alarms").rstrip("0123456789ABCDEF"): v["Properties"]
            for k, v in t.find_resources("AWS::CloudWatch::Alarm").items()}


def test_alarms_watch_what_readme_says(sagemaker_stack) -> None:  # type: ignore[no-untyped-def]
    t, _ = sagemaker_stack
    alarms = alarms_by_name(t)
    assert set(alarms) == {
        "IngestFailuresQueued", "IngestErrors", "IngestStopped", "FeedsFailing",
        "IngestThrottles", "ApiErrors", "ApiThrottles", "Api5xx", "TableThrottles",
        "EventsIteratorAge", "EventFailuresQueued", "RescoreJobsFailed",
        "EndpointLatency", "Endpoint5xx", "EndpointModelSetup"}
    (topic,) = t.find_resources("AWS::SNS::Topic")
    for props in alarms.values():
        assert props["AlarmActions"] == [{"Ref": topic}]
        assert props["AlarmDescription"]
    stopped = alarms["IngestStopped"]
    assert stopped["MetricName"] == METRIC_INGEST_SUCCEEDED
    assert stopped["Namespace"] == METRIC_NAMESPACE
    assert stopped["Period"] == 3 * 5 * 60 and stopped["TreatMissingData"] == "breaching"
    assert stopped["ComparisonOperator"] == "LessThanThreshold" and stopped["Threshold"] == 1
    feeds = alarms["FeedsFailing"]
    assert feeds["MetricName"] == METRIC_FEED_FAILURES and feeds["EvaluationPeriods"] == 3
    assert feeds["Dimensions"] == [{"Name": "service", "Value": SERVICE_INGEST}]
    assert alarms["IngestFailuresQueued"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarms["IngestThrottles"]["MetricName"] == "Throttles"
    assert alarms["ApiThrottles"]["MetricName"] == "Throttles"
    table = {m["MetricStat"]["Metric"]["MetricName"] for m in alarms["TableThrottles"]["Metrics"]
             if "MetricStat" in m}
    assert table == {"ReadThrottleEvents", "WriteThrottleEvents"}
    assert alarms["Endpoint5xx"]["MetricName"] == "Invocation5XXErrors"
    assert alarms["EndpointModelSetup"]["MetricName"] == "ModelSetupTime"
    assert alarms["EndpointModelSetup"]["Threshold"] == 60_000_000  # microseconds
    (dash,) = t.find_resources("AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dash["Properties"]["DashboardBody"])
    for name in (METRIC_NAMESPACE, METRIC_HEADLINES_SEEN, METRIC_SIGNALS_WRITTEN,
                 METRIC_SIGNALS_PER_LABEL, "ModelLatency", "Invocations", "5XXError",
                 "Throttles", "Duration"):
        assert name in body, name


def test_alarm_email_subscribes_an_address(artifact: Path, tmp_path: Path) -> None:
    t, _ = synth(tmp_path, model_artifact=str(artifact), alarm_email="oncall@example.com")
    (topic,) = t.find_resources("AWS::SNS::Topic")
    t.has_resource_properties("AWS::SNS::Subscription", {
        "Protocol": "email", "Endpoint": "oncall@example.com", "TopicArn": {"Ref": topic}})
    with pytest.raises(Exception, match="alarm_email"):
        synth(tmp_path / "bad", model_artifact=str(artifact), alarm_email="not-an-address")


def test_deletion_protection_can_be_turned_off_for_test_stacks(artifact: Path,
                                                                tmp_path: Path) -> None:
    t, _ = synth(tmp_path, model_artifact=str(artifact), deletion_protection="false",
                 retain_table="false", api_reserved_concurrency="0")
    t.has_resource_properties("AWS::DynamoDB::GlobalTable", {"Replicas": [
        Match.object_like({"DeletionProtectionEnabled": False})]})
    t.has_resource("AWS::DynamoDB::GlobalTable", {"DeletionPolicy": "Delete"})
    api = t.find_resources("AWS::Lambda::Function")[function_id(t, "ApiFunction")]
    assert "ReservedConcurrentExecutions" not in api["Properties"]


def test_lambda_classifier_mode(lambda_stack) -> None:  # type: ignore[no-untyped-def]
    t, _ = lambda_stack
    t.resource_count_is("AWS::SageMaker::Endpoint", 0)
    assert set(alarms_by_name(t)) == {
        "IngestFailuresQueued", "IngestErrors", "IngestStopped", "FeedsFailing",
        "IngestThrottles", "ApiErrors", "ApiThrottles", "Api5xx", "TableThrottles",
        "EventsIteratorAge", "EventFailuresQueued", "RescoreJobsFailed"}
    assert alarms_by_name(t)["IngestStopped"]["Period"] == 3 * 15 * 60
    t.has_resource_properties("AWS::Events::Rule", {"ScheduleExpression": "rate(15 minutes)"})
    for fid, fn in t.find_resources("AWS::Lambda::Function").items():
        env = fn["Properties"]["Environment"]["Variables"]
        assert env["NEWSIG_CLASSIFIER"] == "onnx"
        assert env["NEWSIG_MODEL_DIR"] == "/var/task/model"
        assert fn["Properties"]["Runtime"] == "python3.14"
        # The model runs in the API, ingest and rescore functions; the others only move
        # messages.
        assert fn["Properties"]["MemorySize"] == (
            2048 if fid.startswith(("FrontApi", "IngestionIngest", "RescoringRescore")) else 256)
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


def test_signal_created_events_from_the_table_stream(sagemaker_stack) -> None:  # type: ignore[no-untyped-def]
    t, _ = sagemaker_stack
    (table,) = t.find_resources("AWS::DynamoDB::GlobalTable").values()
    assert table["Properties"]["StreamSpecification"] == {"StreamViewType": "NEW_IMAGE"}
    (bus_id,) = t.find_resources("AWS::Events::EventBus")
    (dlq_id,) = [q for q in t.find_resources("AWS::SQS::Queue") if q.startswith("EventFailures")]
    events_fn = function_id(t, "EventsFunction")
    t.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "FunctionName": {"Ref": events_fn},
        "EventSourceArn": {"Fn::GetAtt": [Match.string_like_regexp("SignalsTable"),
                                          "StreamArn"]},
        "StartingPosition": "LATEST", "BatchSize": 100,
        "BisectBatchOnFunctionError": True, "MaximumRetryAttempts": 3,
        "FunctionResponseTypes": ["ReportBatchItemFailures"], "ParallelizationFactor": 1,
        "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": [dlq_id, "Arn"]}}},
        "FilterCriteria": {"Filters": [{"Pattern": json.dumps(
            {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"sk": {"S": ["SIG"]}}}},
            separators=(",", ":"))}]}})
    fn = t.find_resources("AWS::Lambda::Function")[events_fn]["Properties"]
    assert fn["Handler"] == "ingest.stream_handler.handler"
    assert fn["Environment"]["Variables"]["NEWSIG_EVENT_BUS"] == {"Ref": bus_id}
    # Least privilege: put events on this bus; read this table's stream; no item actions.
    statements = policy_statements(t, "EventsFunctionServiceRoleDefaultPolicy")
    granted = actions(statements)
    assert "events:PutEvents" in granted
    for st in statements:
        if "events:PutEvents" in actions([st]):
            assert st["Resource"] == {"Fn::GetAtt": [bus_id, "Arn"]}
        if "dynamodb:GetRecords" in actions([st]):
            assert "StreamArn" in json.dumps(st["Resource"])
    assert not {a for a in granted if a.startswith("dynamodb:")} - {
        "dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
        "dynamodb:ListStreams", "dynamodb:Query", "dynamodb:GetItem", "dynamodb:DeleteItem",
        "dynamodb:PutItem"}
    # Item actions only on the WebSocket registry's items, ticker copies (read) and the
    # shift cooldown items (write).
    allowed = {frozenset({"dynamodb:Query", "dynamodb:GetItem", "dynamodb:DeleteItem"}):
               ["CONN#*", "SUB#*"], frozenset({"dynamodb:Query"}): ["TKR#*"],
               frozenset({"dynamodb:PutItem"}): ["ALERT#*"]}
    for st in statements:
        item_actions = {a for a in actions([st]) if a in {
            "dynamodb:Query", "dynamodb:GetItem", "dynamodb:DeleteItem", "dynamodb:PutItem"}}
        if item_actions:
            assert st["Condition"] == {"ForAllValues:StringLike": {
                "dynamodb:LeadingKeys": allowed[frozenset(item_actions)]}}
    iterator = alarms_by_name(t)["EventsIteratorAge"]
    assert iterator["MetricName"] == "IteratorAge" and iterator["Threshold"] == 60_000


def test_a_consumer_rule_for_one_ticker(artifact: Path, tmp_path: Path) -> None:
    """What README shows a consumer adding: AAPL's Signal Created events into its queue."""
    from aws_cdk import aws_events as events
    from aws_cdk import aws_events_targets as targets
    from aws_cdk import aws_sqs as sqs

    from core.names import EVENT_SIGNAL_CREATED, EVENT_SOURCE

    _, stack = infra_app.build_app({**NO_BUNDLING, "model_artifact": str(artifact)},
                                   outdir=str(tmp_path), nag=False)
    queue = sqs.Queue(stack, "AaplSignals", enforce_ssl=True)
    events.Rule(stack, "AaplRule", event_bus=stack.bus, event_pattern=events.EventPattern(
        source=[EVENT_SOURCE], detail_type=[EVENT_SIGNAL_CREATED],
        detail={"tickers": ["AAPL"]}), targets=[targets.SqsQueue(queue)])
    t = Template.from_stack(stack)
    (bus_id,) = t.find_resources("AWS::Events::EventBus")
    t.has_resource_properties("AWS::Events::Rule", {
        "EventBusName": {"Ref": bus_id},
        "EventPattern": {"source": ["news-signals"], "detail-type": ["Signal Created"],
                         "detail": {"tickers": ["AAPL"]}},
        "Targets": [Match.object_like({"Arn": {"Fn::GetAtt": [
            Match.string_like_regexp("AaplSignals"), "Arn"]}})]})


def test_websocket_api_for_live_clients(sagemaker_stack) -> None:  # type: ignore[no-untyped-def]
    t, _ = sagemaker_stack
    (api_id,) = t.find_resources("AWS::ApiGatewayV2::Api")
    t.has_resource_properties("AWS::ApiGatewayV2::Api", {
        "ProtocolType": "WEBSOCKET", "RouteSelectionExpression": "$request.body.action"})
    routes = {r["Properties"]["RouteKey"]: r["Properties"]
              for r in t.find_resources("AWS::ApiGatewayV2::Route").values()}
    assert set(routes) == {"$connect", "$disconnect", "subscribe"}
    assert routes["$connect"]["AuthorizationType"] == "CUSTOM"
    t.has_resource_properties("AWS::ApiGatewayV2::Authorizer", {
        "AuthorizerType": "REQUEST", "IdentitySource": ["route.request.querystring.token"]})
    t.has_resource_properties("AWS::ApiGatewayV2::Stage", {
        "StageName": "prod", "AutoDeploy": True,
        "AccessLogSettings": Match.object_like({"DestinationArn": Match.any_value()}),
        "DefaultRouteSettings": Match.object_like({"ThrottlingRateLimit": 20})})
    fns = t.find_resources("AWS::Lambda::Function")
    ws_fn = function_id(t, "WebSocketFunction")
    auth_fn = function_id(t, "WebSocketAuthorizerFunction")
    assert fns[ws_fn]["Properties"]["Handler"] == "api.ws.handler"
    assert fns[auth_fn]["Properties"]["Handler"] == "api.ws.authorize"
    (secret_id,) = t.find_resources("AWS::SecretsManager::Secret")
    assert fns[auth_fn]["Properties"]["Environment"]["Variables"][
        "NEWSIG_WS_TOKEN_SECRET"] == {"Ref": secret_id}
    # Least privilege: the registry's items (CONN#, SUB#) only; the token secret only.
    ws_statements = policy_statements(t, "WebSocketFunctionServiceRoleDefaultPolicy")
    dynamo = [st for st in ws_statements if any(a.startswith("dynamodb:")
                                                for a in actions([st]))]
    assert actions(dynamo) == {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"}
    assert all(st["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"] ==
               ["CONN#*", "SUB#*"] for st in dynamo)
    auth = policy_statements(t, "WebSocketAuthorizerFunctionServiceRoleDefaultPolicy")
    (read,) = [st for st in auth if "secretsmanager:GetSecretValue" in actions([st])]
    assert read["Resource"] == {"Ref": secret_id}
    assert not any(a.startswith("dynamodb:") for a in actions(auth))
    # The stream consumer pushes: ManageConnections on this API's stage, and the endpoint.
    events = policy_statements(t, "EventsFunctionServiceRoleDefaultPolicy")
    (manage,) = [st for st in events if "execute-api:ManageConnections" in actions([st])]
    assert api_id in json.dumps(manage["Resource"]) and "/prod/" in json.dumps(
        manage["Resource"])
    env = fns[function_id(t, "EventsFunction")]["Properties"]["Environment"]["Variables"]
    assert api_id in json.dumps(env["NEWSIG_WS_ENDPOINT"])


def test_rescore_fanout(sagemaker_stack) -> None:  # type: ignore[no-untyped-def]
    """SQS -> Lambda: one window per message, partial batch failures, bounded concurrency,
    a queue that hides a running window longer than the worker can run, a dead-letter queue."""
    t, _ = sagemaker_stack
    t.has_resource_properties("AWS::Lambda::EventSourceMapping", {
        "BatchSize": 1, "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "ScalingConfig": {"MaximumConcurrency": 10}})
    t.has_resource_properties("AWS::SQS::Queue", {
        "VisibilityTimeout": 5400,
        "RedrivePolicy": Match.object_like({"maxReceiveCount": 5})})
    t.has_resource_properties("AWS::Lambda::Function", {
        "Handler": "ingest.rescore_handler.handler", "Timeout": 900})


def test_accurate_tier_needs_the_student_in_lambda() -> None:
    import aws_cdk as cdk
    import pytest

    from infra.stacks import NewsSignalsStack, StackConfig

    with pytest.raises(ValueError, match="classifier=lambda"):
        NewsSignalsStack(cdk.App(), "X", config=StackConfig(tier="accurate"))

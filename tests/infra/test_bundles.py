"""The Lambda bundles as deployed, imported from a clean interpreter.

Each bundle is built by infra.bundling.build_bundle, the code path `cdk synth` runs, for this
interpreter's Python and machine instead of Lambda's (3.14, arm64). Then a fresh
`python -I -S` whose sys.path is the bundle, the standard library and the boto3 the Lambda
runtime provides (copied from this venv's installed distributions) imports every handler and
invokes it: the ingest handler with a scheduled event, the API handler with an API Gateway
event for every route the stack serves. The environment is the one the synthesized template
gives each function (table name and endpoint filled in). AWS is a moto server on 127.0.0.1;
the feeds are a local feed server. Any module a handler loads from outside the bundle, the
runtime's boto3 or the standard library fails the test, and a bundle without one of the
project packages it needs fails to answer."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
pytest.importorskip("aws_cdk", reason="needs the infra extra")

from core.names import METRIC_INGEST_SUCCEEDED, PUBLIC_PATHS, PUBLIC_PREFIXES
from infra import app as infra_app
from infra.bundling import HANDLERS, NOT_BUNDLED, BundleTarget, build_bundle
from infra.stacks import ROUTES
from model.export import export_sagemaker
from tests.support.dynamodb import create_table
from tests.support.events import api_event, scheduled_event
from tests.support.feed_server import FeedServer, Route, rss

#: What the Lambda Python runtime ships besides the standard library.
RUNTIME_DISTRIBUTIONS = ("boto3", "botocore", "s3transfer", "jmespath", "python-dateutil",
                         "six", "urllib3")
ENDPOINT_NAME = "newsig-classifier"

RUNNER = r'''
import importlib, json, sys, sysconfig, traceback
bundle, runtime, calls_file, out_file = sys.argv[1:5]
sys.path[:0] = [bundle, runtime]
assert not any("site-packages" in p and not p.startswith((bundle, runtime)) for p in sys.path)

class Context:
    function_name = "newsig"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:newsig"
    aws_request_id = "bundle-test"
    def get_remaining_time_in_millis(self):
        return 60_000

results = []
for handler, event in json.load(open(calls_file)):
    module, _, name = handler.rpartition(".")
    try:
        out = getattr(importlib.import_module(module), name)(event, Context())
        results.append({"ok": True, "out": out})
    except BaseException as exc:
        results.append({"ok": False, "error": "".join(traceback.format_exception(exc))})
allowed = (bundle, runtime, sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"])
outside = sorted({getattr(m, "__file__", None) or "" for n, m in list(sys.modules.items())
                  if n != "__main__"} - {""})
outside = [f for f in outside if not f.startswith(allowed) and f != __file__]
json.dump({"results": results, "outside": outside}, open(out_file, "w"))
'''


def runtime_boto3(dest: Path) -> Path:
    """The runtime's boto3: these distributions' files, copied from this venv."""
    for name in RUNTIME_DISTRIBUTIONS:
        dist = metadata.distribution(name)
        for f in dist.files or []:
            src = Path(str(dist.locate_file(f)))
            if src.is_file() and "__pycache__" not in f.parts and ".." not in f.parts:
                (dest / f).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest / f)
    return dest


def resolve(value: Any, names: dict[str, str]) -> str:
    """A template value with Ref / GetAtt / Join filled from `names` (logical-id prefix ->
    the physical name this test created)."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        sep, parts = value["Fn::Join"]
        return str(sep).join(resolve(p, names) for p in parts)
    ref = value.get("Ref") or value.get("Fn::GetAtt", [""])[0]
    if ref == "AWS::Region":
        return "us-east-1"
    if ref == "AWS::URLSuffix":
        return "amazonaws.com"
    (name,) = [v for k, v in names.items() if ref.startswith(k)]
    return name


def function_env(template: dict[str, Any], handler: str, names: dict[str, str],
                 bundle: Path) -> dict[str, str]:
    (fn,) = [r["Properties"] for r in template["Resources"].values()
             if r["Type"] == "AWS::Lambda::Function" and r["Properties"]["Handler"] == handler]
    env = {k: resolve(v, names) for k, v in fn["Environment"]["Variables"].items()}
    return {k: v.replace("/var/task", str(bundle)) for k, v in env.items()}


class Deployment:
    """One bundle, its synthesized template, a moto table, and a way to invoke handlers."""

    def __init__(self, bundle: Path, template: dict[str, Any], runtime: Path, moto: str,
                 tmp: Path, table: str) -> None:
        self.bundle, self.template, self.runtime, self.moto, self.tmp = (
            bundle, template, runtime, moto, tmp)
        self.names = {"SignalsTable": table, "ClassifierEndpoint": ENDPOINT_NAME,
                      "Bus": f"bus-{table}", "WebSocketApi": "wsapi"}
        create_table(boto3.client("dynamodb", region_name="us-east-1", endpoint_url=moto,
                                  aws_access_key_id="testing", aws_secret_access_key="testing"),
                     table)
        self.feeds = tmp / "feeds.toml"

    def invoke(self, handler: str, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        env = function_env(self.template, handler, self.names, self.bundle)
        if "NEWSIG_WS_ENDPOINT" in env:  # pushes go to moto, never to a real endpoint
            env["NEWSIG_WS_ENDPOINT"] = self.moto
        env.update(NEWSIG_FEEDS_FILE=str(self.feeds), NEWSIG_FETCH_TIMEOUT="5",
                   AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                   AWS_DEFAULT_REGION="us-east-1", AWS_ENDPOINT_URL=self.moto,
                   PATH=os.environ.get("PATH", "/usr/bin"), LANG="C.UTF-8",
                   HOME=str(self.tmp))
        runner, calls, out = (self.tmp / "runner.py", self.tmp / "calls.json",
                              self.tmp / "out.json")
        runner.write_text(RUNNER)
        calls.write_text(json.dumps([[handler, e] for e in events]))
        run = subprocess.run([sys.executable, "-I", "-S", str(runner), str(self.bundle),
                              str(self.runtime), str(calls), str(out)],
                             env=env, capture_output=True, text=True, timeout=300,
                             cwd=self.tmp)
        assert run.returncode == 0, run.stderr[-3000:]
        report = json.loads(out.read_text())
        assert report["outside"] == [], "loaded from outside the bundle: " + ", ".join(
            report["outside"])
        self.stdout = run.stdout
        for r in report["results"]:
            assert r["ok"], r["error"]
        return [r["out"] for r in report["results"]]


@pytest.fixture(scope="module")
def runtime_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return runtime_boto3(tmp_path_factory.mktemp("lambda-runtime"))


@pytest.fixture(scope="module")
def target() -> BundleTarget:
    return BundleTarget.this_interpreter()


def synth_template(tmp: Path, **context: str) -> dict[str, Any]:
    _, stack = infra_app.build_app({"aws:cdk:bundling-stacks": [], **context},
                                   outdir=str(tmp), nag=False)
    from aws_cdk.assertions import Template

    return dict(Template.from_stack(stack).to_json())


@pytest.fixture(scope="module")
def onnx_bundle(tiny_model_dir: Path, target: BundleTarget,
                tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    bundle = build_bundle(tmp_path_factory.mktemp("bundle-onnx"), model_dir=tiny_model_dir,
                          target=target)
    template = synth_template(tmp_path_factory.mktemp("cdk"), classifier="lambda",
                              model_dir=str(tiny_model_dir))
    return bundle, template


@pytest.fixture(scope="module")
def sagemaker_bundle(tiny_model_dir: Path, target: BundleTarget,
                     tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    bundle = build_bundle(tmp_path_factory.mktemp("bundle-sm"), model_dir=None, target=target)
    artifact = export_sagemaker(tiny_model_dir, tmp_path_factory.mktemp("sm"))
    template = synth_template(tmp_path_factory.mktemp("cdk"), model_artifact=str(artifact))
    return bundle, template


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    server = FeedServer().start()
    server.routes["/markets.xml"] = Route(rss([
        {"title": "Apple profit rose to a record", "guid": "m1", "link": "https://n.example/1"},
        {"title": "Tesla profit fell to a loss", "guid": "m2", "link": "https://n.example/2"},
        {"title": "Board meets Monday", "guid": "m3", "link": "https://n.example/3"},
    ]))
    yield server
    server.stop()


def deployment(bundle: tuple[Path, dict[str, Any]], runtime_dir: Path, moto_endpoint: str,
               tmp_path: Path, feeds: FeedServer) -> Deployment:
    d = Deployment(bundle[0], bundle[1], runtime_dir, moto_endpoint, tmp_path,
                   table=f"signals-{tmp_path.name}")
    d.feeds.write_text(f'[[feeds]]\nid = "markets"\nurl = "{feeds.url("/markets.xml")}"\n')
    return d


def route_events() -> list[tuple[str, str, dict[str, Any]]]:
    """One API Gateway event per route the stack serves (proxy paths made concrete)."""
    out = []
    for method, path in ROUTES:
        concrete = (path.replace("/static/{proxy+}", "/static/app.js")
                    .replace("/docs/assets/{proxy+}", "/docs/assets/swagger-ui.css"))
        body = {"headline": "Apple profit rose to a record"} if method == "POST" else None
        event = api_event(method, concrete, body=body)
        event["resource"] = path
        event["requestContext"]["resourcePath"] = path
        if path == "/":
            event["requestContext"]["path"] = "/prod/"
        out.append((method, path, event))
    return out


def check_routes(responses: list[dict[str, Any]], events: list[tuple[str, str, Any]]) -> dict:
    by_route = {}
    for (method, path, _), resp in zip(events, responses, strict=True):
        assert resp["statusCode"] == 200, (method, path, resp.get("body", "")[:500])
        by_route[(method, path)] = resp
    assert "text/html" in by_route[("GET", "/")]["headers"]["content-type"]
    assert 'src="static/app.js"' in by_route[("GET", "/")]["body"]
    assert "javascript" in by_route[("GET", "/static/{proxy+}")]["headers"]["content-type"]
    assert "/signals/summary" in by_route[("GET", "/openapi.json")]["body"]
    return {k: json.loads(v["body"]) for k, v in by_route.items()
            if v["headers"].get("content-type", "").startswith("application/json")}


def test_onnx_bundle_answers_every_route_and_the_schedule(
        onnx_bundle: tuple[Path, dict[str, Any]], runtime_dir: Path, moto_endpoint: str,
        tmp_path: Path, feeds: FeedServer) -> None:
    d = deployment(onnx_bundle, runtime_dir, moto_endpoint, tmp_path, feeds)
    (ingest,) = d.invoke(HANDLERS["ingest"], [scheduled_event()])
    assert ingest["signals_written"] == 3 and ingest["feeds_ok"] == 1
    assert ingest["labels"] == {"positive": 1, "negative": 1, "neutral": 1}
    assert f'"{METRIC_INGEST_SUCCEEDED}"' in d.stdout  # the EMF the "stopped" alarm reads
    events = route_events()
    bodies = check_routes(d.invoke(HANDLERS["api"], [e for *_, e in events]), events)
    assert bodies[("POST", "/classify")]["predictions"][0]["label"] == "positive"
    signals = bodies[("GET", "/signals")]["items"]
    assert {s["title"] for s in signals} == {"Apple profit rose to a record",
                                             "Tesla profit fell to a loss", "Board meets Monday"}
    assert sum(b["total"] for b in bodies[("GET", "/signals/summary")]["buckets"]) == 3
    assert bodies[("GET", "/health")]["model_version"] == (
        onnx_bundle[0] / "model" / "model_version").read_text().strip()
    assert [f["id"] for f in bodies[("GET", "/feeds")]] == ["markets"]


def sagemaker_body(labels: list[str]) -> str:
    probs = {"negative": {"negative": 0.9, "neutral": 0.05, "positive": 0.05},
             "neutral": {"negative": 0.05, "neutral": 0.9, "positive": 0.05},
             "positive": {"negative": 0.05, "neutral": 0.05, "positive": 0.9}}
    return json.dumps({"predictions": [{"label": lb, "probabilities": probs[lb],
                                        "model_version": "endpoint-v7"} for lb in labels]})


def test_sagemaker_bundle_has_no_onnx_and_answers_through_the_endpoint(
        sagemaker_bundle: tuple[Path, dict[str, Any]], runtime_dir: Path, moto_endpoint: str,
        tmp_path: Path, feeds: FeedServer) -> None:
    bundle = sagemaker_bundle[0]
    assert not (bundle / "onnxruntime").exists() and not (bundle / "model").exists()
    d = deployment(sagemaker_bundle, runtime_dir, moto_endpoint, tmp_path, feeds)
    # moto's SageMaker runtime answers from a queue: the ingest batch, then /classify.
    httpx.post(f"{moto_endpoint}/moto-api/static/sagemaker/endpoint-results", json={
        "results": [{"Body": sagemaker_body(["positive", "negative", "neutral"]),
                     "ContentType": "application/json"},
                    {"Body": sagemaker_body(["positive"]),
                     "ContentType": "application/json"}]}).raise_for_status()
    (ingest,) = d.invoke(HANDLERS["ingest"], [scheduled_event()])
    assert ingest["signals_written"] == 3
    events = route_events()
    bodies = check_routes(d.invoke(HANDLERS["api"], [e for *_, e in events]), events)
    (prediction,) = bodies[("POST", "/classify")]["predictions"]
    assert prediction["model_version"] == "endpoint-v7" and prediction["label"] == "positive"
    assert len(bodies[("GET", "/signals")]["items"]) == 3


def test_the_page_redirects_to_its_trailing_slash_under_the_stage(
        onnx_bundle: tuple[Path, dict[str, Any]], runtime_dir: Path, moto_endpoint: str,
        tmp_path: Path, feeds: FeedServer) -> None:
    """`.../prod` and `.../prod/` both reach `/`; only the latter resolves the page's
    relative URLs, so the former is redirected there (relative Location: same host)."""
    d = deployment(onnx_bundle, runtime_dir, moto_endpoint, tmp_path, feeds)
    event = api_event("GET", "/")
    event["requestContext"]["path"] = "/prod"
    (resp,) = d.invoke(HANDLERS["api"], [event])
    assert resp["statusCode"] == 308 and resp["headers"]["location"] == "./prod/"


def test_a_bundle_missing_a_package_it_needs_fails(
        sagemaker_bundle: tuple[Path, dict[str, Any]], runtime_dir: Path, moto_endpoint: str,
        tmp_path: Path, feeds: FeedServer) -> None:
    """The bundle the previous stack built (core, api, ingest; no dashboards) cannot serve:
    the test that guards the closure does fail when a module leaves the bundle."""
    full = sagemaker_bundle[0]
    partial = tmp_path / "partial"
    partial.mkdir()
    for entry in full.iterdir():
        if entry.name != "dashboards":
            (partial / entry.name).symlink_to(entry)
    d = deployment((partial, sagemaker_bundle[1]), runtime_dir, moto_endpoint, tmp_path, feeds)
    with pytest.raises(AssertionError, match="No module named 'dashboards'"):
        d.invoke(HANDLERS["api"], [api_event("GET", "/health")])


def test_the_tooling_is_left_out_of_every_bundle(
        onnx_bundle: tuple[Path, dict[str, Any]],
        sagemaker_bundle: tuple[Path, dict[str, Any]]) -> None:
    """The CLI, the local server and the benchmarks ship in no Lambda (the handlers above
    still answer every route without them)."""
    root = Path(__file__).resolve().parents[2]
    for bundle in (onnx_bundle[0], sagemaker_bundle[0]):
        for rel in NOT_BUNDLED:
            assert (root / rel).exists(), rel  # the list names real files
            assert not (bundle / rel).exists(), f"{rel} is in {bundle.name}"
        project = [p for pkg in ("core", "api", "ingest", "dashboards")
                   for p in (bundle / pkg).rglob("*") if p.is_file()]
        assert not [p for p in project if "bench" in p.relative_to(bundle).parts]
        assert (bundle / "api" / "lambda_handler.py").exists()


def test_public_routes_match_the_guard(onnx_bundle: tuple[Path, dict[str, Any]]) -> None:
    """API Gateway asks for the key exactly where the local server would."""
    template = onnx_bundle[1]
    public = {path for _, path in ROUTES
              if path.replace("{proxy+}", "x") in PUBLIC_PATHS
              or path.startswith(PUBLIC_PREFIXES)}
    assert public == {"/", "/static/{proxy+}", "/docs", "/docs/assets/{proxy+}",
                      "/openapi.json", "/health"}
    keyless = [m for m in template["Resources"].values()
               if m["Type"] == "AWS::ApiGateway::Method"
               and not m["Properties"]["ApiKeyRequired"]]
    assert len(keyless) == len(public)


def test_deploy_target_resolves_from_aarch64_wheels(tmp_path: Path) -> None:
    """The deploy build (Python 3.14, arm64) finds a wheel for every pinned requirement:
    pip resolves it for manylinux aarch64 without installing anything."""
    from infra.bundling import DEPLOY_TARGET, ONNX_REQUIREMENTS, pip_command, requirement_files

    assert BundleTarget("3.14", "arm64") == DEPLOY_TARGET
    assert all("aarch64" in p for p in DEPLOY_TARGET.platforms)
    report = tmp_path / "report.json"
    cmd = [*pip_command(DEPLOY_TARGET, tmp_path / "out"), "--dry-run", "--report", str(report)]
    for req in requirement_files(with_model=True):
        cmd += ["-r", str(req)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=600)
    installed = {i["metadata"]["name"].lower().replace("_", "-"): i
                 for i in json.loads(report.read_text())["install"]}
    assert {"onnxruntime", "tokenizers", "numpy", "pydantic-core", "fastapi", "mangum"} <= \
        set(installed)
    for name in ("onnxruntime", "numpy", "pydantic-core", "tokenizers"):
        url = installed[name]["download_info"]["url"]
        assert "aarch64" in url and ("cp314" in url or "abi3" in url), url
    assert ONNX_REQUIREMENTS.exists()
    assert sysconfig.get_platform()  # (the test build, by contrast, is this machine's)


def test_the_stream_consumer_publishes_from_the_bundle(
        sagemaker_bundle: tuple[Path, dict[str, Any]], runtime_dir: Path, moto_endpoint: str,
        tmp_path: Path, feeds: FeedServer) -> None:
    """New-image stream records of what the store writes -> one Signal Created per signal on
    the bus (moto), routed by a rule to a queue."""
    from core.adapters.dynamodb_store import DynamoDBSignalStore
    from tests.support.builders import make_signal

    d = deployment(sagemaker_bundle, runtime_dir, moto_endpoint, tmp_path, feeds)
    kw = {"region_name": "us-east-1", "endpoint_url": moto_endpoint,
          "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    bus = d.names["Bus"]
    events, sqs = boto3.client("events", **kw), boto3.client("sqs", **kw)
    events.create_event_bus(Name=bus)
    url = sqs.create_queue(QueueName=f"q-{tmp_path.name}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    events.put_rule(Name="all", EventBusName=bus,
                    EventPattern=json.dumps({"source": ["news-signals"]}))
    events.put_targets(Rule="all", EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])
    store = DynamoDBSignalStore("unused", client=None)
    signals = [make_signal(1, tickers=["AAPL"]), make_signal(2)]
    records = []
    for s in signals:
        for item in store._signal_items(s):  # the signal item, its ticker copies, markers
            records.append({"eventName": "INSERT", "dynamodb": {
                "NewImage": item, "SequenceNumber": str(len(records) + 1),
                "StreamViewType": "NEW_IMAGE"}})
    (result,) = d.invoke(HANDLERS["events"], [{"Records": records}])
    assert result == {"batchItemFailures": []}
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert sorted(json.loads(m["Body"])["detail"]["signal_id"] for m in got) == sorted(
        s.signal_id for s in signals)


def test_the_websocket_handlers_answer_from_the_bundle(
        sagemaker_bundle: tuple[Path, dict[str, Any]], runtime_dir: Path, moto_endpoint: str,
        tmp_path: Path, feeds: FeedServer) -> None:
    kw = {"region_name": "us-east-1", "endpoint_url": moto_endpoint,
          "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    d = deployment(sagemaker_bundle, runtime_dir, moto_endpoint, tmp_path, feeds)
    d.names["WebSocketToken"] = boto3.client("secretsmanager", **kw).create_secret(
        Name=f"ws-{tmp_path.name}", SecretString="bundle-token")["ARN"]
    arn = "arn:aws:execute-api:us-east-1:123456789012:abc/prod/$connect"
    allow, deny = d.invoke(HANDLERS["ws_authorizer"], [
        {"methodArn": arn, "queryStringParameters": {"token": "bundle-token"}},
        {"methodArn": arn, "queryStringParameters": {"token": "wrong"}}])
    assert allow["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    assert deny["policyDocument"]["Statement"][0]["Effect"] == "Deny"

    def event(route: str, body: Any = None) -> dict[str, Any]:
        return {"requestContext": {"routeKey": route, "connectionId": "conn-1"},
                "body": json.dumps(body) if body is not None else None}

    connected, subscribed, bad = d.invoke(HANDLERS["ws"], [
        event("$connect"), event("subscribe", {"action": "subscribe", "tickers": ["AAPL"]}),
        event("subscribe", {"action": "subscribe", "tickers": ["?"]})])
    assert connected["statusCode"] == 200 and bad["statusCode"] == 400
    assert json.loads(subscribed["body"]) == {"subscribed": ["SUB#T:AAPL"]}
    item = boto3.client("dynamodb", **kw).get_item(
        TableName=d.names["SignalsTable"], Key={"pk": {"S": "SUB#T:AAPL"},
                                                "sk": {"S": "conn-1"}})
    assert "Item" in item

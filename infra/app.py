"""CDK app entry: `python -m infra.app` (what cdk.json runs and `make synth` calls).

cdk-nag's AwsSolutions pack runs as a CDK validation plugin; a finding fails synthesis unless
it is acknowledged below, on the narrowest construct, with its reason."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from aws_cdk import Acknowledgment, App, Environment, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

from core.names import STACK_NAME
from infra.stacks import NewsSignalsStack, StackConfig


def _ack(scope: IConstruct, rule: str, reason: str) -> None:
    Validations.of(scope).acknowledge(Acknowledgment(id=f"AwsSolutions::{rule}", reason=reason))


def acknowledge_findings(stack: NewsSignalsStack) -> None:
    """Each AwsSolutions finding this stack raises, acknowledged where it arises. The rest
    (encryption, PITR, logging, tracing, request validation, latest runtime) are met."""
    basic = "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
    for fn in (stack.api_fn, stack.ingest_fn, stack.events_fn, stack.ws_fn,
               stack.ws_authorizer_fn, stack.rescore_fn):
        role = fn.role
        assert role is not None
        _ack(role, f"AwsSolutions-IAM4[{basic}AWSLambdaBasicExecutionRole]",
             "The AWS managed basic execution policy only lets the function write its logs.")
        _ack(role, "AwsSolutions-IAM5[Resource::*]",
             "X-Ray's PutTraceSegments/PutTelemetryRecords and DynamoDB's ListStreams (the "
             "stream consumer) support no resource-level scoping.")
        if fn not in (stack.api_fn, stack.ingest_fn, stack.rescore_fn):
            continue
        _ack(role, "AwsSolutions-IAM5[Resource::<SignalsTable89526324.Arn>/index/*]",
             "Queries use the signals table's own GSIs (by_source, by_time): the grant is "
             "scoped to this table's indexes.")
    _ack(stack.api, f"AwsSolutions-IAM4[{basic}AmazonAPIGatewayPushToCloudWatchLogs]",
         "API Gateway's account-level CloudWatch role for execution and access logs.")
    _ack(stack.api, "AwsSolutions-COG4",
         "Clients are programs authorised by API key + usage plan, not Cognito users.")
    _ack(stack.api, "AwsSolutions-APIG3",
         "WAF is left to the deployer (it costs more than this API); stage throttling and the "
         "usage plan bound abuse.")
    assert stack.events_fn.role is not None
    _ack(stack.events_fn.role, "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:execute-api:"
         f"{stack.config.region}:<AWS::AccountId>:<WebSocketApi34BCF99B>/prod/*/@connections/*]",
         "Pushing to WebSocket clients: connection ids exist only at run time; scoped to this "
         "API's prod stage connections.")
    _ack(stack.ws_token, "AwsSolutions-SMG4",
         "A client token, not a credential of another system: rotating it would cut every "
         "client; replace it by updating the secret when needed.")
    _ack(stack.ws_api, "AwsSolutions-APIG4",
         "$disconnect and subscribe run on a connection that $connect already authorised "
         "(API Gateway WebSocket authorizers apply to $connect only).")
    _ack(stack.event_failures, "AwsSolutions-SQS3", "This queue is itself where stream "
         "batches that could not be published are kept (the consumer's on-failure "
         "destination).")
    _ack(stack.failures, "AwsSolutions-SQS3", "This queue is itself where failed ingest runs "
         "and undeliverable schedule events are kept (on-failure destination and rule DLQ).")
    _ack(stack.api, "AwsSolutions-APIG4",
         "Every data method requires an API key bound to a usage plan (per-client throttling "
         "and quota): the clients are programs, not Cognito users. The dashboard page, its "
         "assets, the API docs and /health are public by design: they hold no data (the page "
         "asks for the key), as on the local server (core.names.PUBLIC_PATHS).")
    if stack.endpoint is not None:
        role = stack.endpoint.role
        _ack(role, "AwsSolutions-IAM5[Resource::*]",
             "ecr:GetAuthorizationToken has no resource scope; cloudwatch:PutMetricData is "
             "conditioned on the /aws/sagemaker/Endpoints namespace.")
        _ack(role, "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:"
                   f"{stack.config.region}:<AWS::AccountId>:log-group:/aws/sagemaker/"
                   "Endpoints/*]",
             "SageMaker names the endpoint's log group after the endpoint at creation time.")


def build_app(context: dict[str, Any] | None = None, outdir: str | None = None,
              nag: bool = True) -> tuple[App, NewsSignalsStack]:
    app = App(context=context or {}, outdir=outdir)
    region = (app.node.try_get_context("region") or os.environ.get("CDK_DEFAULT_REGION")
              or "us-east-1")
    app.node.set_context("region", region)
    config = StackConfig.from_context(app.node.try_get_context)
    stack = NewsSignalsStack(
        app, STACK_NAME, config=config,
        env=Environment(account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=region),
        description="News Signals: financial news sentiment (API, ingestion, signals)")
    if nag:
        Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))
        acknowledge_findings(stack)
    return app, stack


def cli_context(argv: list[str]) -> dict[str, Any]:
    """cdk.json's context, then `-c key=value` pairs (what `make synth CONTEXT=...` passes).
    Under the cdk CLI, the CLI supplies both through CDK_CONTEXT_JSON instead."""
    context: dict[str, Any] = {}
    if "CDK_CONTEXT_JSON" not in os.environ and Path("cdk.json").exists():
        context.update(json.loads(Path("cdk.json").read_text()).get("context", {}))
    args = iter(argv)
    for arg in args:
        if arg in ("-c", "--context"):
            key, sep, value = next(args, "").partition("=")
            if not sep:
                raise SystemExit(f"infra.app: expected -c key=value, got {key!r}")
            context[key] = value
        else:
            raise SystemExit(f"infra.app: unknown argument {arg!r} (use -c key=value)")
    return context


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    outdir = os.environ.get("CDK_OUTDIR", "cdk.out")
    app, stack = build_app(cli_context(sys.argv[1:] if argv is None else argv), outdir=outdir)
    app.synth()
    print(json.dumps({"stack": stack.stack_name, "outdir": outdir,
                      "classifier": stack.config.classifier, "region": stack.config.region}))


if __name__ == "__main__":
    main()

"""What every function of the stack shares: runtime, architecture, a log group of its own,
tracing, the service name; and pinning a stateful resource's logical ID across refactors."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnResource, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct, IConstruct

from infra.bundling import DEPLOY_TARGET

RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = {"arm64": lambda_.Architecture.ARM_64,
                "x86_64": lambda_.Architecture.X86_64}[DEPLOY_TARGET.architecture]
assert RUNTIME.name == f"python{DEPLOY_TARGET.python_version}"


def function(scope: Construct, cid: str, code: lambda_.Code, handler: str,
             env: dict[str, str], *, memory: int, timeout: Duration, service: str,
             **extra: Any) -> lambda_.Function:
    log_group = logs.LogGroup(scope, f"{cid}Logs", retention=logs.RetentionDays.ONE_MONTH,
                              removal_policy=RemovalPolicy.DESTROY)
    return lambda_.Function(
        scope, f"{cid}Function", runtime=RUNTIME, architecture=ARCHITECTURE, code=code,
        handler=handler, memory_size=memory, timeout=timeout, log_group=log_group,
        environment={**env, "POWERTOOLS_SERVICE_NAME": service},
        tracing=lambda_.Tracing.ACTIVE, description=f"News Signals {service}", **extra)


def leading_keys(*prefixes: str) -> dict[str, Any]:
    """An IAM condition: only items whose partition key starts with one of these prefixes
    (core.names defines them; the adapters build keys from the same constants)."""
    return {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{p}*" for p in prefixes]}}


def grant_items(fn: lambda_.Function, table_arn: str, actions: list[str],
                *prefixes: str) -> None:
    fn.add_to_role_policy(iam.PolicyStatement(actions=actions, resources=[table_arn],
                                              conditions=leading_keys(*prefixes)))


def pin(resource: IConstruct, logical_id: str) -> None:
    """Keep a stateful resource's logical ID as the stack had it before it moved into a
    construct: CloudFormation would otherwise replace it on the next deploy (a new API URL,
    API key, WebSocket token or alarm topic; a named event bus cannot even be replaced).
    tests/infra/test_stack.py checks every pinned ID against the template."""
    node = resource.node.default_child if not isinstance(resource, CfnResource) else resource
    assert isinstance(node, CfnResource), resource
    node.override_logical_id(logical_id)

"""The News Signals stack: composes one construct per capability (infra/constructs/: the
table, the classifier endpoint, ingestion, the API, events, the WebSocket API, alarms); every
choice comes from CDK context.

Failures reach a human: an ingest run that fails after Lambda's async retries lands on the
IngestFailures queue (its on-failure destination; the schedule's undeliverable events land
there too), and every alarm publishes to one SNS topic, which `-c alarm_email=...`
subscribes an address to."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct
from pydantic import BaseModel, ConfigDict, Field

from core.names import METRIC_NAMESPACE, RELEASE_MODEL_DIR
from dashboards.cloudwatch import NewsSignalsDashboard
from infra.bundling import lambda_code
from infra.constructs.alarms import Alarms
from infra.constructs.api import NOT_ROUTED, ROUTES, ServiceApi, is_public
from infra.constructs.endpoint import ClassifierEndpoint
from infra.constructs.events import SignalEvents
from infra.constructs.ingest import Ingestion
from infra.constructs.rescore import RescoreFanout
from infra.constructs.table import SignalsTable
from infra.constructs.websocket import LiveWebSocket

__all__ = ["NOT_ROUTED", "ROUTES", "NewsSignalsStack", "StackConfig", "is_public"]

LAMBDA_MODEL_DIR = "/var/task/model"
FEEDS_IN_BUNDLE = "/var/task/ingest/feeds.toml"


#: The DynamoDB actions each function's code calls (core/adapters/dynamodb_store.py).
#: TransactWriteItems is authorised by PutItem on each item.
API_TABLE_ACTIONS = ("dynamodb:Query", "dynamodb:GetItem", "dynamodb:DescribeTable")
INGEST_TABLE_ACTIONS = (*API_TABLE_ACTIONS, "dynamodb:BatchGetItem", "dynamodb:PutItem",
                        "dynamodb:UpdateItem")


class StackConfig(BaseModel):
    """CDK context, parsed once (`cdk synth -c classifier=lambda -c ingest_rate_minutes=10`):
    every field is a context key; values arrive as strings and are validated here."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    region: str = "us-east-1"
    classifier: Literal["sagemaker", "lambda"] = "sagemaker"
    model_artifact: Path = Path("artifacts/sagemaker/model.tar.gz")
    model_dir: Path = RELEASE_MODEL_DIR
    instance_type: str | None = None       # None = serverless endpoint
    min_instances: int = Field(default=1, ge=0)
    max_instances: int = Field(default=2, ge=1)
    ingest_rate_minutes: int = Field(default=5, ge=1)
    api_rate_limit: float = Field(default=50.0, gt=0)
    api_burst_limit: int = Field(default=100, ge=1)
    retention_days: int | None = Field(default=None, ge=1)  # DynamoDB TTL; None keeps all
    latency_alarm_ms: float = Field(default=1000.0, gt=0)
    retain_table: bool = True
    #: Table deletion protection; `-c deletion_protection=false` for throwaway test stacks.
    deletion_protection: bool = True
    #: Subscribed to the alarm topic (the address confirms by email).
    alarm_email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    #: Serverless endpoints: alarm when a cold start's model setup takes longer than this.
    model_setup_alarm_s: float = Field(default=60.0, gt=0)
    #: Reserved concurrency of the API function (0: share the account's unreserved pool).
    #: Bounds what a flood can take from the account; the stage throttle (50 rps, burst 100)
    #: at ~50 ms a request needs a few. Accounts still at Lambda's 10-execution starting quota
    #: cannot reserve any: pass 0 there (the ingest function's 1 needs the quota raised too).
    api_reserved_concurrency: int = Field(default=20, ge=0)
    #: "accurate": the Lambdas run the student in process (needs classifier=lambda) and send
    #: the uncertain headlines to a SageMaker endpoint hosting the teacher.
    tier: Literal["fast", "accurate"] = "fast"
    #: The teacher's SageMaker artifact (`newsig model teacher export --sagemaker DIR`).
    teacher_artifact: Path = Path("artifacts/sagemaker-teacher/model.tar.gz")
    #: Rescore workers at once (SQS event source maximum concurrency, 2-1000).
    rescore_concurrency: int = Field(default=10, ge=2, le=1000)

    @classmethod
    def from_context(cls, get: Callable[[str], Any]) -> StackConfig:
        given = {name: get(name) for name in cls.model_fields}
        return cls.model_validate({k: v for k, v in given.items() if v not in (None, "")})


class NewsSignalsStack(Stack):
    def __init__(self, scope: Construct, cid: str, *, config: StackConfig, **kwargs: object
                 ) -> None:
        super().__init__(scope, cid, **kwargs)  # type: ignore[arg-type]
        in_lambda = config.classifier == "lambda"
        self.config = config

        self.table = SignalsTable(self, "Signals", retain=config.retain_table,
                                  deletion_protection=config.deletion_protection).table
        store_url = f"dynamodb://{self.table.table_name}?region={config.region}"
        if config.retention_days:
            store_url += f"&ttl_days={config.retention_days}"
        env = {"NEWSIG_STORE_URL": store_url, "NEWSIG_FEEDS_FILE": FEEDS_IN_BUNDLE,
               "NEWSIG_AWS_REGION": config.region,
               "POWERTOOLS_METRICS_NAMESPACE": METRIC_NAMESPACE, "POWERTOOLS_LOG_LEVEL": "INFO"}
        if config.tier == "accurate" and not in_lambda:
            raise ValueError("tier=accurate runs the student in the Lambdas: use it with "
                             "-c classifier=lambda")
        self.endpoint: ClassifierEndpoint | None = None
        if in_lambda:
            env.update(NEWSIG_CLASSIFIER="onnx", NEWSIG_MODEL_DIR=LAMBDA_MODEL_DIR)
        else:
            self.endpoint = self._endpoint(
                "Classifier", config.model_artifact, f"run `newsig model export --sagemaker "
                f"{config.model_artifact.parent}` (or use -c classifier=lambda)")
            env.update(NEWSIG_CLASSIFIER="sagemaker",
                       NEWSIG_SAGEMAKER_ENDPOINT=self.endpoint.endpoint_name)

        self.teacher: ClassifierEndpoint | None = None
        if config.tier == "accurate":
            self.teacher = self._endpoint(
                "Teacher", config.teacher_artifact, f"run `make teacher` and `newsig model "
                f"teacher export --sagemaker {config.teacher_artifact.parent}`")
            env.update(NEWSIG_TIER="accurate",
                       NEWSIG_TEACHER_ENDPOINT=self.teacher.endpoint_name)

        code = lambda_code(config.model_dir if in_lambda else None)
        front = ServiceApi(self, "Front", code=code, env=env, table=self.table,
                           in_lambda=in_lambda, table_actions=API_TABLE_ACTIONS,
                           rate_limit=config.api_rate_limit,
                           burst_limit=config.api_burst_limit,
                           reserved_concurrency=config.api_reserved_concurrency)
        ingestion = Ingestion(self, "Ingestion", code=code, env=env, table=self.table,
                              rate_minutes=config.ingest_rate_minutes, in_lambda=in_lambda,
                              table_actions=INGEST_TABLE_ACTIONS)
        signal_events = SignalEvents(self, "Events", code=code, env=env, table=self.table)
        live = LiveWebSocket(self, "Live", code=code, env=env, table=self.table,
                             pusher=signal_events.fn)
        self.api_fn, self.api = front.fn, front.api
        self.ingest_fn, self.failures = ingestion.fn, ingestion.failures
        self.events_fn, self.bus = signal_events.fn, signal_events.bus
        self.event_failures = signal_events.failures
        self.ws_fn, self.ws_authorizer_fn = live.fn, live.authorizer_fn
        self.ws_api, self.ws_stage, self.ws_token = live.api, live.stage, live.token
        fanout = RescoreFanout(self, "Rescoring", code=code, env=env, table=self.table,
                               concurrency=config.rescore_concurrency)
        self.rescore_fn, self.rescore_queue = fanout.fn, fanout.queue
        for endpoint in (self.endpoint, self.teacher):
            if endpoint:
                invoke = iam.PolicyStatement(actions=["sagemaker:InvokeEndpoint"],
                                             resources=[endpoint.endpoint_arn])
                for fn in (self.api_fn, self.ingest_fn, self.rescore_fn):
                    fn.add_to_role_policy(invoke)

        NewsSignalsDashboard(self, "Dashboard", api_fn=self.api_fn, ingest_fn=self.ingest_fn,
                             api=self.api, endpoint_name=self.endpoint.endpoint_name
                             if self.endpoint else None)
        alarms = Alarms(self, "Alarms", rate_minutes=config.ingest_rate_minutes,
                        ingest_fn=self.ingest_fn, ingest_failures=self.failures,
                        api_fn=self.api_fn, api=self.api, table=self.table,
                        events_fn=self.events_fn, event_failures=self.event_failures,
                        rescore_dead_letters=fanout.dead_letters,
                        endpoint=self.endpoint, latency_alarm_ms=config.latency_alarm_ms,
                        model_setup_alarm_s=config.model_setup_alarm_s,
                        email=config.alarm_email)
        self.alarm_topic, self.alarms = alarms.topic, alarms.alarms
        for fn in (self.api_fn, self.ingest_fn, self.events_fn, self.ws_fn,
                   self.ws_authorizer_fn, self.rescore_fn):
            self._depend_on_policy_only(fn)

    def _endpoint(self, cid: str, artifact: Path, how: str) -> ClassifierEndpoint:
        """A SageMaker endpoint for a model artifact (the student's, or the teacher's in the
        accurate tier), sized by the same context keys; a clear error if it is not built."""
        if not artifact.exists():
            raise FileNotFoundError(f"{artifact} not found: {how}")
        c = self.config
        return ClassifierEndpoint(self, cid, model_artifact=artifact, region=c.region,
                                  instance_type=c.instance_type, min_instances=c.min_instances,
                                  max_instances=c.max_instances)

    def _depend_on_policy_only(self, fn: lambda_.Function) -> None:
        """CDK makes a function depend on its role and the role's policy; the role is already
        implied by the GetAtt (cfn-lint W3005), so DependsOn keeps the policy alone."""
        assert fn.role is not None
        policy = fn.role.node.find_child("DefaultPolicy").node.default_child
        assert isinstance(policy, iam.CfnPolicy)
        fn.node.default_child.add_override(  # type: ignore[union-attr]
            "DependsOn", [self.get_logical_id(policy)])

"""The News Signals stack: composes the constructs; every choice comes from CDK context.

Failures reach a human: an ingest run that fails after Lambda's async retries lands on the
IngestFailures queue (its on-failure destination; the schedule's undeliverable events land
there too), and every alarm publishes to one SNS topic, which `-c alarm_email=...`
subscribes an address to."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as apigwv2_auth
from aws_cdk import aws_apigatewayv2_integrations as apigwv2_int
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from pydantic import BaseModel, ConfigDict, Field

from core.names import (
    EVENT_SIGNAL_CREATED,
    EVENT_SOURCE,
    METRIC_FEED_FAILURES,
    METRIC_INGEST_SUCCEEDED,
    METRIC_NAMESPACE,
    PUBLIC_PATHS,
    PUBLIC_PREFIXES,
    RELEASE_MODEL_DIR,
    SERVICE_API,
    SERVICE_EVENTS,
    SERVICE_INGEST,
    TABLE_SORT_KEY,
)
from dashboards.cloudwatch import NewsSignalsDashboard
from infra.bundling import DEPLOY_TARGET, HANDLERS, lambda_code
from infra.constructs.endpoint import ClassifierEndpoint
from infra.constructs.table import SignalsTable

LAMBDA_MODEL_DIR = "/var/task/model"
FEEDS_IN_BUNDLE = "/var/task/ingest/feeds.toml"
RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = {"arm64": lambda_.Architecture.ARM_64,
                "x86_64": lambda_.Architecture.X86_64}[DEPLOY_TARGET.architecture]
assert RUNTIME.name == f"python{DEPLOY_TARGET.python_version}"

#: Every request/response route of the API app, as API Gateway serves it (method, path).
#: `{proxy+}` stands for the app's static mounts. tests/infra checks this against the app.
ROUTES: tuple[tuple[str, str], ...] = (
    ("POST", "/classify"), ("GET", "/signals"), ("GET", "/signals/summary"),
    ("GET", "/feeds"), ("GET", "/health"), ("GET", "/openapi.json"),
    ("GET", "/"), ("GET", "/static/{proxy+}"), ("GET", "/docs"), ("GET", "/docs/assets/{proxy+}"))
#: App routes API Gateway does not serve, and why.
NOT_ROUTED = {("GET", "/signals/stream"): "server-sent events hold a connection open, which "
              "REST API + Lambda cannot; on AWS live signals come through the WebSocket API "
              "and the news-signals bus",
              ("GET", "/alerts"): "sentiment-shift alerts run in the local service (newsig "
              "serve --alerts); on AWS they are not built yet"}


def is_public(path: str) -> bool:
    """The same rule as the local server's guard (core.names): no API key needed."""
    concrete = path.replace("{proxy+}", "x")
    return concrete in PUBLIC_PATHS or concrete.startswith(PUBLIC_PREFIXES)


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
        self.endpoint: ClassifierEndpoint | None = None
        if in_lambda:
            env.update(NEWSIG_CLASSIFIER="onnx", NEWSIG_MODEL_DIR=LAMBDA_MODEL_DIR)
        else:
            if not config.model_artifact.exists():
                raise FileNotFoundError(
                    f"{config.model_artifact} not found: run `newsig model export --sagemaker "
                    f"{config.model_artifact.parent}` (or use -c classifier=lambda)")
            self.endpoint = ClassifierEndpoint(
                self, "Classifier", model_artifact=config.model_artifact, region=config.region,
                instance_type=config.instance_type, min_instances=config.min_instances,
                max_instances=config.max_instances)
            env.update(NEWSIG_CLASSIFIER="sagemaker",
                       NEWSIG_SAGEMAKER_ENDPOINT=self.endpoint.endpoint_name)

        code = lambda_code(config.model_dir if in_lambda else None)
        self.api_fn = self._function("Api", code, HANDLERS["api"], env,
                                     memory=2048 if in_lambda else 512,
                                     timeout=Duration.seconds(29), service=SERVICE_API,
                                     reserved_concurrent_executions=(
                                         config.api_reserved_concurrency or None))
        # One run at a time (reserved concurrency 1): a run may take up to the schedule's
        # interval, and overlapping runs would fetch and classify the same items twice.
        self.failures = sqs.Queue(self, "IngestFailures", retention_period=Duration.days(14),
                                  encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True)
        self.ingest_fn = self._function(
            "Ingest", code, HANDLERS["ingest"], env, memory=2048 if in_lambda else 1024,
            timeout=Duration.minutes(min(config.ingest_rate_minutes, 15)),
            service=SERVICE_INGEST, reserved_concurrent_executions=1, retry_attempts=2,
            max_event_age=Duration.minutes(max(2 * config.ingest_rate_minutes, 5)),
            on_failure=destinations.SqsDestination(self.failures))
        self._grant_table(self.api_fn, API_TABLE_ACTIONS)
        self._grant_table(self.ingest_fn, INGEST_TABLE_ACTIONS)
        self._events(code, env)
        self._websocket(code, env)
        if self.endpoint:
            invoke = iam.PolicyStatement(actions=["sagemaker:InvokeEndpoint"],
                                         resources=[self.endpoint.endpoint_arn])
            for fn in (self.api_fn, self.ingest_fn):
                fn.add_to_role_policy(invoke)

        self.api = self._rest_api(config)
        self._schedule(config)
        NewsSignalsDashboard(self, "Dashboard", api_fn=self.api_fn, ingest_fn=self.ingest_fn,
                             api=self.api, endpoint_name=self.endpoint.endpoint_name
                             if self.endpoint else None)
        self.alarm_topic = sns.Topic(self, "AlarmTopic", display_name="News Signals alarms",
                                     enforce_ssl=True)
        if config.alarm_email:
            self.alarm_topic.add_subscription(
                subscriptions.EmailSubscription(config.alarm_email))
        self.alarms = self._alarms(config)
        for fn in (self.api_fn, self.ingest_fn, self.events_fn, self.ws_fn,
                   self.ws_authorizer_fn):
            self._depend_on_policy_only(fn)

    # -- pieces ------------------------------------------------------------------------
    def _function(self, cid: str, code: lambda_.Code, handler: str, env: dict[str, str], *,
                  memory: int, timeout: Duration, service: str, **extra: Any
                  ) -> lambda_.Function:
        log_group = logs.LogGroup(self, f"{cid}Logs", retention=logs.RetentionDays.ONE_MONTH,
                                  removal_policy=RemovalPolicy.DESTROY)
        return lambda_.Function(
            self, f"{cid}Function", runtime=RUNTIME, architecture=ARCHITECTURE, code=code,
            handler=handler, memory_size=memory, timeout=timeout, log_group=log_group,
            environment={**env, "POWERTOOLS_SERVICE_NAME": service},
            tracing=lambda_.Tracing.ACTIVE,
            description=f"News Signals {service}", **extra)

    def _events(self, code: lambda_.Code, env: dict[str, str]) -> None:
        """DynamoDB Streams (new images) -> the stream consumer -> the `news-signals` bus, one
        `Signal Created` event per signal. Only inserted signal items reach the function
        (an event-source filter; the handler checks again). Partial batch failures, bisect on
        error, 3 retries, then the batch's stream coordinates go to the EventFailures queue."""
        self.bus = events.EventBus(self, "Bus", event_bus_name="news-signals",
                                   description="News Signals: one Signal Created per signal")
        self.event_failures = sqs.Queue(
            self, "EventFailures", retention_period=Duration.days(14),
            encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True)
        self.events_fn = self._function(
            "Events", code, HANDLERS["events"],
            {**env, "NEWSIG_EVENT_BUS": self.bus.event_bus_name},
            memory=256, timeout=Duration.seconds(60), service=SERVICE_EVENTS,
            # One batch per shard at a time (parallelization 1); an on-demand table has a
            # handful of shards.
            reserved_concurrent_executions=5)
        self.events_fn.add_event_source(event_sources.DynamoEventSource(
            self.table, starting_position=lambda_.StartingPosition.LATEST, batch_size=100,
            max_batching_window=Duration.seconds(1), bisect_batch_on_error=True,
            retry_attempts=3, max_record_age=Duration.hours(6),
            report_batch_item_failures=True, parallelization_factor=1,
            on_failure=event_sources.SqsDlq(self.event_failures),
            filters=[lambda_.FilterCriteria.filter({
                "eventName": lambda_.FilterRule.is_equal("INSERT"),
                "dynamodb": {"NewImage": {TABLE_SORT_KEY: {
                    "S": lambda_.FilterRule.is_equal("SIG")}}}})]))
        self.bus.grant_put_events_to(self.events_fn)
        CfnOutput(self, "EventBusName", value=self.bus.event_bus_name,
                  description=f"Rules on this bus match source {EVENT_SOURCE!r}, detail-type "
                              f"{EVENT_SIGNAL_CREATED!r}; detail is the signal's JSON")

    def _websocket(self, code: lambda_.Code, env: dict[str, str]) -> None:
        """Live signals for clients on AWS: a WebSocket API. $connect is authorised by a
        Lambda authorizer against a generated token in Secrets Manager; `subscribe` picks
        tickers and sources; the stream consumer pushes each new signal to the matching
        connections (and removes gone ones). Connections live 2 hours (API Gateway's limit)
        and their items carry the table's TTL."""
        self.ws_token = secretsmanager.Secret(
            self, "WebSocketToken", description="News Signals WebSocket client token",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=40, exclude_punctuation=True))
        ws_env = {**env, "NEWSIG_WS_TOKEN_SECRET": self.ws_token.secret_arn}
        # Connects, subscribes and authorisations are short and rare: 10 at once each.
        self.ws_fn = self._function("WebSocket", code, HANDLERS["ws"], env, memory=256,
                                    timeout=Duration.seconds(10), service=SERVICE_API,
                                    reserved_concurrent_executions=10)
        self.ws_authorizer_fn = self._function(
            "WebSocketAuthorizer", code, HANDLERS["ws_authorizer"], ws_env, memory=256,
            timeout=Duration.seconds(5), service=SERVICE_API,
            reserved_concurrent_executions=10)
        self.ws_token.grant_read(self.ws_authorizer_fn)
        integration = apigwv2_int.WebSocketLambdaIntegration("WsIntegration", self.ws_fn)
        self.ws_api = apigwv2.WebSocketApi(
            self, "WebSocketApi", api_name="news-signals-live",
            description="News Signals: live signals for subscribed clients",
            route_selection_expression="$request.body.action",
            connect_route_options=apigwv2.WebSocketRouteOptions(
                integration=integration,
                authorizer=apigwv2_auth.WebSocketLambdaAuthorizer(
                    "TokenAuthorizer", self.ws_authorizer_fn,
                    identity_source=["route.request.querystring.token"])),
            disconnect_route_options=apigwv2.WebSocketRouteOptions(integration=integration))
        self.ws_api.add_route("subscribe", integration=integration)
        ws_logs = logs.LogGroup(self, "WebSocketAccessLogs",
                                retention=logs.RetentionDays.ONE_MONTH,
                                removal_policy=RemovalPolicy.DESTROY)
        self.ws_stage = apigwv2.WebSocketStage(
            self, "WebSocketStage", web_socket_api=self.ws_api, stage_name="prod",
            auto_deploy=True, throttle=apigwv2.ThrottleSettings(rate_limit=20, burst_limit=40))
        stage = self.ws_stage.node.default_child
        assert isinstance(stage, apigwv2.CfnStage)
        stage.access_log_settings = apigwv2.CfnStage.AccessLogSettingsProperty(
            destination_arn=ws_logs.log_group_arn, format=json.dumps({
                "requestId": "$context.requestId", "ip": "$context.identity.sourceIp",
                "routeKey": "$context.routeKey", "status": "$context.status",
                "connectionId": "$context.connectionId",
                "requestTime": "$context.requestTime"}))
        # The registry's items only: CONN# and SUB# partitions (dynamodb:LeadingKeys).
        registry_items = {"ForAllValues:StringLike": {
            "dynamodb:LeadingKeys": ["CONN#*", "SUB#*"]}}
        self.ws_fn.add_to_role_policy(iam.PolicyStatement(
            actions=["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"],
            resources=[self.table.table_arn], conditions=registry_items))
        self.events_fn.add_to_role_policy(iam.PolicyStatement(
            actions=["dynamodb:Query", "dynamodb:GetItem", "dynamodb:DeleteItem"],
            resources=[self.table.table_arn], conditions=registry_items))
        # Sentiment shifts: a ticker's history (its TKR# copies), and one ALERT# item per
        # ticker and direction as the cooldown.
        self.events_fn.add_to_role_policy(iam.PolicyStatement(
            actions=["dynamodb:Query"], resources=[self.table.table_arn],
            conditions={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["TKR#*"]}}))
        self.events_fn.add_to_role_policy(iam.PolicyStatement(
            actions=["dynamodb:PutItem"], resources=[self.table.table_arn],
            conditions={"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["ALERT#*"]}}))
        self.events_fn.add_environment("NEWSIG_WS_ENDPOINT", self.ws_stage.callback_url)
        self.ws_stage.grant_management_api_access(self.events_fn)
        CfnOutput(self, "WebSocketUrl", value=self.ws_stage.url,
                  description="wss://... ?token=<the WebSocketToken secret's value>")
        CfnOutput(self, "WebSocketTokenSecret", value=self.ws_token.secret_arn)

    def _depend_on_policy_only(self, fn: lambda_.Function) -> None:
        """CDK makes a function depend on its role and the role's policy; the role is already
        implied by the GetAtt (cfn-lint W3005), so DependsOn keeps the policy alone."""
        assert fn.role is not None
        policy = fn.role.node.find_child("DefaultPolicy").node.default_child
        assert isinstance(policy, iam.CfnPolicy)
        fn.node.default_child.add_override(  # type: ignore[union-attr]
            "DependsOn", [self.get_logical_id(policy)])

    def _grant_table(self, fn: lambda_.Function, table_actions: tuple[str, ...]) -> None:
        """Exactly the calls the store makes: on the table and its indexes (queries use the
        by_source and by_time GSIs); no Scan, DeleteItem or stream actions."""
        fn.add_to_role_policy(iam.PolicyStatement(
            actions=list(table_actions),
            resources=[self.table.table_arn, f"{self.table.table_arn}/index/*"]))

    def _rest_api(self, config: StackConfig) -> apigw.RestApi:
        access_logs = logs.LogGroup(self, "ApiAccessLogs", retention=logs.RetentionDays.ONE_MONTH,
                                    removal_policy=RemovalPolicy.DESTROY)
        api = apigw.RestApi(
            self, "Api", rest_api_name="news-signals",
            description="News Signals: classify headlines, query signals",
            cloud_watch_role=True,
            deploy_options=apigw.StageOptions(
                stage_name="prod", throttling_rate_limit=config.api_rate_limit,
                throttling_burst_limit=config.api_burst_limit, metrics_enabled=True,
                tracing_enabled=True, logging_level=apigw.MethodLoggingLevel.ERROR,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=False, http_method=True, ip=True, protocol=True,
                    request_time=True, resource_path=True, response_length=True,
                    status=True, user=False)))
        integration = apigw.LambdaIntegration(self.api_fn)
        validator = api.add_request_validator(
            "Validator", validate_request_body=True, validate_request_parameters=True)
        headline = {"type": apigw.JsonSchemaType.STRING, "min_length": 1, "max_length": 1000}
        headlines = {"type": apigw.JsonSchemaType.ARRAY, "min_items": 1, "max_items": 64,
                     "items": apigw.JsonSchema(**headline)}
        model = api.add_model("ClassifyRequest", content_type="application/json",
                              model_name="ClassifyRequest", schema=apigw.JsonSchema(
                                  schema=apigw.JsonSchemaVersion.DRAFT4,
                                  type=apigw.JsonSchemaType.OBJECT,
                                  additional_properties=False,
                                  min_properties=1, max_properties=1,
                                  properties={
                                      "headline": apigw.JsonSchema(**headline),
                                      "headlines": apigw.JsonSchema(**headlines),
                                      "inputs": apigw.JsonSchema(one_of=[
                                          apigw.JsonSchema(**headline),
                                          apigw.JsonSchema(**headlines)]),
                                      "query": apigw.JsonSchema(
                                          type=apigw.JsonSchemaType.OBJECT,
                                          required=["headline"],
                                          properties={"headline": apigw.JsonSchema(**headline)})}))
        for method, path in ROUTES:
            resource = api.root.resource_for_path(path)
            public = is_public(path)
            options: dict[str, Any] = {"api_key_required": not public}
            if (method, path) == ("POST", "/classify"):
                options.update(request_validator=validator,
                               request_models={"application/json": model})
            resource.add_method(method, integration, **options)
        key = api.add_api_key("ApiKey", description="News Signals default API key")
        plan = api.add_usage_plan(
            "UsagePlan", name="news-signals-default",
            throttle=apigw.ThrottleSettings(rate_limit=config.api_rate_limit,
                                            burst_limit=config.api_burst_limit),
            quota=apigw.QuotaSettings(limit=1_000_000, period=apigw.Period.MONTH))
        plan.add_api_key(key)
        plan.add_api_stage(stage=api.deployment_stage)
        return api

    def _schedule(self, config: StackConfig) -> events.Rule:
        """EventBridge invokes the ingest function asynchronously: events it cannot deliver
        go to the failures queue; Lambda retries failed runs twice, then sends them there."""
        return events.Rule(
            self, "IngestSchedule", description="Poll the news feeds",
            schedule=events.Schedule.rate(Duration.minutes(config.ingest_rate_minutes)),
            targets=[targets.LambdaFunction(
                self.ingest_fn, dead_letter_queue=self.failures, retry_attempts=2,
                max_event_age=Duration.minutes(max(config.ingest_rate_minutes, 5)))])

    def _alarm(self, cid: str, metric: cw.IMetric, description: str, *, threshold: float = 1,
               periods: int = 1, missing: cw.TreatMissingData = cw.TreatMissingData.NOT_BREACHING,
               comparison: cw.ComparisonOperator =
               cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD) -> cw.Alarm:
        return metric.create_alarm(self, cid, threshold=threshold, evaluation_periods=periods,
                                   datapoints_to_alarm=periods, comparison_operator=comparison,
                                   treat_missing_data=missing, alarm_description=description)

    def _alarms(self, config: StackConfig) -> dict[str, cw.Alarm]:
        """What each alarm watches is listed in README ("Alarms")."""
        minutes = config.ingest_rate_minutes
        interval = Duration.minutes(minutes)
        five = Duration.minutes(5)

        def emf(name: str) -> cw.Metric:
            return cw.Metric(namespace=METRIC_NAMESPACE, metric_name=name, statistic="Sum",
                             period=interval, dimensions_map={"service": SERVICE_INGEST})

        def table_metric(name: str) -> cw.Metric:
            return cw.Metric(namespace="AWS/DynamoDB", metric_name=name, statistic="Sum",
                             period=five, dimensions_map={"TableName": self.table.table_name})

        alarms = {
            "IngestFailuresQueued": self._alarm(
                "IngestFailuresQueued",
                self.failures.metric_approximate_number_of_messages_visible(period=five),
                "A failed ingest run (after Lambda's retries) or an undeliverable schedule "
                "event is waiting in the IngestFailures queue"),
            "IngestErrors": self._alarm(
                "IngestErrors", self.ingest_fn.metric_errors(period=interval),
                "An ingest invocation failed (items left pending or an unhandled error)"),
            "IngestStopped": self._alarm(
                "IngestStopped",
                cw.Metric(namespace=METRIC_NAMESPACE, metric_name=METRIC_INGEST_SUCCEEDED,
                          statistic="Sum", period=Duration.minutes(3 * minutes),
                          dimensions_map={"service": SERVICE_INGEST}),
                f"No successful ingest pass in 3 intervals ({3 * minutes} minutes); no data "
                "counts as breaching", threshold=1,
                comparison=cw.ComparisonOperator.LESS_THAN_THRESHOLD,
                missing=cw.TreatMissingData.BREACHING),
            "FeedsFailing": self._alarm(
                "FeedsFailing", emf(METRIC_FEED_FAILURES),
                "Some feed failed in 3 consecutive ingest passes", periods=3),
            "IngestThrottles": self._alarm(
                "IngestThrottles", self.ingest_fn.metric_throttles(period=interval),
                "An ingest run was throttled: the previous run was still going (reserved "
                "concurrency 1), so runs take longer than the interval"),
            "ApiErrors": self._alarm(
                "ApiErrors", self.api_fn.metric_errors(period=five),
                "API Lambda errors (5 or more in 5 minutes)", threshold=5),
            "ApiThrottles": self._alarm(
                "ApiThrottles", self.api_fn.metric_throttles(period=five),
                "API Lambda invocations throttled (account concurrency exhausted)"),
            "Api5xx": self._alarm(
                "Api5xx", self.api.metric_server_error(period=five),
                "API Gateway 5xx responses (5 or more in 5 minutes)", threshold=5),
            "TableThrottles": self._alarm(
                "TableThrottles", cw.MathExpression(
                    expression="r + w", period=five, label="Throttle events",
                    using_metrics={"r": table_metric("ReadThrottleEvents"),
                                   "w": table_metric("WriteThrottleEvents")}),
                "DynamoDB throttled reads or writes on the signals table"),
        }
        alarms["EventsIteratorAge"] = self._alarm(
            "EventsIteratorAge", self.events_fn.metric(
                "IteratorAge", statistic="Maximum", period=five),
            "Signal Created events lag the table by over a minute (stream consumer behind or "
            "failing)", threshold=60_000,
            comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD)
        alarms["EventFailuresQueued"] = self._alarm(
            "EventFailuresQueued",
            self.event_failures.metric_approximate_number_of_messages_visible(period=five),
            "A stream batch could not be published after its retries (EventFailures queue)")
        if self.endpoint:
            def endpoint_metric(name: str, stat: str) -> cw.Metric:
                assert self.endpoint is not None
                return cw.Metric(namespace="AWS/SageMaker", metric_name=name, statistic=stat,
                                 period=five, dimensions_map={
                                     "EndpointName": self.endpoint.endpoint_name,
                                     "VariantName": self.endpoint.variant_name})

            alarms["EndpointLatency"] = self._alarm(
                "EndpointLatency", endpoint_metric("ModelLatency", "p90"),
                f"Endpoint p90 model latency over {config.latency_alarm_ms} ms for 15 minutes",
                threshold=config.latency_alarm_ms * 1000, periods=3,
                comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD)
            alarms["Endpoint5xx"] = self._alarm(
                "Endpoint5xx", endpoint_metric("Invocation5XXErrors", "Sum"),
                "The endpoint answered an invocation with a 5xx (model or container error)")
            if self.endpoint.serverless:
                alarms["EndpointModelSetup"] = self._alarm(
                    "EndpointModelSetup", endpoint_metric("ModelSetupTime", "Maximum"),
                    f"A serverless cold start took over {config.model_setup_alarm_s:g} s to "
                    "set the model up", threshold=config.model_setup_alarm_s * 1_000_000,
                    comparison=cw.ComparisonOperator.GREATER_THAN_THRESHOLD)
        action = cw_actions.SnsAction(self.alarm_topic)
        for alarm in alarms.values():
            alarm.add_alarm_action(action)
        return alarms

"""The News Signals stack: composes the constructs; every choice comes from CDK context."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from pydantic import BaseModel, ConfigDict, Field

from core.names import METRIC_NAMESPACE, RELEASE_MODEL_DIR, SERVICE_API, SERVICE_INGEST
from dashboards.cloudwatch import NewsSignalsDashboard
from infra.bundling import ARCHITECTURE, RUNTIME, lambda_code
from infra.constructs.endpoint import ClassifierEndpoint
from infra.constructs.table import SignalsTable

LAMBDA_MODEL_DIR = "/var/task/model"
FEEDS_IN_BUNDLE = "/var/task/ingest/feeds.toml"


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

        self.table = SignalsTable(self, "Signals", retain=config.retain_table).table
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
        self.api_fn = self._function("Api", code, "api.lambda_handler.handler", env,
                                     memory=2048 if in_lambda else 512,
                                     timeout=Duration.seconds(29), service=SERVICE_API)
        self.ingest_fn = self._function("Ingest", code, "ingest.lambda_handler.handler", env,
                                        memory=2048 if in_lambda else 1024,
                                        timeout=Duration.minutes(5), service=SERVICE_INGEST)
        self.table.grant_read_data(self.api_fn)
        self.table.grant_read_write_data(self.ingest_fn)
        if self.endpoint:
            invoke = iam.PolicyStatement(actions=["sagemaker:InvokeEndpoint"],
                                         resources=[self.endpoint.endpoint_arn])
            for fn in (self.api_fn, self.ingest_fn):
                fn.add_to_role_policy(invoke)

        self.api = self._rest_api(config)
        self.dlq = self._schedule(config)
        NewsSignalsDashboard(self, "Dashboard", api_fn=self.api_fn, ingest_fn=self.ingest_fn,
                             api=self.api, endpoint_name=self.endpoint.endpoint_name
                             if self.endpoint else None)
        self._alarms(config)

    # -- pieces ------------------------------------------------------------------------
    def _function(self, cid: str, code: lambda_.Code, handler: str, env: dict[str, str], *,
                  memory: int, timeout: Duration, service: str) -> lambda_.Function:
        log_group = logs.LogGroup(self, f"{cid}Logs", retention=logs.RetentionDays.ONE_MONTH,
                                  removal_policy=RemovalPolicy.DESTROY)
        return lambda_.Function(
            self, f"{cid}Function", runtime=RUNTIME, architecture=ARCHITECTURE, code=code,
            handler=handler, memory_size=memory, timeout=timeout, log_group=log_group,
            environment={**env, "POWERTOOLS_SERVICE_NAME": service},
            tracing=lambda_.Tracing.ACTIVE,
            description=f"News Signals {service}")

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
        api.root.add_resource("classify").add_method(
            "POST", integration, api_key_required=True, request_validator=validator,
            request_models={"application/json": model})
        optional = dict.fromkeys(
            ("method.request.querystring.source", "method.request.querystring.ticker",
             "method.request.querystring.since", "method.request.querystring.until",
             "method.request.querystring.limit", "method.request.querystring.cursor",
             "method.request.querystring.distinct"), False)
        api.root.add_resource("signals").add_method(
            "GET", integration, api_key_required=True, request_validator=validator,
            request_parameters=optional)
        for path in ("health", "feeds"):
            api.root.add_resource(path).add_method("GET", integration, api_key_required=True,
                                                   request_validator=validator)
        key = api.add_api_key("ApiKey", description="News Signals default API key")
        plan = api.add_usage_plan(
            "UsagePlan", name="news-signals-default",
            throttle=apigw.ThrottleSettings(rate_limit=config.api_rate_limit,
                                            burst_limit=config.api_burst_limit),
            quota=apigw.QuotaSettings(limit=1_000_000, period=apigw.Period.MONTH))
        plan.add_api_key(key)
        plan.add_api_stage(stage=api.deployment_stage)
        return api

    def _schedule(self, config: StackConfig) -> sqs.Queue:
        dlq = sqs.Queue(self, "IngestDeadLetters", retention_period=Duration.days(14),
                        encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True)
        events.Rule(self, "IngestSchedule",
                    description="Poll the news feeds",
                    schedule=events.Schedule.rate(Duration.minutes(config.ingest_rate_minutes)),
                    targets=[targets.LambdaFunction(
                        self.ingest_fn, dead_letter_queue=dlq, retry_attempts=2,
                        max_event_age=Duration.minutes(max(config.ingest_rate_minutes, 5)))])
        return dlq

    def _alarms(self, config: StackConfig) -> None:
        topic = sns.Topic(self, "AlarmTopic", display_name="News Signals alarms",
                          enforce_ssl=True)
        action = cw_actions.SnsAction(topic)
        alarms = [
            self.ingest_fn.metric_errors(period=Duration.minutes(15)).create_alarm(
                self, "IngestErrors", threshold=2, evaluation_periods=1,
                alarm_description="Ingest Lambda failed more than once in 15 minutes"),
            self.api_fn.metric_errors(period=Duration.minutes(5)).create_alarm(
                self, "ApiErrors", threshold=5, evaluation_periods=1,
                alarm_description="API Lambda errors"),
            self.dlq.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(5)).create_alarm(
                self, "IngestDeadLettersAlarm", threshold=1, evaluation_periods=1,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                alarm_description="Scheduled ingestion events are landing in the DLQ"),
            self.api.metric_server_error(period=Duration.minutes(5)).create_alarm(
                self, "Api5xx", threshold=5, evaluation_periods=1,
                alarm_description="API Gateway 5xx responses"),
        ]
        if self.endpoint:
            latency = cw.Metric(
                namespace="AWS/SageMaker", metric_name="ModelLatency", statistic="p90",
                period=Duration.minutes(5),
                dimensions_map={"EndpointName": self.endpoint.endpoint_name,
                                "VariantName": self.endpoint.variant_name})
            alarms.append(latency.create_alarm(
                self, "EndpointLatency", threshold=config.latency_alarm_ms * 1000,
                evaluation_periods=3,
                alarm_description=f"Endpoint p90 model latency over {config.latency_alarm_ms} ms"))
        for alarm in alarms:
            alarm.add_alarm_action(action)

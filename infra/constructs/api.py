"""The public API: the API function (the FastAPI app under Mangum) behind an API Gateway REST
API with a request validator for /classify, an API key and a usage plan."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from core.names import (
    MAX_HEADLINE_CHARS,
    MAX_HEADLINES_PER_REQUEST,
    PUBLIC_PATHS,
    PUBLIC_PREFIXES,
    SERVICE_API,
)
from infra.bundling import HANDLERS
from infra.constructs.functions import function, pin
from infra.constructs.ingest import grant_table

#: Every request/response route of the API app, as API Gateway serves it (method, path).
#: `{proxy+}` stands for the app's static mounts. tests/infra checks this against the app.
ROUTES: tuple[tuple[str, str], ...] = (
    ("POST", "/classify"), ("GET", "/signals"), ("GET", "/signals/summary"),
    ("GET", "/feeds"), ("GET", "/events"), ("GET", "/health"), ("GET", "/openapi.json"),
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


class ServiceApi(Construct):
    def __init__(self, scope: Construct, cid: str, *, code: lambda_.Code,
                 env: dict[str, str], table: ddb.ITableV2, in_lambda: bool,
                 table_actions: tuple[str, ...], rate_limit: float, burst_limit: int,
                 reserved_concurrency: int) -> None:
        super().__init__(scope, cid)
        self.fn = function(self, "Api", code, HANDLERS["api"], env,
                           memory=2048 if in_lambda else 512,
                           timeout=Duration.seconds(29), service=SERVICE_API,
                           reserved_concurrent_executions=reserved_concurrency or None)
        grant_table(self.fn, table, table_actions)
        self.api = self._rest_api(rate_limit, burst_limit)

    def _rest_api(self, rate_limit: float, burst_limit: int) -> apigw.RestApi:
        access_logs = logs.LogGroup(self, "ApiAccessLogs", retention=logs.RetentionDays.ONE_MONTH,
                                    removal_policy=RemovalPolicy.DESTROY)
        api = apigw.RestApi(
            self, "Api", rest_api_name="news-signals",
            description="News Signals: classify headlines, query signals",
            cloud_watch_role=True,
            deploy_options=apigw.StageOptions(
                stage_name="prod", throttling_rate_limit=rate_limit,
                throttling_burst_limit=burst_limit, metrics_enabled=True,
                tracing_enabled=True, logging_level=apigw.MethodLoggingLevel.ERROR,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=False, http_method=True, ip=True, protocol=True,
                    request_time=True, resource_path=True, response_length=True,
                    status=True, user=False)))
        pin(api, "ApiF70053CD")  # its id is the API's URL
        integration = apigw.LambdaIntegration(self.fn)
        validator = api.add_request_validator(
            "Validator", validate_request_body=True, validate_request_parameters=True)
        headline: dict[str, Any] = {"type": apigw.JsonSchemaType.STRING, "min_length": 1,
                                    "max_length": MAX_HEADLINE_CHARS}
        headlines: dict[str, Any] = {"type": apigw.JsonSchemaType.ARRAY, "min_items": 1,
                                     "max_items": MAX_HEADLINES_PER_REQUEST,
                                     "items": apigw.JsonSchema(**headline)}
        model = api.add_model("ClassifyRequest", content_type="application/json",
                              model_name="ClassifyRequest", schema=apigw.JsonSchema(
                                  schema=apigw.JsonSchemaVersion.DRAFT4,
                                  type=apigw.JsonSchemaType.OBJECT,
                                  additional_properties=False,
                                  # one body field, and optionally `targets`
                                  min_properties=1, max_properties=2,
                                  properties={
                                      "headline": apigw.JsonSchema(**headline),
                                      "headlines": apigw.JsonSchema(**headlines),
                                      "inputs": apigw.JsonSchema(one_of=[
                                          apigw.JsonSchema(**headline),
                                          apigw.JsonSchema(**headlines)]),
                                      "targets": apigw.JsonSchema(
                                          type=apigw.JsonSchemaType.ARRAY, min_items=1,
                                          max_items=MAX_HEADLINES_PER_REQUEST),
                                      "query": apigw.JsonSchema(
                                          type=apigw.JsonSchemaType.OBJECT,
                                          required=["headline"],
                                          properties={"headline": apigw.JsonSchema(**headline)})}))
        for method, path in ROUTES:
            resource = api.root.resource_for_path(path)
            options: dict[str, Any] = {"api_key_required": not is_public(path)}
            if (method, path) == ("POST", "/classify"):
                options.update(request_validator=validator,
                               request_models={"application/json": model})
            resource.add_method(method, integration, **options)
        key = api.add_api_key("ApiKey", description="News Signals default API key")
        pin(key, "ApiApiKey8A01341B")  # the key's value
        plan = api.add_usage_plan(
            "UsagePlan", name="news-signals-default",
            throttle=apigw.ThrottleSettings(rate_limit=rate_limit, burst_limit=burst_limit),
            quota=apigw.QuotaSettings(limit=1_000_000, period=apigw.Period.MONTH))
        plan.add_api_key(key)
        plan.add_api_stage(stage=api.deployment_stage)
        return api

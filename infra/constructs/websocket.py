"""Live signals for clients on AWS: a WebSocket API. $connect is authorised by a Lambda
authorizer against a generated token in Secrets Manager; `subscribe` picks tickers and
sources; the stream consumer pushes each new signal to the matching connections (and removes
gone ones). Connections live 2 hours (API Gateway's limit) and their items carry the table's
TTL."""

from __future__ import annotations

import json

from aws_cdk import CfnOutput, Duration, RemovalPolicy
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as apigwv2_auth
from aws_cdk import aws_apigatewayv2_integrations as apigwv2_int
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from core.names import KEY_CONNECTION, KEY_SUBSCRIPTION, SERVICE_API
from infra.bundling import HANDLERS
from infra.constructs.functions import function, grant_items, pin


class LiveWebSocket(Construct):
    def __init__(self, scope: Construct, cid: str, *, code: lambda_.Code,
                 env: dict[str, str], table: ddb.ITableV2, pusher: lambda_.Function) -> None:
        super().__init__(scope, cid)
        self.token = secretsmanager.Secret(
            self, "WebSocketToken", description="News Signals WebSocket client token",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=40, exclude_punctuation=True))
        pin(self.token, "WebSocketToken3E84A9C6")  # the clients' token
        ws_env = {**env, "NEWSIG_WS_TOKEN_SECRET": self.token.secret_arn}
        # Connects, subscribes and authorisations are short and rare: 10 at once each.
        self.fn = function(self, "WebSocket", code, HANDLERS["ws"], env, memory=256,
                           timeout=Duration.seconds(10), service=SERVICE_API,
                           reserved_concurrent_executions=10)
        self.authorizer_fn = function(
            self, "WebSocketAuthorizer", code, HANDLERS["ws_authorizer"], ws_env, memory=256,
            timeout=Duration.seconds(5), service=SERVICE_API,
            reserved_concurrent_executions=10)
        self.token.grant_read(self.authorizer_fn)
        integration = apigwv2_int.WebSocketLambdaIntegration("WsIntegration", self.fn)
        self.api = apigwv2.WebSocketApi(
            self, "WebSocketApi", api_name="news-signals-live",
            description="News Signals: live signals for subscribed clients",
            route_selection_expression="$request.body.action",
            connect_route_options=apigwv2.WebSocketRouteOptions(
                integration=integration,
                authorizer=apigwv2_auth.WebSocketLambdaAuthorizer(
                    "TokenAuthorizer", self.authorizer_fn,
                    identity_source=["route.request.querystring.token"])),
            disconnect_route_options=apigwv2.WebSocketRouteOptions(integration=integration))
        pin(self.api, "WebSocketApi34BCF99B")  # its id is the wss:// URL
        self.api.add_route("subscribe", integration=integration)
        ws_logs = logs.LogGroup(self, "WebSocketAccessLogs",
                                retention=logs.RetentionDays.ONE_MONTH,
                                removal_policy=RemovalPolicy.DESTROY)
        self.stage = apigwv2.WebSocketStage(
            self, "WebSocketStage", web_socket_api=self.api, stage_name="prod",
            auto_deploy=True, throttle=apigwv2.ThrottleSettings(rate_limit=20, burst_limit=40))
        stage = self.stage.node.default_child
        assert isinstance(stage, apigwv2.CfnStage)
        stage.access_log_settings = apigwv2.CfnStage.AccessLogSettingsProperty(
            destination_arn=ws_logs.log_group_arn, format=json.dumps({
                "requestId": "$context.requestId", "ip": "$context.identity.sourceIp",
                "routeKey": "$context.routeKey", "status": "$context.status",
                "connectionId": "$context.connectionId",
                "requestTime": "$context.requestTime"}))
        # The registry's items only: connection and subscription partitions.
        registry = (KEY_CONNECTION, KEY_SUBSCRIPTION)
        grant_items(self.fn, table.table_arn,
                    ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"], *registry)
        grant_items(pusher, table.table_arn,
                    ["dynamodb:Query", "dynamodb:GetItem", "dynamodb:DeleteItem"], *registry)
        pusher.add_environment("NEWSIG_WS_ENDPOINT", self.stage.callback_url)
        self.stage.grant_management_api_access(pusher)
        CfnOutput(scope, "WebSocketUrl", value=self.stage.url,
                  description="wss://... ?token=<the WebSocketToken secret's value>")
        CfnOutput(scope, "WebSocketTokenSecret", value=self.token.secret_arn)

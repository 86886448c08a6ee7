"""SageMaker model + endpoint config + endpoint for the Hugging Face inference container."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

TRANSFORMERS_VERSION = "4.49.0"
PYTORCH_VERSION = "2.6.0"


def huggingface_image(region: str, instance_type: str | None) -> str:
    """The Hugging Face PyTorch inference DLC for the region (resolved offline by the
    sagemaker SDK from its bundled image tables)."""
    try:
        from sagemaker.core import image_uris  # sagemaker >= 3
    except ImportError:  # pragma: no cover - sagemaker 2.x
        from sagemaker import image_uris  # type: ignore[no-redef]

    return image_uris.retrieve(
        framework="huggingface", region=region, version=TRANSFORMERS_VERSION,
        base_framework_version=f"pytorch{PYTORCH_VERSION}", image_scope="inference",
        instance_type=instance_type or "ml.m5.xlarge")


class ClassifierEndpoint(Construct):
    def __init__(self, scope: Construct, cid: str, *, model_artifact: Path, region: str,
                 instance_type: str | None = None, min_instances: int = 1,
                 max_instances: int = 2, serverless_memory_mb: int = 3072,
                 serverless_max_concurrency: int = 10) -> None:
        super().__init__(scope, cid)
        asset = s3_assets.Asset(self, "ModelArtifact", path=str(model_artifact))
        self.role = iam.Role(
            self, "ExecutionRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="News Signals classifier endpoint: read its model, pull the DLC, log")
        asset.grant_read(self.role)
        self.role.add_to_policy(iam.PolicyStatement(
            actions=["ecr:GetAuthorizationToken"], resources=["*"]))
        self.role.add_to_policy(iam.PolicyStatement(
            actions=["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
                     "ecr:BatchCheckLayerAvailability"],
            resources=[f"arn:aws:ecr:{region}:763104351884:repository/"
                       "huggingface-pytorch-inference"]))
        stack = Stack.of(self)
        self.role.add_to_policy(iam.PolicyStatement(
            actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[stack.format_arn(service="logs", resource="log-group",
                                        resource_name="/aws/sagemaker/Endpoints/*",
                                        arn_format=ArnFormat.SLASH_RESOURCE_NAME)]))
        self.role.add_to_policy(iam.PolicyStatement(
            actions=["cloudwatch:PutMetricData"], resources=["*"],
            conditions={"StringEquals": {"cloudwatch:namespace": "/aws/sagemaker/Endpoints"}}))

        model = sagemaker.CfnModel(
            self, "Model", execution_role_arn=self.role.role_arn,
            primary_container=sagemaker.CfnModel.ContainerDefinitionProperty(
                image=huggingface_image(region, instance_type),
                model_data_url=asset.s3_object_url,
                environment={"SAGEMAKER_PROGRAM": "inference.py",
                             "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
                             "SAGEMAKER_REGION": region}))
        model.node.add_dependency(self.role)
        self.variant_name = "AllTraffic"
        if instance_type:
            variant = sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                variant_name=self.variant_name, model_name=model.attr_model_name,
                initial_instance_count=min_instances, instance_type=instance_type,
                initial_variant_weight=1.0)
        else:
            variant = sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                variant_name=self.variant_name, model_name=model.attr_model_name,
                serverless_config=sagemaker.CfnEndpointConfig.ServerlessConfigProperty(
                    max_concurrency=serverless_max_concurrency,
                    memory_size_in_mb=serverless_memory_mb))
        config = sagemaker.CfnEndpointConfig(self, "Config", production_variants=[variant])
        self.endpoint = sagemaker.CfnEndpoint(
            self, "Endpoint", endpoint_config_name=config.attr_endpoint_config_name)
        self.endpoint_name = self.endpoint.attr_endpoint_name
        self.endpoint_arn = self.endpoint.ref  # Ref of AWS::SageMaker::Endpoint is its ARN
        self.serverless = instance_type is None
        if instance_type and max_instances > min_instances:
            target = appscaling.ScalableTarget(
                self, "Scaling", service_namespace=appscaling.ServiceNamespace.SAGEMAKER,
                resource_id=f"endpoint/{self.endpoint.attr_endpoint_name}/variant/"
                            f"{self.variant_name}",
                scalable_dimension="sagemaker:variant:DesiredInstanceCount",
                min_capacity=min_instances, max_capacity=max_instances)
            target.node.add_dependency(self.endpoint)
            target.scale_to_track_metric(
                "InvocationsPerInstance", target_value=600.0,
                predefined_metric=(
                    appscaling.PredefinedMetric.SAGEMAKER_VARIANT_INVOCATIONS_PER_INSTANCE))

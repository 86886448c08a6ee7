"""SageMaker model + endpoint config + endpoint for the Hugging Face inference container.

The execution role reads the one model object, pulls the image from the ECR account the
sagemaker SDK lists for the deploying region (a CfnMapping over every region, resolved by
CloudFormation), and writes the endpoint's logs and metrics."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

from aws_cdk import (
    ArnFormat,
    Aws,
    CfnMapping,
    FileAssetLocation,
    FileAssetPackaging,
    Stack,
    Stage,
    Token,
)
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

TRANSFORMERS_VERSION = "4.49.0"
PYTORCH_VERSION = "2.6.0"
REPOSITORY_KEY = "account"


def _image_config() -> dict[str, Any]:
    """The sagemaker SDK's own table (bundled with it, read offline) for the Hugging Face
    PyTorch inference DLC: repository, container tags and the ECR account of every region."""
    try:
        from sagemaker.core import image_uris  # sagemaker >= 3
    except ImportError:  # pragma: no cover - sagemaker 2.x
        from sagemaker import image_uris

    versions = image_uris.config_for_framework("huggingface")["inference"]["versions"]
    config: dict[str, Any] = versions[TRANSFORMERS_VERSION][f"pytorch{PYTORCH_VERSION}"]
    return config


def huggingface_image_tag(instance_type: str | None) -> str:
    """`repository:tag` of the DLC (the same in every region), from the SDK's retrieve()."""
    try:
        from sagemaker.core import image_uris
    except ImportError:  # pragma: no cover
        from sagemaker import image_uris

    uri = image_uris.retrieve(
        framework="huggingface", region="us-east-1", version=TRANSFORMERS_VERSION,
        base_framework_version=f"pytorch{PYTORCH_VERSION}", image_scope="inference",
        instance_type=instance_type or "ml.m5.xlarge")
    return str(uri).split("/", 1)[1]


def image_registries() -> dict[str, str]:
    """region -> the ECR account that hosts the DLC there (every region the SDK lists,
    the aws-cn and GovCloud partitions included)."""
    return dict(sorted(_image_config()["registries"].items()))


def model_data_location(scope: Construct, artifact: Path) -> FileAssetLocation:
    """The model artifact as a CDK file asset whose S3 key ends in `.tar.gz`.

    `s3_assets.Asset` names the object `<hash><last suffix>`, i.e. `<hash>.gz` for
    model.tar.gz, while SageMaker documents `.tar.gz` for ModelDataUrl. The synthesizer keys a
    file asset as `<source hash><extension of the staged file>`, so the source hash carries the
    `.tar` and the staged copy the `.gz`."""
    digest = hashlib.sha256(artifact.read_bytes()).hexdigest()
    outdir = Path(Stage.of(scope).asset_outdir)  # type: ignore[union-attr]
    staged = f"asset.{digest}.tar.gz"
    outdir.mkdir(parents=True, exist_ok=True)
    if not (outdir / staged).exists():
        shutil.copyfile(artifact, outdir / staged)
    return Stack.of(scope).synthesizer.add_file_asset(
        source_hash=f"{digest}.tar", file_name=staged, packaging=FileAssetPackaging.FILE)


class ClassifierEndpoint(Construct):
    def __init__(self, scope: Construct, cid: str, *, model_artifact: Path, region: str,
                 instance_type: str | None = None, min_instances: int = 1,
                 max_instances: int = 2, serverless_memory_mb: int = 3072,
                 serverless_max_concurrency: int = 10) -> None:
        super().__init__(scope, cid)
        stack = Stack.of(self)
        registries = image_registries()
        if not Token.is_unresolved(region) and region not in registries:
            raise ValueError(f"the Hugging Face inference image is not published in {region} "
                             f"(the sagemaker SDK lists: {', '.join(registries)})")
        mapping = CfnMapping(self, "ImageRegistry", mapping={
            r: {REPOSITORY_KEY: account} for r, account in registries.items()})
        account = mapping.find_in_map(Aws.REGION, REPOSITORY_KEY)
        repo_tag = huggingface_image_tag(instance_type)
        repository = repo_tag.split(":", 1)[0]
        self.image = f"{account}.dkr.ecr.{Aws.REGION}.{Aws.URL_SUFFIX}/{repo_tag}"

        location = model_data_location(self, model_artifact)
        self.model_data_url = location.s3_object_url
        self.model_object_arn = stack.format_arn(
            service="s3", region="", account="", resource=location.bucket_name,
            resource_name=location.object_key, arn_format=ArnFormat.SLASH_RESOURCE_NAME)
        self.role = iam.Role(
            self, "ExecutionRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="News Signals classifier endpoint: read its model, pull the DLC, log")
        self.role.add_to_policy(iam.PolicyStatement(  # the one model object, nothing else
            actions=["s3:GetObject"], resources=[self.model_object_arn]))
        self.role.add_to_policy(iam.PolicyStatement(
            actions=["ecr:GetAuthorizationToken"], resources=["*"]))
        self.role.add_to_policy(iam.PolicyStatement(
            actions=["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer",
                     "ecr:BatchCheckLayerAvailability"],
            resources=[f"arn:{Aws.PARTITION}:ecr:{Aws.REGION}:{account}:repository/"
                       f"{repository}"]))
        # Log-group ARNs put a colon before the name: arn:...:log-group:/aws/sagemaker/...
        self.role.add_to_policy(iam.PolicyStatement(
            actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[stack.format_arn(service="logs", resource="log-group",
                                        resource_name="/aws/sagemaker/Endpoints/*",
                                        arn_format=ArnFormat.COLON_RESOURCE_NAME)]))
        self.role.add_to_policy(iam.PolicyStatement(
            actions=["cloudwatch:PutMetricData"], resources=["*"],
            conditions={"StringEquals": {"cloudwatch:namespace": "/aws/sagemaker/Endpoints"}}))

        model = sagemaker.CfnModel(
            self, "Model", execution_role_arn=self.role.role_arn,
            # The container needs no network: SageMaker itself fetches the model from S3.
            enable_network_isolation=True,
            primary_container=sagemaker.CfnModel.ContainerDefinitionProperty(
                image=self.image, model_data_url=self.model_data_url,
                environment={"SAGEMAKER_PROGRAM": "inference.py",
                             "SAGEMAKER_CONTAINER_LOG_LEVEL": "20",
                             "SAGEMAKER_REGION": region}))
        # The policy, not just the role: SageMaker checks the model's S3 access at creation.
        model.node.add_dependency(self.role.node.find_child("DefaultPolicy"))
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

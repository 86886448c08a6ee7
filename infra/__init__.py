"""CDK app (aws-cdk-lib v2): DynamoDB, SageMaker, Lambda, API Gateway, EventBridge, alarms."""

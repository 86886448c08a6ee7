"""Dashboards: the CloudWatch dashboard construct used by the CDK app."""

"""Backends behind the core ports: SQLite/DynamoDB stores, ONNX/SageMaker classifiers."""

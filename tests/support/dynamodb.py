"""The signals table for tests: the one helper the benchmarks also use (api/bench/dynamodb.py)."""

from api.bench.dynamodb import create_table

__all__ = ["create_table"]

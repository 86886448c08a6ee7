"""`newsig bench ingest` and the local feed server it (and the test suite) serves feeds from.
Benchmark tooling, not service code: left out of the Lambda bundles (infra/bundling.py)."""

from ingest.bench.ingest_bench import bench_ingest

__all__ = ["bench_ingest"]

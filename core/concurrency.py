"""A hint from the caller to the classifier: how many model calls are expected to overlap
with this one. The API server sets it per request (requests waiting or running in its model
pool); a classifier that can choose its thread count uses every core only when it is 1."""

from __future__ import annotations

from contextvars import ContextVar

expected_parallel_calls: ContextVar[int] = ContextVar("expected_parallel_calls", default=1)

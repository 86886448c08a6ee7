"""Schemathesis against the app in-process: every operation, positive and negative cases, all
of its checks, bounded and derandomized (Hypothesis replays the same cases every run)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, assume, given, settings
from schemathesis import GenerationMode

from api.app import Services, create_app
from core.adapters.onnx_classifier import OnnxClassifier
from core.adapters.sqlite_store import SQLiteSignalStore
from core.errors import InvalidInputError
from core.models import FeedConfig
from core.queries import parse_bucket
from core.timeutil import parse_timestamp
from tests.support.builders import make_signal

#: Every request/response operation of the app (the SSE stream never ends: tested apart).
OPERATIONS = ["POST /classify", "GET /signals", "GET /signals/summary", "GET /feeds",
              "GET /health", "GET /alerts", "GET /events"]


@pytest.fixture(scope="module")
def api_schema(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[schemathesis.BaseSchema]:
    store = SQLiteSignalStore(tmp_path_factory.mktemp("st") / "s.db")
    store.put_many([make_signal(i, tickers=["NOK"] if i % 2 else []) for i in range(30)])
    app = create_app(Services(store, classifier=OnnxClassifier(tiny_model_dir),
                              feeds=[FeedConfig(id="wire", url="http://127.0.0.1:9/x")]))
    config = schemathesis.Config()
    config.projects.default.generation.update(modes=list(schemathesis.GenerationMode),
                                              deterministic=True, database="none")
    yield schemathesis.openapi.from_asgi("/openapi.json", app, config=config)
    store.close()


def test_every_operation_is_covered(api_schema: schemathesis.BaseSchema) -> None:
    labels = {r.ok().label for r in api_schema.get_all_operations()}
    assert labels - {"GET /signals/stream"} == set(OPERATIONS)


@pytest.mark.parametrize("label", OPERATIONS)
def test_no_operation_breaks_on_generated_input(api_schema: schemathesis.BaseSchema,
                                                 label: str) -> None:
    operation = api_schema.find_operation_by_label(label)
    assert operation is not None

    @given(case=operation.as_strategy())
    @settings(max_examples=80, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case: schemathesis.Case) -> None:
        if case.meta is not None and case.meta.generation.mode == GenerationMode.POSITIVE:
            semantic_fixups(case)
        case.call_and_validate()

    run()


def semantic_fixups(case: schemathesis.Case) -> None:
    """What a JSON schema cannot say, for schema-valid (positive) cases only: a cursor is an
    opaque token the API issued for the same query (use a real one, or none), a bucket must
    lie between one minute and 31 days, `since` must come before `until`, a `model_version` is
    one the store has scores by (an unknown one is a 422 naming it), and `role` narrows a
    `ticker` (alone it is a 422 naming it), and each of `targets` is a name in its headline
    (a target the text lacks is a 422 naming it)."""
    body = case.body if isinstance(case.body, dict) else {}
    if "targets" in body:
        from api.schemas import ClassifyRequest

        try:
            ClassifyRequest.model_validate(body)
        except ValueError:
            assume(False)
    query = case.query or {}
    if "model_version" in query:  # a version some stored signal has a score by
        query["model_version"] = "test-v1"
    if "role" in query and not query.get("ticker"):
        assume(False)
    if "since" in query and "until" in query:
        # A bound the API refuses anyway (ValueError) is left for the checks to judge.
        with contextlib.suppress(ValueError):
            assume(parse_timestamp(query["since"]) < parse_timestamp(query["until"]))
    if "bucket" in query:
        try:
            parse_bucket(str(query["bucket"]))
        except InvalidInputError:
            assume(False)
    if "cursor" in query:
        first = case.operation.Case(query={k: v for k, v in query.items() if k != "cursor"},
                                    media_type=case.media_type)
        response = first.call()
        cursor = response.json().get("next_cursor") if response.status_code == 200 else None
        if cursor:
            query["cursor"] = cursor
        else:
            del query["cursor"]

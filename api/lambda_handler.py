"""API Lambda: the same FastAPI app as `newsig serve`, behind API Gateway, via Mangum."""

from __future__ import annotations

import time
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from api.app import Services, create_app
from core.models import Prediction
from core.observability import emit_classify_latency
from core.ports import Classifier
from core.wiring import build_classifier, build_service, get_settings


class MeteredClassifier:
    """Emits the classify latency metric (EMF) around every call."""

    def __init__(self, inner: Classifier) -> None:
        self.inner = inner

    @property
    def model_version(self) -> str:
        return self.inner.model_version

    def classify(self, texts: Sequence[str]) -> list[Prediction]:
        started = time.perf_counter()
        out = self.inner.classify(texts)
        emit_classify_latency((time.perf_counter() - started) * 1000, len(texts))
        return out


@lru_cache(maxsize=1)
def _mangum() -> Any:
    from mangum import Mangum

    from ingest.feeds import load_feeds

    settings = get_settings()
    service = build_service(
        settings, classifier_factory=lambda: MeteredClassifier(build_classifier(settings)))
    services = Services(service=service, feeds=load_feeds(settings.feeds_file))
    return Mangum(create_app(services), lifespan="off")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _mangum()(event, context)

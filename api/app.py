"""The FastAPI app. Routes are thin: parse into a model, one core call, return a model."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse

from api.schemas import (
    ClassifyRequest,
    ClassifyResponse,
    HealthResponse,
    PredictionOut,
    SignalsResponse,
)
from core.errors import (
    ClassifierError,
    ClassifierUnavailableError,
    ConfigError,
    InvalidInputError,
    NewsSignalsError,
    StoreError,
    StoreUnavailableError,
)
from core.feedhealth import FeedHealth, feed_health
from core.models import FeedConfig
from core.ports import Classifier, SignalStore

VERSION = "0.1.0"


class Services:
    """What the routes need; the classifier is built on first use (and errors are kept)."""

    def __init__(self, store: SignalStore, classifier: Classifier | None = None,
                 classifier_factory: Callable[[], Classifier] | None = None,
                 feeds: Sequence[FeedConfig] = ()) -> None:
        self.store = store
        self.feeds = list(feeds)
        self._classifier = classifier
        self._factory = classifier_factory
        self._lock = threading.Lock()

    @property
    def classifier(self) -> Classifier:
        if self._classifier is None:
            with self._lock:
                if self._classifier is None:
                    if self._factory is None:
                        raise ConfigError("no classifier configured")
                    self._classifier = self._factory()
        return self._classifier


_STATUS: list[tuple[type[Exception], int]] = [
    (InvalidInputError, 422),
    (ClassifierUnavailableError, 503),
    (StoreUnavailableError, 503),
    (ConfigError, 503),
    (ClassifierError, 502),
    (StoreError, 500),
]


def status_for(exc: Exception) -> int:
    for kind, code in _STATUS:
        if isinstance(exc, kind):
            return code
    return 500


def error_body(exc: NewsSignalsError) -> dict[str, Any]:
    detail: dict[str, Any] = {"type": type(exc).__name__, "msg": str(exc)}
    field = getattr(exc, "field", None)
    if field:
        detail["loc"] = ["query", field]
    return {"detail": [detail]}


def create_app(services: Services, *, lifespan_hooks: list[Callable[[], Any]] | None = None,
               shutdown_hooks: list[Callable[[], Any]] | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI):  # type: ignore[no-untyped-def]
        for hook in lifespan_hooks or []:
            hook()
        yield
        for hook in shutdown_hooks or []:
            hook()

    app = FastAPI(title="News Signals", version=VERSION, lifespan=lifespan,
                  description="Financial news sentiment: classify headlines and query signals.")
    app.state.services = services

    @app.exception_handler(NewsSignalsError)
    async def _domain_error(_: Request, exc: NewsSignalsError) -> JSONResponse:
        return JSONResponse(status_code=status_for(exc), content=error_body(exc))

    @app.post("/classify", response_model=ClassifyResponse, tags=["classify"])
    def classify(body: ClassifyRequest) -> ClassifyResponse:
        texts = body.texts()
        predictions = services.classifier.classify(texts)
        return ClassifyResponse(predictions=[PredictionOut.of(t, p)
                                             for t, p in zip(texts, predictions, strict=True)])

    @app.get("/signals", response_model=SignalsResponse, tags=["signals"])
    def signals(
        source: str | None = None,
        ticker: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        cursor: str | None = None,
        distinct: Annotated[Literal["story"] | None, Query(
            description="'story': each story once, at its earliest sighting")] = None,
    ) -> SignalsResponse:
        if since and until and since >= until:
            raise InvalidInputError("'since' must be before 'until'", field="since")
        page = services.store.query(source=source, ticker=ticker, since=since, until=until,
                                    limit=limit, cursor=cursor,
                                    distinct_story=distinct == "story")
        return SignalsResponse(items=page.items, next_cursor=page.next_cursor)

    @app.get("/feeds", response_model=list[FeedHealth], tags=["signals"])
    def feeds() -> list[FeedHealth]:
        return feed_health(services.feeds, services.store.get_feed_states())

    @app.get("/health", response_model=HealthResponse, tags=["ops"])
    def health() -> JSONResponse:
        model_version, model_error = None, None
        try:
            model_version = services.classifier.model_version
        except NewsSignalsError as exc:
            model_error = str(exc)
        try:
            store = services.store.health()
        except NewsSignalsError as exc:
            store = {"ok": False, "error": str(exc)}
        ok = model_error is None and bool(store.get("ok"))
        body = HealthResponse(status="ok" if ok else "degraded", model_version=model_version,
                              model_error=model_error, store=store)
        return JSONResponse(status_code=200 if ok else 503, content=body.model_dump(mode="json"))

    return app

"""The FastAPI app. Routes are thin: parse into a model, one core call, return a model."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse

from api.deps import Services
from api.errors import render_domain_error, validation_body
from api.fastpath import ClassifyFastPath
from api.middleware import GuardMiddleware
from api.schemas import (
    ClassifyRequest,
    ClassifyResponse,
    EventKindOut,
    HealthResponse,
    PredictionOut,
    SignalsResponse,
    SummaryResponse,
    TargetOut,
    find_target,
)
from api.stream import StreamFilter, signal_events
from core.alerts import Alert
from core.errors import (
    InvalidInputError,
    NewsSignalsError,
)
from core.feedhealth import FeedHealth
from core.models import Entity, Sentiment
from core.names import SERVICE_VERSION
from core.queries import SignalsQuery, SummaryQuery
from dashboards.local import mount_dashboard, mount_docs

VERSION = SERVICE_VERSION
log = logging.getLogger("newsig.api")


def _request_id(request: Request) -> str:
    return str(getattr(request.state, "request_id", "") or "")


def create_app(services: Services, *, lifespan_hooks: list[Callable[[], Any]] | None = None,
               shutdown_hooks: list[Callable[[], Any]] | None = None,
               max_body_bytes: int = 1024 * 1024, api_key: str | None = None) -> FastAPI:
    """The app. Every request passes GuardMiddleware (body limit, optional API key, request
    id, security headers); errors map to statuses here and only here."""
    @asynccontextmanager
    async def lifespan(_: FastAPI):  # type: ignore[no-untyped-def]
        for hook in lifespan_hooks or []:
            hook()
        yield
        for hook in shutdown_hooks or []:
            hook()

    app = FastAPI(title="News Signals", version=VERSION, lifespan=lifespan,
                  description="Financial news sentiment: classify headlines and query signals.",
                  docs_url=None, redoc_url=None)
    app.state.services = services

    @app.exception_handler(NewsSignalsError)
    async def _domain_error(request: Request, exc: NewsSignalsError) -> Response:
        status, body = render_domain_error(exc, _request_id(request))
        return Response(body, status_code=status, media_type="application/json")

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(status_code=422, content=validation_body(list(exc.errors())))

    @app.exception_handler(Exception)
    async def _fault(request: Request, exc: Exception) -> JSONResponse:
        rid = _request_id(request)
        log.exception("request %s failed", rid)
        return JSONResponse(status_code=500, headers={"x-request-id": rid}, content={
            "detail": [{"type": "InternalError", "msg": "internal error", "request_id": rid}]})

    async def classify_payload(body: ClassifyRequest) -> tuple[bytes, str]:
        started = time.perf_counter()
        texts = body.texts()
        found = await services.entities_async(texts)
        asked = body.target_lists()
        target_spans = [[find_target(t, x) or (0, 0) for x in targets]
                        for t, targets in zip(texts, asked or [[] for _ in texts], strict=True)]
        # One model run per text gives its prediction and the sentiment toward every
        # company in it (a text naming none takes the plain path, micro-batching included).
        spans = [[m.span for m in f] + ts for f, ts in zip(found, target_spans, strict=True)]
        scored = await services.score_async(texts, spans)
        model_ms = (time.perf_counter() - started) * 1000
        predictions = []
        for text, mentions, (p, per), targets in zip(texts, found, scored,
                                                     asked or [[] for _ in texts], strict=True):
            entities = [Entity.of(m, q) for m, q in zip(mentions, per, strict=False)]
            asked_out = ([TargetOut.of(x, q) for x, q in zip(targets, per[len(mentions):],
                                                              strict=True)]
                         if asked is not None else None)
            predictions.append(PredictionOut.of(text, p, entities, asked_out))
        # The bytes are built once, from the model that validated them; FastAPI's second
        # validation and encoding of a returned model are skipped (response_model still
        # documents the shape).
        out = ClassifyResponse(predictions=predictions)
        exclude = None if asked is not None else {"predictions": {"__all__": {"targets"}}}
        payload = out.model_dump_json(exclude=exclude).encode()
        # Server-Timing: where a request's milliseconds go, for clients and the HTTP
        # benchmark (model = the pool hop, tokenizing and the model; route = all of this
        # handler after the body was parsed and validated).
        timing = (f"model;dur={model_ms:.3f}, "
                  f"route;dur={(time.perf_counter() - started) * 1000:.3f}")
        return payload, timing

    # Well-formed JSON requests are answered by this layer before FastAPI's machinery
    # (api/fastpath.py); the route below serves the rest (other content types, invalid
    # bodies, so their 422s keep one format) and documents the contract.
    app.add_middleware(ClassifyFastPath, path="/classify", handle=classify_payload,
                       render_error=render_domain_error)
    app.add_middleware(GuardMiddleware, max_body_bytes=max_body_bytes,
                       api_key=api_key)

    @app.post("/classify", response_model=ClassifyResponse, tags=["classify"])
    async def classify(body: ClassifyRequest) -> Response:
        payload, timing = await classify_payload(body)
        return Response(payload, media_type="application/json",
                        headers={"server-timing": timing})

    @app.get("/signals", response_model=SignalsResponse, tags=["signals"])
    def signals(query: Annotated[SignalsQuery, Query()]) -> SignalsResponse:
        page = services.service.signals(query)
        return SignalsResponse(items=page.items, next_cursor=page.next_cursor,
                               model_version=page.model_version, missing=page.missing)

    @app.get("/events", response_model=list[EventKindOut], tags=["signals"])
    def events() -> list[EventKindOut]:
        """The event taxonomy: every kind a signal's `events` can hold."""
        from core.events import TAXONOMY

        return [EventKindOut(name=k.name, group=k.group, polarity=Sentiment(k.polarity),
                             reason=k.reason) for k in TAXONOMY]

    @app.get("/signals/summary", response_model=SummaryResponse, tags=["signals"])
    def signals_summary(query: Annotated[SummaryQuery, Query()]) -> SummaryResponse:
        result = services.service.summary(query)
        return SummaryResponse(bucket_seconds=result.bucket_seconds, buckets=result.buckets,
                               model_version=result.model_version, missing=result.missing)

    @app.get("/signals/stream", tags=["signals"],
             response_class=StreamingResponse,
             description="Server-sent events: one `signal` event (`id:` its store position) per "
                         "signal stored after the client connected, each once, in store "
                         "order. Reconnect with `Last-Event-ID` (or `?last_event_id=`) to "
                         "resume after that event (api/stream.py: replay window).")
    async def signals_stream(
            request: Request, flt: Annotated[StreamFilter, Query()],
            last_event_id: Annotated[int | None, Query(ge=0)] = None,
            last_event_header: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    ) -> StreamingResponse:
        resume = last_event_id
        if resume is None and last_event_header:
            if not last_event_header.strip().isdigit():
                raise InvalidInputError("Last-Event-ID must be a non-negative integer (an "
                                        "`id:` this stream sent)", field="Last-Event-ID")
            resume = int(last_event_header.strip())
        # Where the stream starts is fixed here, before the headers go out (api/stream.py).
        hub = services.hub
        events = (hub.events(flt, resume, request.is_disconnected, start=await hub.position())
                  if hub is not None
                  else await signal_events(services.store, request, 1.0, flt))
        return StreamingResponse(events, media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache",
                                          "X-Accel-Buffering": "no"})

    @app.get("/alerts", response_model=list[Alert], tags=["signals"],
             description="Sentiment-shift alerts, newest first (empty unless `newsig serve` "
                         "runs with --alerts)")
    def alerts(ticker: Annotated[str | None, Query(max_length=16)] = None,
               limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[Alert]:
        if services.alert_log is None:
            return []
        found: list[Alert] = services.alert_log.alerts(ticker=ticker, limit=limit)
        return found

    @app.get("/feeds", response_model=list[FeedHealth], tags=["signals"])
    def feeds() -> list[FeedHealth]:
        return services.service.feeds(services.feeds)

    @app.get("/health", response_model=HealthResponse, tags=["ops"])
    def health() -> JSONResponse:
        report = services.service.health()
        return JSONResponse(status_code=200 if report.status == "ok" else 503,
                            content=report.model_dump(mode="json"))

    mount_docs(app)
    mount_dashboard(app)
    return app



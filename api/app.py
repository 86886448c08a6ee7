"""The FastAPI app. Routes are thin: parse into a model, one core call, return a model."""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Annotated, Any

from fastapi import FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse

from api.fastpath import ClassifyFastPath
from api.middleware import GuardMiddleware
from api.schemas import (
    ClassifyRequest,
    ClassifyResponse,
    HealthResponse,
    PredictionOut,
    SignalsResponse,
    SummaryResponse,
)
from api.stream import SignalHub, StreamFilter
from core.alerts import Alert
from core.concurrency import expected_parallel_calls
from core.errors import (
    ClassifierError,
    ClassifierUnavailableError,
    ConfigError,
    InvalidInputError,
    NewsSignalsError,
    StoreError,
    StoreUnavailableError,
)
from core.feedhealth import FeedHealth
from core.models import FeedConfig, Prediction, Signal, utcnow
from core.ports import Classifier, SignalLog, SignalStore
from core.queries import SignalsQuery, SummaryQuery
from core.service import SignalService
from dashboards.local import mount_dashboard, mount_docs

VERSION = "0.1.0"


class Services:
    """What the routes need: the use cases (core.service), the configured feeds, and a small
    pool for model calls. The classifier is built on first use (and errors are kept)."""

    def __init__(self, store: SignalStore | None = None, classifier: Classifier | None = None,
                 classifier_factory: Callable[[], Classifier] | None = None,
                 feeds: Sequence[FeedConfig] = (), classify_workers: int = 0, *,
                 service: SignalService | None = None, alert_log: Any = None) -> None:
        if service is None:
            if store is None:
                raise ConfigError("Services needs a store or a SignalService")
            service = SignalService(store, classifier, classifier_factory=classifier_factory)
        self.service = service
        self.store = service.store
        self.feeds = list(feeds)
        self.alert_log = alert_log  # ingest.alerts.AlertLog when alerts are configured
        # A small FIFO pool bounds how many model calls run at once: 16 concurrent requests
        # on 2 cores then queue in arrival order instead of 16 threads fighting for the CPU
        # (fewer context switches, and no request starved into the p99). 0: the shared pool.
        self._executor = (ThreadPoolExecutor(classify_workers, thread_name_prefix="newsig-classify")
                          if classify_workers > 0 else None)
        self._in_flight = 0  # requests queued or running in the pool; event loop only
        # One shared poller for every live-stream client (stores with a signal log).
        self.hub = SignalHub(self.store) if isinstance(self.store, SignalLog) else None

    @property
    def classifier(self) -> Classifier:
        return self.service.classifier

    async def classify_async(self, texts: list[str]) -> list[Prediction]:
        """Awaits a micro-batcher's future on the event loop (no thread held per request);
        otherwise the use case runs in the model pool (or Starlette's thread pool)."""
        from starlette.concurrency import run_in_threadpool

        # Built on first use (loading a model blocks, so off the event loop); cached after.
        classifier = (self.service.classifier if self.service.classifier_ready
                      else await run_in_threadpool(lambda: self.service.classifier))
        submit = getattr(classifier, "submit", None)
        if submit is not None:
            return await asyncio.wrap_future(submit(texts))
        if self._executor is not None:
            # Requests waiting for or running in the pool, this one included: the classifier
            # gives a call every core only when it is 1 (core.concurrency). The hint travels
            # in a copy of this request's context into the pool thread.
            self._in_flight += 1
            try:
                expected_parallel_calls.set(self._in_flight)
                ctx = contextvars.copy_context()
                return await asyncio.get_running_loop().run_in_executor(
                    self._executor, ctx.run, self.service.classify, texts)
            finally:
                self._in_flight -= 1
        return await run_in_threadpool(self.service.classify, texts)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)


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


#: What a client is told of a server-side failure: never the backend's own message (table
#: names, paths, endpoint names); that goes to the log under the request id.
_PUBLIC_5XX: list[tuple[type[Exception], str]] = [
    (ClassifierUnavailableError, "the classifier is unavailable or busy; try again shortly"),
    (StoreUnavailableError, "the signal store is unavailable or busy; try again shortly"),
    (ConfigError, "the service is not fully configured (see its health and logs)"),
    (ClassifierError, "the classifier failed on this request"),
    (StoreError, "the signal store failed on this request"),
]
log = logging.getLogger("newsig.api")


def _request_id(request: Request) -> str:
    return str(getattr(request.state, "request_id", "") or "")


def render_domain_error(exc: NewsSignalsError, request_id: str) -> tuple[int, bytes]:
    """Status and JSON body of a domain error's answer (server-side ones logged here)."""
    status = status_for(exc)
    if status >= 500:
        log.error("request %s: %s: %s", request_id, type(exc).__name__, exc)
    return status, json.dumps(error_body(exc, request_id)).encode()


def error_body(exc: NewsSignalsError, request_id: str = "") -> dict[str, Any]:
    status = status_for(exc)
    if status >= 500:
        msg = next((m for kind, m in _PUBLIC_5XX if isinstance(exc, kind)), "internal error")
        return {"detail": [{"type": type(exc).__name__, "msg": msg,
                            "request_id": request_id}]}
    detail: dict[str, Any] = {"type": type(exc).__name__, "msg": _clip(str(exc), 300)}
    field = getattr(exc, "field", None)
    if field:
        detail["loc"] = ["query", field]
    return {"detail": [detail]}


def _clip(value: object, limit: int = 80) -> str:
    """A short, always-encodable echo of client input (lone surrogates replaced)."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)[:limit * 2]
    text = text.encode("utf-8", "replace").decode("utf-8")
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


def validation_body(errors: list[dict[str, Any]]) -> dict[str, Any]:
    """FastAPI's 422 detail, with each echoed input cut to a short prefix."""
    out = []
    for e in errors[:20]:
        item: dict[str, Any] = {"type": e.get("type"), "loc": [str(p) for p in e.get("loc", [])],
                                "msg": _clip(e.get("msg", ""), 300)}
        if "input" in e:
            item["input"] = _clip(e["input"])
        out.append(item)
    return {"detail": out}


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
        predictions = await services.classify_async(texts)
        model_ms = (time.perf_counter() - started) * 1000
        # The bytes are built once, from the model that validated them; FastAPI's second
        # validation and encoding of a returned model are skipped (response_model still
        # documents the shape).
        out = ClassifyResponse(predictions=[PredictionOut.of(t, p)
                                            for t, p in zip(texts, predictions, strict=True)])
        payload = out.model_dump_json().encode()
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
        return SignalsResponse(items=page.items, next_cursor=page.next_cursor)

    @app.get("/signals/summary", response_model=SummaryResponse, tags=["signals"])
    def signals_summary(query: Annotated[SummaryQuery, Query()]) -> SummaryResponse:
        result = services.service.summary(query)
        return SummaryResponse(bucket_seconds=result.bucket_seconds, buckets=result.buckets)

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


async def signal_events(store: SignalStore, request: Request, poll: float,
                        flt: StreamFilter) -> AsyncIterator[str]:
    """For stores without a signal log (DynamoDB): polls the newest 500 signals of the last
    10 minutes per client and pushes the unseen ones; a burst larger than that is not all
    delivered, and there is no resume. SQLite stores stream through api/stream.py.
    What is already stored is read here, before the response opens (as the hub's start)."""
    from starlette.concurrency import run_in_threadpool

    lookback = timedelta(minutes=10)

    def recent() -> list[Signal]:
        return store.query(since=utcnow() - lookback, limit=500).items

    sent: dict[str, None] = dict.fromkeys(s.signal_id for s in await run_in_threadpool(recent))
    return _signal_event_stream(recent, sent, request, poll, flt)


async def _signal_event_stream(recent: Callable[[], list[Signal]], sent: dict[str, None],
                               request: Request, poll: float, flt: StreamFilter
                               ) -> AsyncIterator[str]:
    from starlette.concurrency import run_in_threadpool

    yield "retry: 2000\n: connected\n\n"
    idle = 0.0
    while not await request.is_disconnected():
        await asyncio.sleep(poll)
        fresh = [s for s in await run_in_threadpool(recent) if s.signal_id not in sent]
        for sig in reversed(fresh):  # oldest first
            sent[sig.signal_id] = None
            if flt.matches(sig):
                yield f"event: signal\ndata: {sig.model_dump_json()}\n\n"
        while len(sent) > 5000:
            sent.pop(next(iter(sent)))
        idle = 0.0 if fresh else idle + poll
        if idle >= 15:
            idle = 0.0
            yield ": keep-alive\n\n"

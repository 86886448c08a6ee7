"""What the routes depend on: the use cases (core.service), the configured feeds, the alert
log, the live-stream hub, and a small pool for model calls."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from api.stream import SignalHub
from core.concurrency import expected_parallel_calls
from core.errors import ConfigError
from core.models import EntityMention, FeedConfig, Prediction
from core.ports import Classifier, SignalLog, SignalStore
from core.service import SignalService


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
        if submit is not None:  # the micro-batcher calls the classifier itself
            from core.service import with_events

            return with_events(texts, await asyncio.wrap_future(submit(texts)))
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

    async def score_async(self, texts: list[str], spans: list[list[tuple[int, int]]]
                          ) -> list[tuple[Prediction, list[Prediction]]]:
        """Each text's prediction and the sentiment toward its spans. Texts with no span, or
        a classifier without an entity head, take the plain path (classify_async, with
        micro-batching where on); a span's sentiment is then its text's."""
        from starlette.concurrency import run_in_threadpool

        targeted = any(spans) and (
            self.service.targeted if self.service.classifier_ready  # built: no model load
            else await run_in_threadpool(lambda: self.service.targeted))
        if not targeted:
            return [(p, [p] * len(s)) for p, s in
                    zip(await self.classify_async(texts), spans, strict=True)]
        if self._executor is not None:
            return await asyncio.get_running_loop().run_in_executor(
                self._executor, self.service.score, texts, spans)
        return await run_in_threadpool(self.service.score, texts, spans)

    async def entities_async(self, texts: list[str]) -> list[list[EntityMention]]:
        """The companies each text names. Linking takes microseconds; only building the
        linker (once, about a second) leaves the event loop."""
        from starlette.concurrency import run_in_threadpool

        if not self.service.linker_ready:
            await run_in_threadpool(lambda: self.service.linker)
        return self.service.entities(texts)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)

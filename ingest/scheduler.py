"""In-process scheduler: one ingestion pass every `interval` seconds on a background thread."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from ingest.feeds import FeedConfig
from ingest.pipeline import Ingestor, IngestSummary

log = logging.getLogger(__name__)


class IngestScheduler:
    def __init__(self, ingestor: Ingestor, feeds: Sequence[FeedConfig], interval: float, *,
                 on_summary: Callable[[IngestSummary], None] | None = None,
                 run_immediately: bool = True) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        self.ingestor = ingestor
        self.feeds = list(feeds)
        self.interval = interval
        self.on_summary = on_summary
        self.run_immediately = run_immediately
        self.last_summary: IngestSummary | None = None
        self.passes = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="newsig-ingest", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        if not self.run_immediately and self._stop.wait(self.interval):
            return
        while not self._stop.is_set():
            try:
                summary = self.ingestor.run_once(self.feeds)
                self.last_summary = summary
                self.passes += 1
                if self.on_summary:
                    self.on_summary(summary)
            except Exception:  # the scheduler must outlive any one bad pass
                log.exception("ingestion pass failed")
            if self._stop.wait(self.interval):
                return

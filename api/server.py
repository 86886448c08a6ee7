"""`newsig serve`: the API under uvicorn plus the in-process ingestion scheduler."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

from fastapi import FastAPI

from api.app import Services, create_app
from core.settings import Settings
from core.wiring import build_classifier, build_service

log = logging.getLogger("newsig.serve")


def build_app(settings: Settings, *, feeds_file: Path | None = None,
              interval: float | None = None, schedule: bool = True) -> FastAPI:
    from core.batching import MicroBatcher
    from ingest.feeds import load_feeds
    from ingest.pipeline import Ingestor
    from ingest.scheduler import IngestScheduler

    feeds = load_feeds(feeds_file or settings.feeds_file)
    # Up to `workers` model calls at once; the classifier picks each call's threads by load
    # (all cores for a lone call, one each when they overlap: core/adapters/onnx_classifier).
    workers = serving_workers(settings)

    def classifier():  # type: ignore[no-untyped-def]
        inner = build_classifier(settings)
        if not settings.micro_batching:
            return inner
        batcher = MicroBatcher(inner, max_batch=settings.micro_batch_max,
                               max_wait_ms=settings.batch_wait_ms)
        stops.append(batcher.close)
        return batcher

    starts: list = []
    stops: list = []
    service = build_service(settings, classifier_factory=classifier)
    store = service.store
    monitor = None
    alert_log = None
    if settings.alerts_file:
        from ingest.alerts import AlertLog, AlertMonitor, WebhookDispatcher, load_alerts_config

        alerts_cfg = load_alerts_config(settings.alerts_file)
        alert_log = AlertLog(settings.alerts_dir)
        dispatcher = (WebhookDispatcher(alerts_cfg.webhooks, alerts_cfg.retry, alert_log)
                      if alerts_cfg.webhooks else None)
        monitor = AlertMonitor(store, alerts_cfg, alert_log, dispatcher)
        starts.append(monitor.start)
        stops.append(monitor.stop)
    services = Services(service=service, feeds=feeds, classify_workers=workers,
                        alert_log=alert_log)
    if schedule:
        # Built eagerly so a missing model fails `newsig serve` at start, not on first request.
        _ = service.classifier
        if interval:
            settings = settings.model_copy(update={"ingest_interval": interval})
        ingestor = Ingestor.from_settings(settings, service)

        def report(summary) -> None:  # type: ignore[no-untyped-def]
            sys.stdout.write(summary.model_dump_json(exclude={"feeds"}) + "\n")
            sys.stdout.flush()
            if monitor is not None and summary.signals_written:
                monitor.notify()  # checked in the monitor's thread: the pass never waits

        scheduler = IngestScheduler(ingestor, feeds, settings.ingest_interval,
                                    on_summary=report)
        starts.append(scheduler.start)
        stops.append(scheduler.stop)
    stops.append(services.close)
    stops.append(store.close)
    app = create_app(services, lifespan_hooks=starts, shutdown_hooks=stops,
                     max_body_bytes=settings.max_body_bytes, api_key=settings.api_key)
    return app


def check_exposure(host: str, settings: Settings, *, insecure: bool = False) -> None:
    """Refuse to serve beyond this machine without an API key, unless told to."""
    import ipaddress

    from core.errors import ConfigError

    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback and not settings.api_key and not insecure:
        raise ConfigError(f"--host {host} exposes the API beyond this machine without "
                          "authentication: set NEWSIG_API_KEY (16+ characters) or pass "
                          "--insecure")


def serving_workers(settings: Settings) -> int:
    """Model calls run at once by the server: none of its own when micro-batching (the
    batcher's thread is the one) or with a remote classifier (SageMaker calls wait on I/O)."""
    if settings.micro_batching or settings.classifier != "onnx":
        return 0
    return settings.classify_workers or os.cpu_count() or 1


def serve(settings: Settings, *, host: str, port: int, feeds_file: Path | None,
          interval: float | None, schedule: bool = True) -> None:
    import uvicorn

    app = build_app(settings, feeds_file=feeds_file, interval=interval, schedule=schedule)
    log.info("serving on http://%s:%d", host, port)
    sys.stderr.write(json.dumps({"event": "serving", "url": f"http://{host}:{port}"}) + "\n")
    # Live streams never end by themselves: on shutdown they are cut after 5 s, and their
    # clients reconnect (with Last-Event-ID) to whatever serves next.
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False,
                timeout_graceful_shutdown=5)

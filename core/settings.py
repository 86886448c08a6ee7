"""One Settings object (environment prefix NEWSIG_); never read at import time."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.names import ENV_PREFIX, MODEL_FILE, RELEASE_MODEL_DIR


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    #: Where signals live: sqlite:///path/signals.db or dynamodb://TABLE?region=...
    store_url: str = "sqlite:///var/signals.db"
    #: Which classifier serves: "onnx" (in-process) or "sagemaker".
    classifier: str = "onnx"
    #: Model folder: the release model tracked in the repo (model/release) unless set, e.g.
    #: to a folder written by `newsig model train`.
    model_dir: Path = RELEASE_MODEL_DIR
    #: ONNX file inside model_dir that serves (the int8 model by default).
    model_file: str = MODEL_FILE
    #: onnxruntime intra-op threads (0 = onnxruntime's default: one per core).
    onnx_threads: int = Field(default=0, ge=0)
    #: Model calls `newsig serve` runs at once, queued first come first served (0 = one per
    #: core, each on one onnxruntime thread unless onnx_threads says otherwise).
    classify_workers: int = Field(default=0, ge=0, le=256)
    #: Most headlines in one SageMaker request (the ONNX classifier runs one per model call).
    batch_size: int = Field(default=32, ge=1, le=1024)
    #: Server-side micro-batching for `newsig serve`: /classify calls that arrive while the
    #: model is busy are classified together in its next call.
    micro_batching: bool = False
    #: Most texts in one micro-batch (each still runs in a model run of its own).
    micro_batch_max: int = Field(default=16, ge=1, le=1024)
    #: Extra milliseconds to wait for more calls before a batch runs (0: none; measured best).
    batch_wait_ms: float = Field(default=0.0, ge=0, le=1000)
    #: Attempts of a store write or classifier call that failed transiently (core.retry).
    retry_attempts: int = Field(default=3, ge=1, le=10)
    #: Attempts of each AWS call, botocore standard mode (retries included).
    aws_max_attempts: int = Field(default=3, ge=1, le=10)
    #: Headlines classified and written together during ingestion.
    classify_chunk: int = Field(default=256, ge=1, le=4096)
    #: Largest request body the API reads, in bytes (413 above it).
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    #: If set, every API call needs it (X-API-Key or Authorization: Bearer); required to
    #: serve on a non-loopback address unless `newsig serve --insecure`.
    api_key: str | None = Field(default=None, min_length=16, repr=False)
    sagemaker_endpoint: str | None = None
    #: "fast": the student alone; "accurate": the confidence cascade (core.adapters.cascade),
    #: the teacher answering the headlines the student is unsure of.
    tier: str = "fast"
    #: The built teacher (`make teacher`), for tier=accurate without teacher_endpoint.
    teacher_dir: Path = Field(default_factory=lambda: Path(
        __import__("os").environ.get("NEWSIG_CACHE", "~/.cache/newsig")).expanduser()
        / "teacher")
    #: SageMaker endpoint hosting the teacher (AWS): the Lambdas run the student in process
    #: and send only the uncertain headlines there.
    teacher_endpoint: str | None = None
    #: Cascade threshold on the student's top probability (default: the teacher folder's
    #: cascade.json, chosen on validation by `newsig model cascade`).
    cascade_threshold: float | None = Field(default=None, ge=0, le=1)
    #: Seconds the cascade waits for the teacher before the student's answer stands.
    teacher_timeout_s: float = Field(default=10.0, gt=0, le=300)
    #: EventBridge bus the stream consumer publishes `Signal Created` events to (AWS).
    event_bus: str | None = None
    #: WebSocket API management endpoint (https://ID.execute-api.REGION.amazonaws.com/STAGE):
    #: the stream consumer pushes new signals to subscribed connections through it.
    ws_endpoint: str | None = None
    #: Secrets Manager secret holding the token WebSocket clients present on $connect.
    ws_token_secret: str | None = None
    aws_region: str | None = None
    #: Feeds file (TOML) used by the scheduler and the ingest Lambda.
    feeds_file: Path | None = None
    #: Sentiment-shift alerts and webhooks (TOML, ingest/alerts.py); none: no alerts.
    alerts_file: Path | None = None
    #: Where the alert and webhook-delivery logs are written.
    alerts_dir: Path = Path("var/alerts")
    #: Seconds between scheduled ingestion passes.
    ingest_interval: float = Field(default=300.0, gt=0)
    #: Per-feed HTTP timeout in seconds.
    fetch_timeout: float = Field(default=10.0, gt=0)
    #: Let feed fetches reach loopback and private addresses even when the feed URL is
    #: public (redirects included). Link-local / metadata addresses stay refused.
    fetch_allow_private: bool = False
    #: Largest feed body accepted, in bytes.
    max_feed_bytes: int = Field(default=5 * 1024 * 1024, gt=0)
    #: Feeds fetched at once.
    fetch_concurrency: int = Field(default=16, ge=1, le=256)
    #: Bound on one whole ingestion pass, in seconds.
    ingest_run_timeout: float = Field(default=300.0, gt=0)
    #: A failing feed waits base * 2^(failures-1) seconds, at most cap, before its next try.
    backoff_base: float = Field(default=60.0, ge=0)
    backoff_cap: float = Field(default=3600.0, ge=0)
    #: CSV of company names -> tickers (columns name,ticker); default: the shipped table.
    ticker_table: Path | None = None

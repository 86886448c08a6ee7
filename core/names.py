"""Names defined once and imported by infra/, dashboards/ and the adapters."""

from __future__ import annotations

from pathlib import Path
from typing import Final

#: Label order used everywhere: model outputs, probabilities, metrics, plots.
LABELS: Final[tuple[str, str, str]] = ("negative", "neutral", "positive")

# --- DynamoDB signals table (single-table design, see README) ---------------------
TABLE_PARTITION_KEY: Final = "pk"
TABLE_SORT_KEY: Final = "sk"
#: GSI: signals of one source, newest first (pk SRC#<source>, sk <first_seen_at>#<id>).
GSI_BY_SOURCE: Final = "by_source"
GSI_BY_SOURCE_PK: Final = "src_pk"
GSI_BY_SOURCE_SK: Final = "src_sk"
#: GSI: all signals, newest first (constant pk, sk <first_seen_at>#<id>).
GSI_BY_TIME: Final = "by_time"
GSI_BY_TIME_PK: Final = "all_pk"
GSI_BY_TIME_SK: Final = "all_sk"
TABLE_TTL_ATTRIBUTE: Final = "expires_at"
#: Key prefixes and fixed sort keys of the single table. The adapters build keys from these,
#: the stream consumer filters on them, and infra/ builds the IAM LeadingKeys conditions
#: from them: rename one here and every user follows.
KEY_SIGNAL: Final = "SIG#"          # SIG#<signal_id> / SIG: the signal
SORT_SIGNAL: Final = "SIG"
KEY_TICKER: Final = "TKR#"          # TKR#<ticker> / <first_seen_at>#<id>: a ticker's copy
KEY_SOURCE: Final = "SRC#"          # GSI by_source: SRC#<source>
KEY_ALL: Final = "ALL"              # GSI by_time: one partition for every signal
KEY_LINK: Final = "LINK#"           # LINK#<link_key> / LINK: a canonical link seen
SORT_LINK: Final = "LINK"
KEY_STORY: Final = "STORY#"         # STORY#<story_id> / FIRST | SRC#<source>
KEY_FEED: Final = "FEED"            # FEED / <feed_id>: polling state
SORT_SCORE: Final = "SCORE#"        # SIG#<signal_id> / SCORE#<version>: a later score
KEY_VERSION: Final = "VER"          # VER / <version>: how many signals it scored
KEY_META: Final = "META"            # META / ACTIVE: the active version; META / LOG#<at>
KEY_ALERT: Final = "ALERT#"         # ALERT#<ticker>#<direction> / ALERT: the cooldown
SORT_ALERT: Final = "ALERT"
KEY_CONNECTION: Final = "CONN#"     # CONN#<id> / CONN: a WebSocket connection
SORT_CONNECTION: Final = "CONN"
KEY_SUBSCRIPTION: Final = "SUB#"    # SUB#T:<ticker> | SUB#S:<source> | SUB#* / <id>

# --- Metrics (CloudWatch EMF namespace and names) ---------------------------------
METRIC_NAMESPACE: Final = "NewsSignals"
METRIC_HEADLINES_SEEN: Final = "HeadlinesSeen"
METRIC_SIGNALS_WRITTEN: Final = "SignalsWritten"
METRIC_DUPLICATES: Final = "Duplicates"
METRIC_FEED_FAILURES: Final = "FeedFailures"
METRIC_CLASSIFY_LATENCY: Final = "ClassifyLatency"
METRIC_SIGNALS_PER_LABEL: Final = "SignalsPerLabel"
#: 1 for an ingest pass that left nothing pending and reached at least one feed (or had no
#: failures), 0 otherwise: the "ingestion stopped" alarm watches its sum.
METRIC_INGEST_SUCCEEDED: Final = "IngestSucceeded"
METRIC_DIMENSION_FEED: Final = "Feed"
METRIC_DIMENSION_LABEL: Final = "Label"

# --- HTTP paths anyone may read, even where an API key is required -----------------------
#: The dashboard page and its assets (they hold no data; the page asks for the key), the health
#: check and the API description. The local server's guard and API Gateway both read these.
PUBLIC_PATHS: Final = frozenset({"/", "/favicon.ico", "/health", "/openapi.json", "/docs"})
PUBLIC_PREFIXES: Final = ("/static/", "/docs/")

# --- Events on AWS (EventBridge) ----------------------------------------------------------
#: `source` and `detail-type` of the event published once per stored signal.
EVENT_SOURCE: Final = "news-signals"
#: The custom EventBridge bus the stack creates.
EVENT_BUS_NAME: Final = "news-signals"
EVENT_SIGNAL_CREATED: Final = "Signal Created"
EVENT_SENTIMENT_SHIFT: Final = "Sentiment Shift"

# --- Service, stack and log names ------------------------------------------------------
#: Powertools service names (log field `service`, EMF dimension `service`).
SERVICE_INGEST: Final = "newsig-ingest"
SERVICE_API: Final = "newsig-api"
SERVICE_EVENTS: Final = "newsig-events"
SERVICE_RESCORE: Final = "newsig-rescore"
#: The CloudFormation stack the CDK app deploys.
STACK_NAME: Final = "NewsSignals"

# --- Input limits (the API, the CLI and the classifiers share them) -------------------
#: Longest headline accepted, in characters (after whitespace is trimmed).
MAX_HEADLINE_CHARS: Final = 1000
#: Most headlines in one POST /classify.
MAX_HEADLINES_PER_REQUEST: Final = 64
#: What one stored signal may carry, so that every backend can hold it (a DynamoDB item is
#: at most 400 KB and a transaction at most 100 items): more is cut and flagged.
MAX_TICKERS_PER_SIGNAL: Final = 20
#: Companies kept per headline (a headline listing 200 tickers keeps 20, flagged).
MAX_ENTITIES_PER_SIGNAL: Final = 20
#: Longest company name a caller may ask the sentiment toward.
MAX_TARGET_CHARS: Final = 200
MAX_SUMMARY_CHARS: Final = 2000
MAX_LINK_CHARS: Final = 2048
MAX_GUID_CHARS: Final = 512

# --- Environment -------------------------------------------------------------------
ENV_PREFIX: Final = "NEWSIG_"

# --- Versions -------------------------------------------------------------------------
#: The distribution's version (pyproject.toml reads it from here) and the API's.
SERVICE_VERSION: Final = "0.1.0"

# --- Model artefacts --------------------------------------------------------------------
MODEL_FILE: Final = "model.int8.onnx"         # the int8 graph that serves
MODEL_FP32_FILE: Final = "model.onnx"         # the fp32 graph (training folders only)
TOKENIZER_FILE: Final = "tokenizer.json"
LABELS_FILE: Final = "labels.json"            # label order, max length, base model
METRICS_FILE: Final = "metrics.json"          # measured figures
VERSION_FILE: Final = "model_version"         # content hash of the serving graph
ENTITY_HEAD_FILE: Final = "entity_head.json"  # the sentiment toward each company
EVENT_LAYER_FILE: Final = "event_layer.json"  # what the model learned of the events
#: What a classifier needs to serve (and what a Lambda bundle carries); the entity head and
#: the event layer too where a model folder has them (both count in its model_version).
SERVING_FILES: Final = (MODEL_FILE, TOKENIZER_FILE, LABELS_FILE, VERSION_FILE)
OPTIONAL_SERVING_FILES: Final = (ENTITY_HEAD_FILE, EVENT_LAYER_FILE)
#: The model tracked in the repository and served by default (int8 ONNX + tokenizer).
RELEASE_MODEL_DIR: Final = Path(__file__).resolve().parent.parent / "model" / "release"
#: What a release folder holds; nothing else is copied into it.
RELEASE_FILES: Final = (*SERVING_FILES, METRICS_FILE)

"""Domain errors. Adapters translate backend errors (sqlite, botocore, onnxruntime) into
these; only api/ maps them to HTTP status codes."""

from __future__ import annotations


class NewsSignalsError(Exception):
    """Base class for every error the service raises on purpose."""


class InvalidInputError(NewsSignalsError, ValueError):
    """Input that can never succeed (bad text, bad cursor, bad file row)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class ConfigError(NewsSignalsError):
    """A setting, store URL, feeds file or model folder that cannot be used."""


class ModelNotFoundError(ConfigError):
    """The model folder is missing or incomplete."""


class ClassifierError(NewsSignalsError):
    """The classifier failed for this call."""


class ClassifierUnavailableError(ClassifierError):
    """The classifier is temporarily unavailable (throttled, 5xx, timeout): retry later."""


class StoreError(NewsSignalsError):
    """The signal store failed for this call."""


class StoreUnavailableError(StoreError):
    """The store is temporarily unavailable (locked, throttled): retry later."""


class ItemRejectedError(StoreError):
    """The store can never hold this one item (too large, invalid): retrying cannot help,
    so it is reported as rejected instead of being kept pending forever."""

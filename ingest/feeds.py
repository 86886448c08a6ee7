"""The feeds file: TOML with [[feeds]] tables (id, url, optional name and tickers)."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

from pydantic import ValidationError

from core.errors import ConfigError
from core.models import FeedConfig

__all__ = ["FeedConfig", "default_feeds_path", "load_feeds"]

DEFAULT_FEEDS_FILE = "feeds.toml"


def default_feeds_path() -> Path:
    return Path(str(resources.files("ingest") / DEFAULT_FEEDS_FILE))


def load_feeds(path: str | Path | None = None) -> list[FeedConfig]:
    """Read and validate a feeds file; errors name the file and the offending feed."""
    path = Path(path) if path else default_feeds_path()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"feeds file {path} does not exist") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"feeds file {path} is not valid TOML: {exc}") from exc
    raw = data.get("feeds")
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"feeds file {path} has no [[feeds]] entries")
    feeds: list[FeedConfig] = []
    seen: set[str] = set()
    for n, item in enumerate(raw, start=1):
        try:
            feed = FeedConfig.model_validate(item)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'feed'}: {e['msg']}"
                                 for e in exc.errors())
            raise ConfigError(f"feeds file {path}, feed #{n}: {problems}") from exc
        if feed.id in seen:
            raise ConfigError(f"feeds file {path}, feed #{n}: duplicate id {feed.id!r}")
        seen.add(feed.id)
        feeds.append(feed)
    return feeds

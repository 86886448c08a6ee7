"""The feeds file: TOML with [[feeds]] tables (id, url, optional name and tickers)."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from core.errors import ConfigError

DEFAULT_FEEDS_FILE = "feeds.toml"


class FeedConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    url: str = Field(min_length=1)
    name: str | None = None
    tickers: tuple[str, ...] = ()

    @field_validator("url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        v = v.strip()
        if not v.lower().startswith(("http://", "https://")):
            raise ValueError("url must start with http:// or https://")
        return v

    @field_validator("tickers", mode="before")
    @classmethod
    def _tickers(cls, v: object) -> tuple[str, ...]:
        if isinstance(v, str):
            v = [v]
        return tuple(str(t).strip().lstrip("$").upper() for t in (v or []) if str(t).strip())


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

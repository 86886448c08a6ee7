"""The companies a feed item's title names (core.entities) and the tickers it carries:
subjects, then mentioned companies (never a rater), then the feed's configured tickers, then
cashtags of tickers the universe does not know (a ticker the writer gave explicitly)."""

from __future__ import annotations

import re

from core.entities import Linker
from core.models import EntityMention, tickers_of

_CASHTAG = re.compile(r"(?<![\w$])\$([A-Za-z]{1,6}(?:\.[A-Za-z]{1,2})?)\b")


def cashtags(text: str) -> list[str]:
    return [m.upper() for m in _CASHTAG.findall(text)]


def title_entities(title: str, feed_tickers: tuple[str, ...] = (),
                   linker: Linker | None = None) -> tuple[list[EntityMention], list[str]]:
    """(entities, tickers) of one title."""
    entities = linker.link(title)[0] if linker is not None else []
    unknown = [t for t in cashtags(title) if linker is None or not linker.knows(t)]
    return entities, tickers_of(entities, [*feed_tickers, *unknown])

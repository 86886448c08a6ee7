"""Feed bytes -> Articles with feedparser; titles normalised, tickers attached."""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime

import feedparser

from core.models import Article, utcnow
from core.text import normalise_text

MAX_TITLE_CHARS = 1000
_CASHTAG = re.compile(r"(?<![\w$])\$([A-Za-z]{1,6}(?:\.[A-Za-z]{1,2})?)\b")


class ParseError(Exception):
    """The body is not an RSS/Atom feed; the message is the per-feed reason."""


def cashtags(text: str) -> list[str]:
    return [m.upper() for m in _CASHTAG.findall(text)]


def _entry_time(entry: feedparser.FeedParserDict) -> datetime | None:
    for key in ("published_parsed", "updated_parsed"):
        parsed = entry.get(key)
        if parsed:
            try:
                return datetime.fromtimestamp(calendar.timegm(parsed), UTC)
            except (OverflowError, ValueError, TypeError):
                return None
    return None


def parse_feed(source_id: str, content: bytes, *, tickers: tuple[str, ...] = (),
               now: datetime | None = None) -> tuple[list[Article], int]:
    """Articles of one feed, and how many entries were skipped for having no title."""
    parsed = feedparser.parse(content)
    if not parsed.get("version") and not parsed.entries:
        reason = parsed.get("bozo_exception")
        raise ParseError(f"not an RSS or Atom feed ({reason or 'no feed elements found'})")
    now = now or utcnow()
    articles: list[Article] = []
    skipped = 0
    for entry in parsed.entries:
        title = normalise_text(entry.get("title"))
        if not title:
            skipped += 1
            continue
        if len(title) > MAX_TITLE_CHARS:
            title = title[:MAX_TITLE_CHARS - 1].rstrip() + "…"
        entry_tickers = list(tickers) + cashtags(title)
        articles.append(Article(
            source_id=source_id,
            title=title,
            link=(entry.get("link") or "").strip() or None,
            guid=(entry.get("id") or "").strip() or None,
            summary=entry.get("summary"),
            published_at=_entry_time(entry),
            first_seen_at=now,
            tickers=entry_tickers,
        ))
    return articles, skipped

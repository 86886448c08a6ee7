"""Feed bytes -> Articles with feedparser, after checks that refuse what is not a feed."""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime, timedelta

import feedparser

from core.entities import Linker
from core.models import Article, utcnow
from core.text import normalise_text
from ingest.tickers import cashtags, title_entities

__all__ = ["ParseError", "ParsedFeed", "cashtags", "check_body", "parse_feed"]

MAX_TITLE_CHARS = 1000
FUTURE_SKEW = timedelta(minutes=15)
_ENTITY_DECL = re.compile(rb"<!\s*ENTITY", re.IGNORECASE)
_ROOT_CLOSE = re.compile(rb"</(?:[\w-]+:)?(?:rss|feed|RDF)\s*>\s*$")
# "&" not starting a character or entity reference: "S&P 500", "M&A", "AT&T" in headlines.
_BARE_AMP = re.compile(rb"&(?!#[0-9]+;|#x[0-9a-fA-F]+;|[A-Za-z][A-Za-z0-9]{1,31};)")


def escape_bare_ampersands(body: bytes) -> bytes:
    """Feeds often carry unescaped "&"; left alone, the XML is malformed and feedparser's
    fallback parser turns "S&P 500" into "S&P; 500". Escaping them keeps titles intact."""
    return _BARE_AMP.sub(b"&amp;", body)


class ParseError(Exception):
    """The body is not a usable RSS/Atom feed; the message is the per-feed reason."""


class ParsedFeed:
    def __init__(self, articles: list[Article], skipped: int, truncated: bool) -> None:
        self.articles = articles
        self.skipped = skipped
        self.truncated = truncated


_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe\x00\x00", "utf-32-le"),
         (b"\x00\x00\xfe\xff", "utf-32-be"), (b"\xff\xfe", "utf-16-le"),
         (b"\xfe\xff", "utf-16-be"))
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]{1,40})["']""")
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._-]{1,40})", re.IGNORECASE)
_DECL = re.compile(rb"^(\s*<\?xml[^>]*?)\s+encoding\s*=\s*[\"'][^\"']*[\"']")


def _codec(name: str) -> str | None:
    import codecs

    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def to_utf8(body: bytes, content_type: str = "") -> bytes:
    """The body as UTF-8, whatever it came in: BOM, then the XML declaration, then the HTTP
    charset, then UTF-8; a declaration that lies falls back to Windows-1252. Checks and
    escaping then run on text, never on UTF-16 or padded bytes they would misread, and the
    declaration is rewritten so the parser reads UTF-8 too."""
    encoding: str | None = None
    for bom, name in _BOMS:
        if body.startswith(bom):
            body, encoding = body[len(bom):], name
            break
    if encoding is None and body[:4] in (b"<\x00?\x00", b"<\x00\x00\x00"):
        encoding = "utf-16-le" if body[:4] == b"<\x00?\x00" else "utf-32-le"
    if encoding is None and body[:4] in (b"\x00<\x00?", b"\x00\x00\x00<"):
        encoding = "utf-16-be" if body[:4] == b"\x00<\x00?" else "utf-32-be"
    if encoding is None:
        declared = _XML_ENCODING.match(body[:512])
        charset = _CHARSET.search(content_type)
        encoding = (declared and _codec(declared.group(1).decode("ascii"))) or (
            charset and _codec(charset.group(1))) or "utf-8"
    try:
        text = body.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        text = body.decode("cp1252", errors="replace")
    return _DECL.sub(rb"\1", text.encode("utf-8"), count=1)


def check_body(body: bytes, content_type: str = "") -> None:
    """Refuse bodies that are not feeds (HTML, JSON, empty) or declare DTD entities.
    `body` is UTF-8 (to_utf8): the entity check reads all of it, padding or not."""
    head = body[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    ctype = content_type.lower()
    if not head:
        raise ParseError("empty body")
    if head[:1] in (b"{", b"[") or "json" in ctype:
        raise ParseError("JSON document, not an RSS or Atom feed")
    looks_like_feed = any(tag in head for tag in (b"<rss", b"<feed", b"<rdf:rdf", b"<rdf"))
    if head.startswith((b"<!doctype html", b"<html")) or (
            "html" in ctype and not looks_like_feed):
        raise ParseError("HTML page, not an RSS or Atom feed")
    if _ENTITY_DECL.search(body):
        # Entity declarations have no business in a news feed; they are how billion-laughs
        # and external-entity attacks start, so the whole body is refused before parsing.
        raise ParseError("feed declares DTD entities: refused (entity-expansion protection)")


def _published(entry: feedparser.FeedParserDict, now: datetime) -> tuple[datetime | None,
                                                                         list[str]]:
    raw = entry.get("published") or entry.get("updated")
    for key in ("published_parsed", "updated_parsed"):
        # Plain dict lookup: FeedParserDict.get() maps published_* to updated_* with a
        # deprecation warning; the explicit fallback order here says the same thing.
        parsed = dict.get(entry, key)
        if parsed:
            try:
                value = datetime.fromtimestamp(calendar.timegm(parsed), UTC)
            except (OverflowError, ValueError, TypeError):
                return None, ["published_at_unparseable"]
            if value > now + FUTURE_SKEW:
                return value, ["published_in_future"]
            return value, []
    return None, (["published_at_unparseable"] if raw else [])


def parse_feed(source_id: str, content: bytes, *, tickers: tuple[str, ...] = (),
               content_type: str = "", linker: Linker | None = None,
               now: datetime | None = None) -> ParsedFeed:
    """Articles of one feed. Entries without a title are skipped and counted; if the XML is
    cut off, the last (possibly incomplete) entry is dropped and `truncated` is set."""
    content = to_utf8(content, content_type)
    check_body(content, content_type)
    content = escape_bare_ampersands(content)
    parsed = feedparser.parse(content)
    if not parsed.get("version") and not parsed.entries:
        reason = parsed.get("bozo_exception")
        raise ParseError(f"not an RSS or Atom feed ({reason or 'no feed elements found'})")
    entries = list(parsed.entries)
    truncated = bool(parsed.get("bozo")) and not _ROOT_CLOSE.search(content.rstrip())
    if truncated and entries:
        entries.pop()
    now = now or utcnow()
    articles: list[Article] = []
    skipped = 0
    for entry in entries:
        title = normalise_text(entry.get("title"))
        if not title:
            skipped += 1
            continue
        if len(title) > MAX_TITLE_CHARS:
            title = title[:MAX_TITLE_CHARS - 1].rstrip() + "…"
        published_at, flags = _published(entry, now)
        entities, found = title_entities(title, tickers, linker)
        articles.append(Article(
            source_id=source_id,
            title=title,
            link=(entry.get("link") or "").strip() or None,
            guid=(entry.get("id") or "").strip() or None,
            summary=entry.get("summary"),
            published_at=published_at,
            first_seen_at=now,
            tickers=found,
            entities=entities,
            flags=flags,
        ))
    return ParsedFeed(articles, skipped, truncated)

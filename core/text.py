"""Text normalisation and stable identities for articles and signals."""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from collections.abc import Iterable
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_WS = re.compile(r"\s+")
_TAG_HINT = re.compile(r"<[A-Za-z/!]")
_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)
_TRACKING_PARAMS = re.compile(
    r"^(utm_[a-z_]*|fbclid|gclid|dclid|mc_cid|mc_eid|ocid|cmpid|mod|src|ref|rss|feedtype|yptr)$",
    re.IGNORECASE,
)


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def strip_html(text: str) -> str:
    """Drop tags, keep their text; unescape entities (also double-escaped ones)."""
    if _TAG_HINT.search(text):
        parser = _TextExtractor()
        parser.feed(text)
        parser.close()
        text = " ".join(parser.parts)
    # Feeds often double-escape ("&amp;amp;"); unescape until stable (bounded).
    for _ in range(3):
        unescaped = html.unescape(text)
        if unescaped == text:
            break
        text = unescaped
    return text


def normalise_text(text: str | None) -> str:
    """HTML stripped, entities unescaped, Unicode NFC, whitespace folded, trimmed."""
    if not text:
        return ""
    text = strip_html(text)
    text = unicodedata.normalize("NFC", text)
    text = "".join(ch if ch.isprintable() or ch.isspace() else " " for ch in text)
    return _WS.sub(" ", text).strip()


def story_key(title: str) -> str:
    """Title reduced to lower-case words: one story syndicated by several outlets."""
    return _NON_WORD.sub(" ", normalise_text(title).casefold()).strip()


def canonical_link(link: str | None) -> str:
    """Scheme and host lower-cased, default port, tracking parameters and fragment dropped."""
    if not link:
        return ""
    link = link.strip()
    try:
        parts = urlsplit(link)
    except ValueError:
        return link
    if not parts.scheme or not parts.netloc:
        return link
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port if parts.port not in (None, 80 if scheme == "http" else 443) else None
    netloc = f"{host}:{port}" if port else host
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not _TRACKING_PARAMS.match(k)]
    path = parts.path or "/"
    return urlunsplit((scheme, netloc, path, urlencode(query, doseq=True), ""))


def stable_hash(*parts: str, length: int = 32) -> str:
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return digest[:length]


def make_signal_id(source_id: str, guid: str | None, link: str | None, title: str) -> str:
    """Stable id: source + GUID, else source + canonical link, else source + title."""
    if guid and guid.strip():
        return stable_hash(source_id, "guid", guid.strip())
    canon = canonical_link(link)
    if canon:
        return stable_hash(source_id, "link", canon)
    return stable_hash(source_id, "title", story_key(title))


def make_link_key(source_id: str, link: str | None) -> str | None:
    """Key of an item's canonical link within its source, or None if the link identifies
    nothing (absent, or a bare host such as a homepage that many items point at)."""
    canon = canonical_link(link)
    if not canon or urlsplit(canon).path in ("", "/"):
        return None
    return stable_hash(source_id, "link", canon)


def make_story_id(title: str) -> str:
    return stable_hash("story", story_key(title), length=24)


def normalise_ticker(value: str) -> str:
    """'$aapl ' -> 'AAPL': the one spelling of a ticker, everywhere (articles, feeds, queries)."""
    return value.strip().lstrip("$").strip().upper()


def normalise_tickers(values: Iterable[str]) -> list[str]:
    """Normalised, empties dropped, first occurrence kept, order kept."""
    return list(dict.fromkeys(t for t in map(normalise_ticker, values) if t))


_SECRET_PARAM = re.compile(r"(key|token|secret|password|passwd|pwd|sig|signature|auth|"
                           r"credential|session|apikey)", re.IGNORECASE)


def redact_url(url: str | None) -> str | None:
    """The URL without credentials: user:password@ and secret-looking query values become
    ***, so feed health can be shown without leaking what the feed URL carries."""
    if not url:
        return url
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            netloc = "***@" + netloc.rpartition("@")[2]
        query = [(k, "***" if _SECRET_PARAM.search(k) else v)
                 for k, v in parse_qsl(parts.query, keep_blank_values=True)]
        return urlunsplit((parts.scheme, netloc, parts.path, urlencode(query, safe="*"),
                           parts.fragment))
    except ValueError:
        return "(unparseable URL)"


#: One character that shows: not whitespace, not a control, not an invisible format character
#: (zero-width spaces and joiners, bidi marks, word joiner, BOM). The API
#: publishes this same pattern in its OpenAPI schema, so the contract and the check agree.
VISIBLE_CHAR = (r"[^\s\x00-\x1f\x7f-\x9f\u00ad\u180e\u200b-\u200f\u2028-\u202f"
                r"\u205f-\u206f\u3000\ufeff]")
_VISIBLE = re.compile(VISIBLE_CHAR)


def has_visible_text(text: str) -> bool:
    """False for text made only of spaces and invisible characters (zero-width, controls)."""
    return _VISIBLE.search(text) is not None

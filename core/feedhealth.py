"""Per-feed health as users see it (`GET /feeds`, `newsig feeds`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from pydantic import BaseModel

from core.models import FeedConfig, FeedState
from core.text import redact_url


class FeedHealth(BaseModel):
    id: str
    name: str | None = None
    url: str | None = None
    configured: bool = True
    status: str  # ok | failing | never_polled
    last_attempt_at: datetime | None = None
    last_success_at: datetime | None = None
    last_status: int | None = None
    last_error: str | None = None
    consecutive_failures: int = 0
    items_seen: int = 0
    signals_written: int = 0
    next_attempt_at: datetime | None = None


def feed_health(feeds: Sequence[FeedConfig],
                states: Mapping[str, FeedState]) -> list[FeedHealth]:
    """Configured feeds in file order, then feeds the store remembers but the file dropped."""
    out: list[FeedHealth] = []
    known = {f.id for f in feeds}
    for feed in feeds:
        out.append(_health(feed.id, feed.name, feed.url, True, states.get(feed.id)))
    for feed_id in sorted(set(states) - known):
        st = states[feed_id]
        out.append(_health(feed_id, None, st.url, False, st))
    return out


def _health(feed_id: str, name: str | None, url: str | None, configured: bool,
            st: FeedState | None) -> FeedHealth:
    url = redact_url(url)
    if st is None or st.last_attempt_at is None:
        return FeedHealth(id=feed_id, name=name, url=url, configured=configured,
                          status="never_polled")
    return FeedHealth(
        id=feed_id, name=name, url=url, configured=configured,
        status="failing" if st.consecutive_failures else "ok",
        last_attempt_at=st.last_attempt_at, last_success_at=st.last_success_at,
        last_status=st.last_status, last_error=st.last_error,
        consecutive_failures=st.consecutive_failures, items_seen=st.items_seen,
        signals_written=st.signals_written, next_attempt_at=st.next_attempt_at)

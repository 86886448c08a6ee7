"""Builders of test data shared by several test modules (tests never import each other)."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.models import Article, Prediction, Signal

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)

#: Chromium flags for a headless run on a closed network (no background connections).
CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-quic", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]

RSS_ITEMS = [
    {"title": "Nokia shares &lt;b&gt;jump&lt;/b&gt; on record profit", "guid": "n-1",
     "link": "https://news.example/n1", "pubDate": "Thu, 20 Nov 2026 10:00:00 +0200"},
    {"title": "$AAPL profit fell to a loss", "guid": "n-2", "link": "https://news.example/n2"},
    {"title": "Nokia shares <b>jump</b> on record profit", "guid": "n-1",
     "link": "https://news.example/n1"},                       # repeated item
    {"title": "Board meets Monday", "link": "https://news.example/n3?utm_source=rss"},
]
ATOM_ENTRIES = [
    {"title": "Tesla beat estimates &amp; will raise dividend", "id": "urn:a:1",
     "link": "https://atom.example/1", "updated": "2026-11-21T08:30:00Z"},
    {"title": "Bank will cut rates", "id": "urn:a:2", "link": "https://atom.example/2"},
]


def make_signal(i: int, *, source: str = "feed-a", tickers: list[str] | None = None,
                seen: datetime | None = None, probs: tuple[float, float, float] = (0.1, 0.2, 0.7),
                title: str | None = None) -> Signal:
    article = Article(source_id=source, title=title or f"Headline number {i}", guid=f"g-{i}",
                      link=f"https://news.example/{i}", first_seen_at=seen or T0 + timedelta(
                          minutes=i), published_at=T0 - timedelta(hours=1), tickers=tickers or [])
    return Signal.from_article(article, Prediction.from_probabilities(probs, "test-v1"),
                               scored_at=(seen or T0) + timedelta(seconds=1))


def write_csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "label"])
        w.writerows(rows)
    return path


def make_entity_signal(i: int, entities: list[tuple[str, str, tuple[float, float, float]]], *,
                       probs: tuple[float, float, float] = (0.1, 0.2, 0.7),
                       seen: datetime | None = None, source: str = "feed-a",
                       extra_tickers: tuple[str, ...] = ()) -> Signal:
    """A signal whose title names these companies (ticker, role, sentiment toward it); the
    tickers follow the contract: subjects, then mentioned, never a rater."""
    from core.models import EntityMention, Role, tickers_of

    mentions = [EntityMention(ticker=t, name=f"{t} Corp", cik=None, span=(k * 10, k * 10 + 4),
                              role=Role(role)) for k, (t, role, _) in enumerate(entities)]
    article = Article(source_id=source, title=f"Entity headline {i}", guid=f"e-{i}",
                      link=f"https://news.example/e{i}",
                      first_seen_at=seen or T0 + timedelta(minutes=i), entities=mentions,
                      tickers=tickers_of(mentions, extra_tickers))
    return Signal.from_article(article, Prediction.from_probabilities(probs, "test-v1"),
                               scored_at=(seen or T0) + timedelta(seconds=1),
                               entity_predictions=[Prediction.from_probabilities(p, "test-v1")
                                                   for _, _, p in entities])

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from core.models import Article, Prediction, Sentiment
from core.text import canonical_link, make_signal_id, make_story_id, normalise_text


@pytest.mark.parametrize(("raw", "expected"), [
    ("  Shares <b>jump</b>\n\t 5% ", "Shares jump 5%"),
    ("AT&amp;T beats &quot;estimates&quot;", 'AT&T beats "estimates"'),
    ("Double &amp;amp; escaped", "Double & escaped"),
    ("<p>Nokia&nbsp;Oyj</p>", "Nokia Oyj"),
    ("", ""),
    (None, ""),
    ("3 < 5 and 6 > 4", "3 < 5 and 6 > 4"),
])
def test_normalise_text(raw: str | None, expected: str) -> None:
    assert normalise_text(raw) == expected


def test_canonical_link_drops_tracking_and_fragment() -> None:
    a = canonical_link("HTTPS://Example.COM:443/news/a?id=7&utm_source=rss&utm_medium=x#top")
    assert a == "https://example.com/news/a?id=7"
    assert canonical_link("https://example.com/news/a?id=7") == a
    assert canonical_link("https://example.com:8443/x") == "https://example.com:8443/x"


def test_signal_id_prefers_guid_then_link_then_title() -> None:
    by_guid = make_signal_id("src", "guid-1", "https://x.com/a", "T")
    assert by_guid == make_signal_id("src", "guid-1", "https://x.com/other", "Other title")
    by_link = make_signal_id("src", None, "https://x.com/a?utm_campaign=z", "T")
    assert by_link == make_signal_id("src", "", "https://X.com/a", "Different")
    by_title = make_signal_id("src", None, None, "Shares  jump")
    assert by_title == make_signal_id("src", None, "", "shares jump")
    assert len({by_guid, by_link, by_title}) == 3
    assert make_signal_id("a", "g", None, "t") != make_signal_id("b", "g", None, "t")


def test_story_id_groups_syndicated_titles() -> None:
    assert make_story_id("Nokia shares JUMP!") == make_story_id("nokia shares jump")
    assert make_story_id("Nokia shares jump") != make_story_id("Nokia shares fall")


def test_article_normalises_and_converts_to_utc() -> None:
    t = datetime(2026, 11, 20, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    a = Article(source_id="s", title="<i>Apple</i> &amp; $tsla", published_at=t,
                tickers=["$aapl", "AAPL", " msft "])
    assert a.title == "Apple & $tsla"
    assert a.published_at == datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    assert a.tickers == ["AAPL", "MSFT"]
    with pytest.raises(ValueError):
        Article(source_id="s", title="<b> </b>")


def test_prediction_score_and_label() -> None:
    p = Prediction.from_probabilities([0.1, 0.2, 0.7], "v1")
    assert p.label is Sentiment.positive
    assert p.score == pytest.approx(0.6)
    n = Prediction.from_probabilities([0.8, 0.15, 0.05], "v1")
    assert n.label is Sentiment.negative and n.score == pytest.approx(-0.75)

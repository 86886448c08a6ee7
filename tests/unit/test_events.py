"""The event taxonomy (core.events), its tagger and the event data built over it."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from core.events import GROUPS, KINDS, TAXONOMY, EventKind, EventTagger, markdown_table, tag
from core.names import LABELS
from model.event_data import (
    HOLDOUT_CSV,
    LABELLED_CSV,
    SUITE_COMPANIES,
    TEMPLATES,
    check_templates,
    read_labelled,
    suite_cases,
    tagger_scores,
    training_rows,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "events.md"


def test_taxonomy_is_30_to_50_kinds_with_a_polarity_and_a_reason_each() -> None:
    assert 30 <= len(TAXONOMY) <= 50
    assert len(KINDS) == len(TAXONOMY)  # names unique
    for k in TAXONOMY:
        assert re.fullmatch(r"[a-z_]+", k.name) and k.polarity in LABELS and k.reason
        assert k.patterns and k.group in GROUPS
    # the kinds the issue names are all there
    for name in ("earnings_beat", "guidance_withdrawn", "bankruptcy", "buyback",
                 "dividend_suspended", "credit_downgrade", "analyst_upgrade", "deal_collapse",
                 "recall", "drug_approval", "share_offering", "scheduling", "cyber_incident"):
        assert name in KINDS


def test_a_bad_kind_definition_fails_at_import() -> None:
    with pytest.raises(ValueError):
        EventKind("x", "g", "bullish", "why", ("a",))
    with pytest.raises(TypeError):
        EventKind("x", "g", "neutral", "why", "not a tuple")  # type: ignore[arg-type]


def test_docs_table_is_generated_from_the_code() -> None:
    """docs/events.md holds `newsig events --markdown` verbatim: one definition."""
    assert markdown_table() in DOCS.read_text()


@pytest.mark.parametrize("text, kinds", [
    ("Acme files for Chapter 11 bankruptcy protection", ["bankruptcy"]),
    ("Acme withdraws full-year guidance", ["guidance_withdrawn"]),
    ("Acme EPS $2.11 vs $1.90 consensus", ["earnings_beat"]),
    ("JPMorgan raises Acme price target to $120", ["price_target_raised"]),
    ("Goldman upgrades Acme to buy", ["analyst_upgrade"]),
    ("Moody's downgrades Acme to junk", ["credit_downgrade"]),
    ("Acme lowers outlook and plans to cut 5,000 jobs", ["guidance_cut", "layoffs"]),
    ("Acme suspends its dividend", ["dividend_suspended"]),  # not also dividend_cut
    ("Acme shares rise 3% in early trade", []),
    ("IMF lowers global growth outlook", []),
    ("Options traders eye Acme strike price", []),
])
def test_tagger_examples(text: str, kinds: list[str]) -> None:
    assert tag(text) == kinds


def test_explain_names_the_phrase() -> None:
    assert EventTagger().explain("Acme enters administration") == {
        "bankruptcy": "enters administration"}


def test_labelled_sets_are_big_enough_and_meet_the_goal() -> None:
    dev, holdout = read_labelled(LABELLED_CSV), read_labelled(HOLDOUT_CSV)
    assert len(dev) + len(holdout) >= 400 and len(dev) >= 400
    assert not {t for t, _ in dev} & {t for t, _ in holdout}
    for rows in (dev, holdout):
        scores = tagger_scores(rows)
        assert scores["precision"] >= 0.90 and scores["recall"] >= 0.80, scores["errors"]
    assert tagger_scores(dev)["kinds_covered"] == len(TAXONOMY)


def test_scores_count_misses_and_false_alarms() -> None:
    rows = [("Acme cuts 100 jobs", {"layoffs"}), ("Acme shares rise", {"recall"}),
            ("Acme recalls cars", set())]
    s = tagger_scores(rows)
    assert s["precision"] == 0.5 and s["recall"] == 0.5


def test_hostile_text_is_tagged_fast() -> None:
    long = ("raises " * 3000) + "guidance " + ("x" * 50_000)
    started = time.perf_counter()
    tag(long)
    tag("")
    tag("\x00\u202e" * 1000)
    assert time.perf_counter() - started < 5  # no catastrophic backtracking


def test_suite_and_training_data_keep_apart() -> None:
    check_templates()
    cases = suite_cases()
    assert len(cases) == len(TAXONOMY) * 2 * len(SUITE_COMPANIES)
    rows = training_rows(per_template=3, companies=["Alpha Co", "Beta Co", "Gamma Co", "Delta"])
    assert len(rows) == sum(len(t) for _, t in TEMPLATES.values()) * 3
    assert {label for _, label, _ in rows} <= set(LABELS)
    assert all(label == KINDS[kind].polarity for _, label, kind in rows)
    suite_texts = {text for _, _, text in cases}
    assert not suite_texts & {text for text, _, _ in rows}


def test_training_rows_never_use_a_suite_company() -> None:
    rows = training_rows(per_template=2)
    for text, _, _ in rows:
        for c in SUITE_COMPANIES:
            assert not re.search(rf"\b{re.escape(c)}\b", text), (c, text)

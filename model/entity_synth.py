"""Multi-company headlines with the sentiment toward each company, labelled by policy: two
companies of opposite fortune, a rater and the company it rates, a counterparty, an acquirer
and its target. Names come from the company universe (core/data), drawn with a seed; the
evaluation set (model/data/entities/targeted_eval.csv) uses other templates and names."""

from __future__ import annotations

import random
from dataclasses import dataclass

#: {A}, {B}: companies; {R}: a broker or rating agency. Each template: text, and the
#: sentiment toward A, B and R (None: the slot is absent).
TEMPLATES: list[tuple[str, str, str | None, str | None]] = [
    ("{A} rises after earnings beat while {B} slumps", "positive", "negative", None),
    ("{A} shares jump; {B} falls on weak guidance", "positive", "negative", None),
    ("{A} wins patent case against {B}", "positive", "negative", None),
    ("{A} beats {B} to a $2 billion defense contract", "positive", "negative", None),
    ("{A} takes market share from {B} as sales surge", "positive", "negative", None),
    ("{A} slides as {B} raises its outlook", "negative", "positive", None),
    ("{A} loses key customer to {B}", "negative", "positive", None),
    ("{A} cuts forecast; {B} lifts dividend", "negative", "positive", None),
    ("{A} to acquire {B} for $4.5 billion", "neutral", "positive", None),
    ("{B} soars on $3 billion takeover offer from {A}", "neutral", "positive", None),
    ("{A} sues {B} over unpaid royalties", "neutral", "negative", None),
    ("{A} and {B} shares rally after strong results", "positive", "positive", None),
    ("{A} and {B} tumble as regulators open probe", "negative", "negative", None),
    ("{A} signs supply agreement with {B}", "positive", "positive", None),
    ("{A} upgraded to Buy at {R}", "positive", None, "neutral"),
    ("{R} downgrades {A} to Underperform", "negative", None, "neutral"),
    ("{R} cuts {A} price target on weaker demand", "negative", None, "neutral"),
    ("{R} raises {A} price target after record quarter", "positive", None, "neutral"),
    ("{A} falls after {R} cuts rating to Sell", "negative", None, "neutral"),
    ("{R} initiates {A} at Neutral", "neutral", None, "neutral"),
    ("{R} upgrades {A}, downgrades {B}", "positive", "negative", "neutral"),
    ("{A} files for bankruptcy; {B} says its exposure is limited", "negative", "neutral", None),
    ("{A} recalls vehicles made with parts from {B}", "negative", "negative", None),
    ("{A} reports record profit, {B} misses estimates", "positive", "negative", None),
]


@dataclass(frozen=True)
class TargetedExample:
    text: str
    target: str
    start: int
    label: str


def generate(companies: list[str], raters: list[str], per_template: int = 20,
             seed: int = 0) -> list[TargetedExample]:
    """`per_template` headlines per template, each with its targets' labels and spans."""
    rng = random.Random(seed)
    out: list[TargetedExample] = []
    for text, a_label, b_label, r_label in TEMPLATES:
        for _ in range(per_template):
            a, b = rng.sample(companies, 2)
            r = rng.choice(raters)
            filled = text.format(A=a, B=b, R=r)
            for name, label in ((a, a_label), (b, b_label), (r, r_label)):
                if label is None:
                    continue
                start = filled.find(name)
                if start >= 0:
                    out.append(TargetedExample(filled, name, start, label))
    return out


def universe_names(limit: int = 400, seed: int = 0) -> tuple[list[str], list[str]]:
    """Company names (each a curated or full name of a company in an index) and rater names
    to fill the templates with."""
    from core.universe import default_universe

    u = default_universe()
    names = sorted({e.name for e in u.entries.values() if e.indices and not e.rater
                    and 3 <= len(e.name) <= 30 and e.name[:1].isupper()})
    rng = random.Random(seed)
    rng.shuffle(names)
    raters = sorted({r.name for r in u.raters if len(r.name) > 3})
    return names[:limit], raters

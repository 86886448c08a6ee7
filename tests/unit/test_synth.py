"""Synthetic transfer headlines stay apart from the behavioural suite they must not leak into,
and their labelling policy overrules the teacher only where the two disagree."""

from __future__ import annotations

import re

import numpy as np
import pytest

from core.names import LABELS
from model import behaviour, synth


def _shape(template: str) -> str:
    return re.sub(r"\{[a-z]+\}", "{}", template).lower()


def test_synthetic_headlines_share_no_company_broker_person_or_sentence_with_the_suite() -> None:
    made = synth.synthetic_headlines(20, seed=1)
    assert len(made) == len(set(made)) >= 20 * (len(synth.TEMPLATES) - 1)
    suite = {text for _, text in behaviour.suite()}
    assert not set(made) & suite
    for name in (*behaviour.COMPANIES, *behaviour.BROKERS, *behaviour.PEOPLE):
        assert not any(f" {name} " in f" {text} " for text in made), name
    assert synth.synthetic_headlines(20, seed=1) == made  # deterministic


def test_no_synthetic_template_is_phrased_like_a_suite_template() -> None:
    suite = {_shape(t.text) for t in behaviour.TEMPLATES}
    clashes = [t for t, _ in synth.TEMPLATES if _shape(t) in suite]
    assert not clashes


def test_every_policy_label_is_a_label_and_each_suite_category_is_covered() -> None:
    labels = {label for _, label in synth.TEMPLATES}
    assert labels <= {*LABELS, None}
    assert {"positive", "negative", "neutral"} <= labels
    pairs = synth.labelled_headlines(5, seed=3)
    assert [t for t, _ in pairs] == synth.synthetic_headlines(5, seed=3)
    won = [label for t, label in synth.TEMPLATES
           if any(w in t for w in ("secures", "awarded", "lands supply"))]
    assert won == ["positive"] * 3  # the PhraseBank's convention (module docstring)


def test_apply_policy_keeps_agreeing_rows_and_overrules_the_others() -> None:
    teacher = np.array([[0.1, 0.8, 0.1],    # neutral, policy positive: overruled
                        [0.05, 0.15, 0.8],  # positive, policy positive: kept
                        [0.3, 0.4, 0.3],    # no policy: kept
                        [0.6, 0.3, 0.1]])   # negative, policy neutral: overruled
    out, overruled = synth.apply_policy(teacher, ["positive", "positive", None, "neutral"],
                                        confidence=0.9)
    assert overruled == 2
    np.testing.assert_allclose(out[1], teacher[1])
    np.testing.assert_allclose(out[2], teacher[2])
    assert LABELS[int(out[0].argmax())] == "positive" and out[0].max() == pytest.approx(0.9)
    assert LABELS[int(out[3].argmax())] == "neutral"
    np.testing.assert_allclose(out.sum(axis=1), 1.0)
    np.testing.assert_allclose(teacher[0], [0.1, 0.8, 0.1])  # input untouched

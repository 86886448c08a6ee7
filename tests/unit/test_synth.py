"""Synthetic transfer headlines stay apart from the behavioural suite they must not leak into."""

from __future__ import annotations

from model import behaviour, synth


def test_synthetic_headlines_share_no_company_broker_person_or_sentence_with_the_suite() -> None:
    made = synth.synthetic_headlines(20, seed=1)
    assert len(made) == len(set(made)) >= 20 * (len(synth.TEMPLATES) - 1)
    suite = {text for _, text in behaviour.suite()}
    assert not set(made) & suite
    for name in (*behaviour.COMPANIES, *behaviour.BROKERS, *behaviour.PEOPLE):
        assert not any(f" {name} " in f" {text} " for text in made), name
    assert synth.synthetic_headlines(20, seed=1) == made  # deterministic

"""In-domain transfer sentences for distillation: variants of the training sentences.

Each variant has its numbers jittered (years kept) and/or one direction word swapped
(rose/fell, profit/loss, up/down, ...). Variants carry no gold label: the teacher labels
whatever is generated, so a swap that flips the meaning is exactly what it should see.
Deterministic for a given seed; variants equal (once numbers are masked) to a held-out
sentence are dropped by the caller.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable

#: Pairs of direction words; each is swapped for the other, case kept.
DIRECTION_PAIRS: tuple[tuple[str, str], ...] = (
    ("rose", "fell"), ("rise", "fall"), ("rises", "falls"), ("rising", "falling"),
    ("increased", "decreased"), ("increase", "decrease"), ("increases", "decreases"),
    ("increasing", "decreasing"), ("up", "down"), ("higher", "lower"), ("profit", "loss"),
    ("profits", "losses"), ("grew", "declined"), ("growth", "decline"), ("gain", "drop"),
    ("gains", "drops"), ("improved", "weakened"), ("strong", "weak"), ("stronger", "weaker"),
    ("beat", "missed"), ("upgrade", "downgrade"), ("upgraded", "downgraded"),
    ("raised", "cut"), ("surged", "plunged"), ("jumped", "slumped"), ("climbed", "slipped"),
    ("expanded", "contracted"), ("positive", "negative"), ("better", "worse"),
    ("record", "weak"), ("won", "lost"), ("boosted", "hurt"),
)
_SWAP = {a: b for a, b in DIRECTION_PAIRS} | {b: a for a, b in DIRECTION_PAIRS}
_WORD = re.compile(r"[A-Za-z]+")
_NUMBER = re.compile(r"(?<![\w.,])(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?(?![\w])")


def _keep_case(src: str, repl: str) -> str:
    if src.isupper() and len(src) > 1:
        return repl.upper()
    if src[0].isupper():
        return repl[0].upper() + repl[1:]
    return repl


def swap_direction(text: str, rng: random.Random) -> str | None:
    """The text with one direction word (chosen at random) swapped, or None if it has none."""
    hits = [m for m in _WORD.finditer(text) if m.group(0).lower() in _SWAP]
    if not hits:
        return None
    m = rng.choice(hits)
    word = m.group(0)
    return text[:m.start()] + _keep_case(word, _SWAP[word.lower()]) + text[m.end():]


def _is_year(whole: str, frac: str | None) -> bool:
    return frac is None and "," not in whole and len(whole) == 4 and 1900 <= int(whole) <= 2099


def jitter_numbers(text: str, rng: random.Random) -> str | None:
    """Every number scaled by a random factor in [0.5, 1.5] (same decimals, thousands
    separators kept); years are left alone. None when there is nothing to jitter."""
    changed = False

    def repl(m: re.Match[str]) -> str:
        nonlocal changed
        whole, frac = m.group(1), m.group(2)
        if _is_year(whole, frac):
            return m.group(0)
        value = float(whole.replace(",", "") + (f".{frac}" if frac else ""))
        new = value * rng.uniform(0.5, 1.5)
        decimals = len(frac) if frac else 0
        if decimals == 0:
            new_int = max(1, round(new)) if value >= 1 else round(new)
            out = f"{new_int:,}" if "," in whole else str(new_int)
        else:
            out = f"{new:,.{decimals}f}" if "," in whole else f"{new:.{decimals}f}"
        changed = changed or out != m.group(0)
        return out

    result = _NUMBER.sub(repl, text)
    return result if changed else None


def variants(text: str, rng: random.Random, n: int = 3) -> list[str]:
    """Up to n distinct variants: numbers jittered, a direction swapped, or both."""
    out: list[str] = []
    makers = [
        lambda t: jitter_numbers(t, rng),
        lambda t: swap_direction(t, rng),
        lambda t: (lambda j: swap_direction(j, rng) if j else None)(jitter_numbers(t, rng)),
    ]
    attempts = 0
    while len(out) < n and attempts < 4 * n:
        made = makers[attempts % len(makers)](text)
        attempts += 1
        if made and made != text and made not in out:
            out.append(made)
    return out


def augment(texts: Iterable[str], *, seed: int = 0, per_sentence: int = 3,
            exclude_keys: set[str] | None = None) -> list[str]:
    """Variants of every text, deduplicated against each other and the originals; any whose
    number-masked key is in `exclude_keys` (the held-out sentences) is dropped."""
    from model.data import near_duplicate_key

    texts = list(texts)
    seen = set(texts)
    exclude = exclude_keys or set()
    out: list[str] = []
    for _, v in _variant_stream(texts, seed, per_sentence):
        if v not in seen and near_duplicate_key(v) not in exclude:
            seen.add(v)
            out.append(v)
    return out


def _variant_stream(texts: list[str], seed: int, per_sentence: int
                    ) -> Iterable[tuple[str, str]]:
    """(sentence, variant) in the order `augment` draws them: one seeded generator over
    the sentences in order, so the same call replays the same variants."""
    rng = random.Random(seed)
    for text in texts:
        for v in variants(text, rng, per_sentence):
            yield text, v


def variant_origins(texts: Iterable[str], *, seed: int = 0, per_sentence: int = 3
                    ) -> dict[str, set[str]]:
    """Every variant `augment(texts, seed=seed, per_sentence=per_sentence)` can produce,
    mapped to the sentence(s) it was made from (before any deduplication or exclusion)."""
    origins: dict[str, set[str]] = {}
    for text, v in _variant_stream(list(texts), seed, per_sentence):
        origins.setdefault(v, set()).add(text)
    return origins

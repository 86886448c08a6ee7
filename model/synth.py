"""Synthetic in-domain headlines for the transfer set, labelled by the teacher under a policy.

The error analysis and the behavioural suite point at short event headlines the PhraseBank
barely has: earnings beats and misses, contract wins, rating changes, guidance, dividends, job
cuts, results dates, appointments. These templates write such headlines with their own
phrasings, companies, brokers and people, all disjoint from model/behaviour.py's (a test
asserts it, template phrasings included), so the suite still measures generalisation: it never
sees a training sentence or a training phrasing.

Labels: the teacher learnt two conventions that disagree. The Financial PhraseBank's
annotators label a won contract or order positive (all 44 such sentences in the canonical
train part), the Twitter headline set mostly neutral (12 of 14 "wins/secures/lands ... contract/
order/deal" headlines). The product follows the PhraseBank, which it is fine-tuned on and whose
annotators were finance professionals: each template carries the label those annotators give
such a sentence, and a synthetic row whose teacher top label differs gets the policy label
instead (`apply_policy`; the count overruled is in the soft labels' provenance). Templates
whose reading is in doubt (a buyback, hiring) carry no label and keep the teacher's.

The same policy reaches the real headlines (`headline_policy`): a training headline that
announces a won contract or order is positive, whatever the headline set's annotators said,
and so are its augmented variants; every other headline keeps its human label."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

import numpy as np

from core.names import LABELS
from model.behaviour import BROKERS as SUITE_BROKERS
from model.behaviour import COMPANIES as SUITE_COMPANIES
from model.behaviour import PEOPLE as SUITE_PEOPLE

COMPANIES = (
    "Ahlstrom", "Cargotec", "Huhtamaki", "Kesko", "Nordea", "Tietoevry", "YIT", "Valmet",
    "Konecranes", "Aspo", "Raisio", "Sanoma", "Tokmanni", "Uponor", "Vaisala", "Adidas",
    "BASF", "Bayer", "Carlsberg", "Heineken", "ING", "Maersk", "Novo Nordisk", "Orsted", "SAP",
    "Telia", "Vestas", "Zalando", "ABB", "Atlas Copco", "Electrolux", "H&M", "Sandvik", "SKF",
    "Equinor", "Ford", "General Motors", "Oracle", "Cisco", "Adobe", "Walmart", "Nike",
    "Lufthansa", "Airbus", "Renault", "Kojamo", "Infineon", "Volkswagen",
)
BROKERS = ("Credit Suisse", "Nordea Markets", "SEB", "Danske Bank", "Bank of America",
           "Evli Research", "Berenberg", "Kepler Cheuvreux")
PEOPLE = ("Mikko Laine", "Sarah Miller", "Jonas Berg", "Elena Petrova", "Tom Walker",
          "Ingrid Olsen", "Carlos Mendes", "Aiko Tanaka")
QUARTERS = ("Q1", "Q2", "Q3", "Q4", "first-half", "second-half", "annual")
CURRENCIES = ("EUR", "USD", "SEK", "GBP", "NOK")

#: (template, policy label): the label the Financial PhraseBank's annotators give such a
#: sentence, or None where its reading is in doubt (a buyback, hiring); module docstring.
TEMPLATES: tuple[tuple[str, str | None], ...] = (
    # earnings against expectations
    ("{c} {q} earnings per share beat consensus", "positive"),
    ("{c} posts {q} EPS above analyst forecasts", "positive"),
    ("{c} tops profit estimates as sales grow {pct} %", "positive"),
    ("{c} {q} earnings per share fall short of forecasts", "negative"),
    ("{c} misses analyst estimates for {q} profit", "negative"),
    ("{c} {q} revenue comes in below expectations", "negative"),
    # orders and contracts
    ("{c} secures {cur} {m} million order", "positive"),
    ("{c} lands supply deal worth {cur} {m} million", "positive"),
    ("{c} awarded {cur} {m} mln contract by a utility", "positive"),
    ("{c} signs {cur} {m} million service agreement", "positive"),
    ("{c} loses {cur} {m} million contract to a rival", "negative"),
    # analyst ratings
    ("{broker} raises {c} to overweight", "positive"),
    ("{broker} lifts {c} rating to buy from hold", "positive"),
    ("{c} moved up to outperform by {broker}", "positive"),
    ("{broker} cuts {c} to underweight", "negative"),
    ("{c} downgraded to sell at {broker}", "negative"),
    ("{broker} lowers {c} rating to reduce", "negative"),
    # guidance and warnings
    ("{c} lifts annual sales forecast", "positive"),
    ("{c} boosts {q} profit outlook", "positive"),
    ("{c} trims its full-year forecast", "negative"),
    ("{c} warns profit will fall this year", "negative"),
    ("{c} lowers revenue target on weak demand", "negative"),
    # dividends and buybacks
    ("{c} increases dividend to {cur} 0.{d} per share", "positive"),
    ("{c} announces {cur} {m} million share buyback", None),
    ("{c} scraps its dividend", "negative"),
    ("{c} cuts dividend to preserve cash", "negative"),
    # jobs
    ("{c} plans to shed {n} jobs", "negative"),
    ("{c} to lay off {n} workers in restructuring", "negative"),
    ("{c} to hire {n} engineers", None),
    # results and operations
    ("{c} operating profit rises {pct} % in {q}", "positive"),
    ("{c} net profit jumps {pct} %", "positive"),
    ("{c} swings to {q} operating loss", "negative"),
    ("{c} net sales decrease {pct} % in {q}", "negative"),
    # neutral announcements
    ("{c} to publish {q} report on {month} {day}", "neutral"),
    ("{c} will hold its annual general meeting on {month} {day}", "neutral"),
    ("{c} names {person} {role}", "neutral"),
    ("{person} appointed {role} at {c}", "neutral"),
    ("{c} to present at investor conference on {month} {day}", "neutral"),
    ("{c} completes change in its share capital", "neutral"),
)

MONTHS = ("January", "February", "March", "April", "May", "June", "September", "November")
ROLES = ("chief operating officer", "chief technology officer", "general counsel",
         "head of sales")


#: A headline announcing a won contract or order: the verb (never the noun "win" or "land";
#: "won't" fails the whitespace after the verb), at most four words, then the contract,
#: order or deal.
CONTRACT_WIN = re.compile(r"\b(?:wins|won|awarded|secures|secured|lands|landed)\b"
                          r"(?:\s+\S+){0,4}?\s+(?:contract|order|deal)s?\b", re.IGNORECASE)


def headline_policy(text: str) -> str | None:
    """The policy label of a real headline (module docstring): positive for a won contract or
    order, else None (its human label stands)."""
    return "positive" if CONTRACT_WIN.search(text) else None


def synthetic_headlines(per_template: int, *, seed: int = 0) -> list[str]:
    """`per_template` distinct headlines for each template (fewer if it runs out)."""
    return [text for text, _ in labelled_headlines(per_template, seed=seed)]


def labelled_headlines(per_template: int, *, seed: int = 0) -> list[tuple[str, str | None]]:
    """`synthetic_headlines`, each with its template's policy label (None: no policy)."""
    assert not set(COMPANIES) & set(SUITE_COMPANIES)
    assert not set(BROKERS) & set(SUITE_BROKERS) and not set(PEOPLE) & set(SUITE_PEOPLE)
    rng = random.Random(seed)
    out: list[tuple[str, str | None]] = []
    seen: set[str] = set()
    for template, label in TEMPLATES:
        made = 0
        for _ in range(per_template * 5):
            text = template.format(
                c=rng.choice(COMPANIES), q=rng.choice(QUARTERS), cur=rng.choice(CURRENCIES),
                m=rng.choice((8, 15, 24, 60, 90, 210, 520)), n=rng.choice((40, 150, 600, 2000)),
                pct=rng.choice((2, 4, 7, 12, 18, 25)), d=rng.randint(10, 95),
                broker=rng.choice(BROKERS), person=rng.choice(PEOPLE),
                role=rng.choice(ROLES), month=rng.choice(MONTHS), day=rng.randint(2, 27))
            if text not in seen:
                seen.add(text)
                out.append((text, label))
                made += 1
                if made >= per_template:
                    break
    return out


def apply_policy(probs: np.ndarray, labels: Sequence[str | None], *, confidence: float = 0.9
                 ) -> tuple[np.ndarray, int]:
    """The teacher's probabilities where its top label is the policy's (or there is no
    policy), else the policy label at `confidence` and the rest split evenly; and how many
    rows were overruled."""
    out = np.array(probs, dtype=np.float64, copy=True)
    overruled = 0
    for i, label in enumerate(labels):
        if label is None or LABELS[int(out[i].argmax())] == label:
            continue
        out[i] = (1.0 - confidence) / (len(LABELS) - 1)
        out[i, LABELS.index(label)] = confidence
        overruled += 1
    return out, overruled

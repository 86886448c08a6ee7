"""Synthetic in-domain headlines for the transfer set, labelled by the teacher (never by us).

The error analysis and the behavioural suite point at short event headlines the PhraseBank
barely has: earnings beats and misses, contract wins, rating changes, guidance, dividends, job
cuts, results dates, appointments. These templates write such headlines with their own
phrasings, companies, brokers and people, all disjoint from model/behaviour.py's (a test
asserts it), so the suite still measures generalisation: it never sees a training sentence.
No template carries a label; the teacher's probabilities are the only targets."""

from __future__ import annotations

import random

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

TEMPLATES: tuple[str, ...] = (
    # earnings against expectations
    "{c} {q} earnings per share beat consensus",
    "{c} posts {q} EPS above analyst forecasts",
    "{c} tops profit estimates as sales grow {pct} %",
    "{c} {q} earnings per share fall short of forecasts",
    "{c} misses analyst estimates for {q} profit",
    "{c} {q} revenue comes in below expectations",
    # orders and contracts
    "{c} secures {cur} {m} million order",
    "{c} lands supply deal worth {cur} {m} million",
    "{c} awarded {cur} {m} mln contract by a utility",
    "{c} signs {cur} {m} million service agreement",
    "{c} loses {cur} {m} million contract to a rival",
    # analyst ratings
    "{broker} raises {c} to overweight",
    "{broker} lifts {c} rating to buy from hold",
    "{c} upgraded to outperform at {broker}",
    "{broker} cuts {c} to underweight",
    "{c} downgraded to sell at {broker}",
    "{broker} lowers {c} rating to reduce",
    # guidance and warnings
    "{c} lifts annual sales forecast",
    "{c} boosts {q} profit outlook",
    "{c} trims its full-year forecast",
    "{c} warns profit will fall this year",
    "{c} lowers revenue target on weak demand",
    # dividends and buybacks
    "{c} increases dividend to {cur} 0.{d} per share",
    "{c} announces {cur} {m} million share buyback",
    "{c} scraps its dividend",
    "{c} cuts dividend to preserve cash",
    # jobs
    "{c} plans to shed {n} jobs",
    "{c} to lay off {n} workers in restructuring",
    "{c} to hire {n} engineers",
    # results and operations
    "{c} operating profit rises {pct} % in {q}",
    "{c} net profit jumps {pct} %",
    "{c} swings to {q} operating loss",
    "{c} net sales decrease {pct} % in {q}",
    # neutral announcements
    "{c} to publish {q} report on {month} {day}",
    "{c} will hold its annual general meeting on {month} {day}",
    "{c} names {person} {role}",
    "{person} appointed {role} at {c}",
    "{c} to present at investor conference on {month} {day}",
    "{c} completes change in its share capital",
)

MONTHS = ("January", "February", "March", "April", "May", "June", "September", "November")
ROLES = ("chief operating officer", "chief technology officer", "general counsel",
         "head of sales")


def synthetic_headlines(per_template: int, *, seed: int = 0) -> list[str]:
    """`per_template` distinct headlines for each template (fewer if it runs out)."""
    assert not set(COMPANIES) & set(SUITE_COMPANIES)
    assert not set(BROKERS) & set(SUITE_BROKERS) and not set(PEOPLE) & set(SUITE_PEOPLE)
    rng = random.Random(seed)
    out: list[str] = []
    seen: set[str] = set()
    for template in TEMPLATES:
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
                out.append(text)
                made += 1
                if made >= per_template:
                    break
    return out

"""A behavioural test suite (CheckList-style minimum functionality tests, Ribeiro et al. 2020).

Templated headlines whose sentiment is not in doubt, each filled with many company names
(and numbers, brokers, dates, people), so a pass rate per template says which kinds of news
the model gets wrong. Users judge a sentiment service by exactly these headlines.
`newsig model behaviour` prints the pass rates as JSON; the model card renders them.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

COMPANIES = (
    "Nokia", "Apple", "Siemens", "Tesla", "Unilever", "Stora Enso", "Kone", "Fortum",
    "Volvo", "Ericsson", "BHP", "Rio Tinto", "Barclays", "HSBC", "Danone", "Philips",
    "Microsoft", "Amazon", "Intel", "Boeing", "Caterpillar", "Nestle", "Shell", "BP",
    "Toyota", "Sony", "Samsung", "Alibaba", "Netflix", "Pfizer", "Novartis", "Roche",
    "Wartsila", "Outokumpu", "UPM-Kymmene", "Metso", "Elisa", "Sampo", "Neste", "Orion",
    "Acme Corp", "Northwind Traders", "Contoso Ltd", "Globex", "Initech",
)
BROKERS = ("Goldman Sachs", "JPMorgan", "Morgan Stanley", "UBS", "Barclays", "Citi",
           "Deutsche Bank", "Jefferies")
PEOPLE = ("Anna Virtanen", "John Smith", "Maria Garcia", "Kenji Sato", "Laura Rossi",
          "David Chen", "Emma Johnson", "Pekka Korhonen")
QUARTERS = ("first-quarter", "second-quarter", "third-quarter", "fourth-quarter", "full-year")
MONTHS = ("January", "February", "March", "April", "May", "July", "August", "October")
ROLES = ("chief financial officer", "chief executive officer", "chairman of the board",
         "head of investor relations")


@dataclass(frozen=True)
class Template:
    name: str
    category: str
    text: str
    expected: str

    def fill(self, company: str, rng: random.Random) -> str:
        return self.text.format(
            c=company, n=rng.choice((120, 250, 400, 800, 1200, 3000)),
            m=rng.choice((5, 12, 30, 75, 150, 400)), pct=rng.choice((3, 5, 8, 10, 15, 20)),
            broker=rng.choice(BROKERS), person=rng.choice(PEOPLE),
            q=rng.choice(QUARTERS), month=rng.choice(MONTHS), day=rng.randint(1, 28),
            role=rng.choice(ROLES))


TEMPLATES: tuple[Template, ...] = (
    Template("guidance_raised", "guidance", "{c} raises full-year profit guidance", "positive"),
    Template("outlook_raised", "guidance",
             "{c} lifts its outlook after strong {q} sales", "positive"),
    Template("guidance_cut", "guidance", "{c} cuts full-year profit guidance", "negative"),
    Template("outlook_lowered", "guidance",
             "{c} lowers its outlook as demand weakens", "negative"),
    Template("profit_warning", "profit warning", "{c} issues profit warning", "negative"),
    Template("profit_warning_shares", "profit warning",
             "{c} shares slump after profit warning", "negative"),
    Template("beats_estimates", "estimates",
             "{c} {q} profit beats analysts' estimates", "positive"),
    Template("beats_eps", "estimates",
             "{c} earnings per share top expectations", "positive"),
    Template("misses_estimates", "estimates",
             "{c} {q} profit misses analysts' estimates", "negative"),
    Template("misses_revenue", "estimates",
             "{c} revenue falls short of expectations", "negative"),
    Template("upgrade", "analyst rating", "{broker} upgrades {c} to buy", "positive"),
    Template("upgrade_outperform", "analyst rating",
             "{c} upgraded to outperform at {broker}", "positive"),
    Template("downgrade", "analyst rating", "{broker} downgrades {c} to sell", "negative"),
    Template("downgrade_underperform", "analyst rating",
             "{c} downgraded to underperform at {broker}", "negative"),
    Template("contract_win", "contract", "{c} wins EUR {m} million contract", "positive"),
    Template("order_received", "contract",
             "{c} receives USD {m} million order from a new customer", "positive"),
    Template("job_cuts", "job cuts", "{c} to cut {n} jobs", "negative"),
    Template("layoffs", "job cuts", "{c} announces layoffs of {n} employees", "negative"),
    Template("dividend_raised", "dividend", "{c} raises its dividend by {pct} %", "positive"),
    Template("dividend_suspended", "dividend", "{c} suspends its dividend", "negative"),
    Template("results_date", "results date",
             "{c} will publish its {q} results on {month} {day}", "neutral"),
    Template("results_call", "results date",
             "{c} to hold {q} results conference call on {month} {day}", "neutral"),
    Template("appointment", "appointment", "{c} appoints {person} as {role}", "neutral"),
    Template("appointment_named", "appointment",
             "{person} named {role} of {c}", "neutral"),
)


def suite(seed: int = 0, companies: Sequence[str] = COMPANIES) -> list[tuple[Template, str]]:
    """Every template filled with every company (other slots drawn with `seed`)."""
    rng = random.Random(seed)
    return [(t, t.fill(c, rng)) for t in TEMPLATES for c in companies]


def run_suite(classify: Any, seed: int = 0) -> dict[str, Any]:
    """Pass rate per template and overall; `classify(texts)` returns Predictions."""
    cases = suite(seed)
    preds = classify([text for _, text in cases])
    per: dict[str, dict[str, Any]] = {}
    failures: dict[str, list[dict[str, str]]] = {}
    for (t, text), p in zip(cases, preds, strict=True):
        rec = per.setdefault(t.name, {"category": t.category, "expected": t.expected,
                                      "example": t.text, "cases": 0, "passed": 0})
        rec["cases"] += 1
        got = p.label.value
        if got == t.expected:
            rec["passed"] += 1
        elif len(failures.setdefault(t.name, [])) < 3:
            failures[t.name].append({"text": text, "got": got})
    for rec in per.values():
        rec["pass_rate"] = round(rec["passed"] / rec["cases"], 4)
    total = sum(r["cases"] for r in per.values())
    passed = sum(r["passed"] for r in per.values())
    return {"cases": total, "passed": passed, "pass_rate": round(passed / total, 4),
            "lowest_template": min(per, key=lambda k: per[k]["pass_rate"]),
            "lowest_pass_rate": min(r["pass_rate"] for r in per.values()),
            "templates": per, "failure_examples": failures, "seed": seed}

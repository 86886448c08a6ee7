"""`newsig bench entities`: how well headlines are linked to the companies they name.

- Real headlines written `$TICK - text` (the headlines file): the cashtag is cut and the rest
  linked. A row counts where the universe knows TICK and the text names the company (one of
  its names, its first word, or the ticker itself appears). Recall (the company found; found
  as the subject), wrong subject (another company taken as the subject while this one was
  not), other companies per headline; by role pattern (plain subject, "X upgraded at B",
  "B cuts X", "B cools on X"). Scored on the fixed half of the rows that aliases were never
  mined from and rules were not tuned on (ingest.universe.bench_half); the other half is
  reported beside it.
- FinEntity passages (annotated by others, never tuned on): company-level recall of the
  annotated entities the universe knows, and the share of detections on an annotated span.
- False positives: companies found per 1,000 PhraseBank sentences that an audit
  (model/data/entities/phrasebank_audit.csv) marks wrong, and detections not audited yet; and
  every company found in sentences that name none (model/data/entities/no_company.txt).
- Cost: linking time per headline (p50/p99, the universe's linker already built), the build
  time, and a 10,000-character headline.
- `--before DIR`: the same headline rows through another checkout's ticker matcher (the
  ticker table before entities), for the before/after figure in one run.
"""

from __future__ import annotations

import csv
import json
import re
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from core.entities import Linker
from core.machine import machine_info
from core.models import Role
from core.universe import CompanyEntry, default_universe
from ingest.universe import bench_half
from model.data import DATA_DIR, FPB_DIR, TWITTER_TRAIN

ENTITY_DATA = DATA_DIR / "entities"
FINENTITY = DATA_DIR / "finentity" / "finentity_train.json"
_ROW = re.compile(r"^\$([A-Za-z.]{1,6}) - (.*)$")
_URL = re.compile(r"\s*https?://\S+")
#: Role patterns of the `$TICK - text` rows, by what the text does with the company.
_PATTERNS = [
    ("X upgraded at B", re.compile(r"\b(upgraded|downgraded|cut|raised|lifted|lowered|"
                                   r"initiated|started|resumed|reiterated|trimmed)\b.*\b(at|by)"
                                   r"\s+[A-Z]", re.IGNORECASE)),
    ("B cools on X", re.compile(r"\b(cools|warms|sours|bullish|bearish|constructive|cautious|"
                                r"bull|bear|sidelines|camp)\b", re.IGNORECASE)),
    ("B cuts X", re.compile(r"\b(upgrades|downgrades|cuts|raises|lifts|lowers|initiates|starts|"
                            r"trims|slashes|boosts|bumps|reiterates)\b", re.IGNORECASE)),
]


def headline_rows(path: Path = TWITTER_TRAIN) -> list[tuple[str, str, str]]:
    """(ticker, text without the cashtag and links, the row as written)."""
    out = []
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            m = _ROW.match(row["text"])
            if m:
                out.append((m.group(1).upper(), _URL.sub("", m.group(2)).strip(), row["text"]))
    return out


def _codes() -> dict[str, CompanyEntry]:
    found: dict[str, CompanyEntry] = {}
    for e in default_universe().entries.values():
        for code in (e.ticker, *e.codes):
            found.setdefault(code.upper(), e)
    return found


def names_company(text: str, tick: str, entry: CompanyEntry) -> bool:
    low = text.lower()
    first = re.sub(r"[^a-z0-9]", "", (entry.title or entry.name).split()[0].lower())
    return (any(a.lower() in low for a in entry.aliases)
            or re.search(rf"\b{re.escape(tick)}\b", text) is not None
            or (len(first) >= 4 and first in re.sub(r"[^a-z0-9 ]", "", low)))


def pattern_of(text: str) -> str:
    return next((name for name, rx in _PATTERNS if rx.search(text)), "plain subject")


def score_headlines(linker: Linker, rows: list[tuple[str, str, str]]) -> dict[str, Any]:
    codes = _codes()
    halves: dict[str, dict[str, Any]] = {}
    for tick, text, raw in rows:
        half = halves.setdefault(bench_half(raw), {"rows": 0, "named": 0, "found": 0,
                                                    "subject": 0, "wrong_subject": 0,
                                                    "others": 0, "patterns": Counter(),
                                                    "pattern_subject": Counter(),
                                                    "misses": [], "wrong": []})
        half["rows"] += 1
        entry = codes.get(tick) or codes.get(tick.replace(".", "-"))
        if entry is None or not names_company(text, tick, entry):
            continue
        half["named"] += 1
        found = {e.ticker: e.role for e in linker.link(text)[0]}
        pattern = pattern_of(text)
        half["patterns"][pattern] += 1
        if entry.ticker in found:
            half["found"] += 1
        if found.get(entry.ticker) == Role.subject:
            half["subject"] += 1
            half["pattern_subject"][pattern] += 1
        else:
            half["misses"].append({"text": text, "ticker": entry.ticker,
                                   "found": {t: r.value for t, r in found.items()}})
        if found.get(entry.ticker) != Role.subject and any(
                r == Role.subject for t, r in found.items() if t != entry.ticker):
            half["wrong_subject"] += 1
            half["wrong"].append({"text": text, "ticker": entry.ticker,
                                  "found": {t: r.value for t, r in found.items()}})
        half["others"] += sum(1 for t in found if t != entry.ticker)
    out = {}
    for name, h in sorted(halves.items()):
        n = h["named"] or 1
        out[name] = {
            "rows": h["rows"], "naming_a_known_company": h["named"],
            "recall": round(h["found"] / n, 4), "recall_as_subject": round(h["subject"] / n, 4),
            "wrong_subject_rate": round(h["wrong_subject"] / n, 4),
            "other_companies_per_headline": round(h["others"] / n, 4),
            "by_pattern": {p: {"rows": c, "recall_as_subject": round(
                h["pattern_subject"][p] / c, 4)} for p, c in sorted(h["patterns"].items())},
            "misses": h["misses"][:40], "wrong": h["wrong"][:40],
        }
    return out


def score_finentity(linker: Linker, path: Path = FINENTITY) -> dict[str, Any]:
    universe = default_universe()
    passages = json.loads(path.read_text(encoding="utf-8"))
    gold_n = hit = det = on_span = 0
    missed: Counter[str] = Counter()
    for p in passages:
        text = p["content"]
        found = linker.link(text)[0]
        gold = {}
        for a in p["annotations"]:
            hits = universe.find(a["value"])
            if hits:
                gold[hits[0].ticker] = a["value"]
        got = {e.ticker for e in found}
        gold_n += len(gold)
        hit += len(set(gold) & got)
        missed.update(v for t, v in gold.items() if t not in got)
        spans = [(a["start"], a["end"]) for a in p["annotations"]]
        det += len(found)
        on_span += sum(1 for e in found if any(e.span[0] < b and a < e.span[1]
                                               for a, b in spans))
    return {"passages": len(passages), "annotated_companies_known": gold_n,
            "company_recall": round(hit / max(gold_n, 1), 4), "detections": det,
            "detections_on_an_annotated_span": round(on_span / max(det, 1), 4),
            "most_missed": missed.most_common(15)}


def _audit() -> dict[tuple[str, str], str]:
    path = ENTITY_DATA / "phrasebank_audit.csv"
    with path.open(newline="", encoding="utf-8") as fh:
        return {(r["surface"], r["ticker"]): r["verdict"] for r in csv.DictReader(fh)}


def score_false_positives(linker: Linker) -> dict[str, Any]:
    audit = _audit()
    text = (FPB_DIR / "Sentences_50Agree.txt").read_text(encoding="latin-1")
    sentences = [line.rpartition("@")[0] for line in text.splitlines() if "@" in line]
    wrong = 0
    detections = 0
    unaudited: Counter[tuple[str, str]] = Counter()
    for s in sentences:
        for e in linker.link(s)[0]:
            detections += 1
            key = (s[e.span[0]:e.span[1]], e.ticker)
            verdict = audit.get(key)
            if verdict == "wrong":
                wrong += 1
            elif verdict is None:
                unaudited[key] += 1
    no_company = [line.strip() for line in (ENTITY_DATA / "no_company.txt").read_text(
        encoding="utf-8").splitlines() if line.strip() and not line.startswith("#")]
    found = [{"text": s, "found": [e.ticker for e in linker.link(s)[0]]} for s in no_company]
    flagged = [f for f in found if f["found"]]
    return {"phrasebank_sentences": len(sentences), "phrasebank_detections": detections,
            "phrasebank_wrong_per_1000_sentences": round(1000 * wrong / len(sentences), 2),
            "phrasebank_wrong": wrong,
            "phrasebank_not_audited": [f"{s} -> {t} ({n})" for (s, t), n in
                                       unaudited.most_common()][:60],
            "no_company_sentences": len(no_company),
            "no_company_false_positives": sum(len(f["found"]) for f in flagged),
            "no_company_flagged": flagged}


def time_linking(linker: Linker, texts: list[str], runs: int) -> dict[str, Any]:
    per_run = []
    for _ in range(runs):
        samples: list[float] = []
        for t in texts:
            t0 = time.perf_counter_ns()
            linker.link(t)
            samples.append((time.perf_counter_ns() - t0) / 1000)
        samples.sort()
        per_run.append({"p50_us": samples[len(samples) // 2],
                        "p99_us": samples[int(len(samples) * 0.99)],
                        "mean_us": statistics.fmean(samples)})
    long_text = ("Nokia and Stora Enso rise while Glencore falls; " * 250)[:10_000]
    started = time.perf_counter()
    linker.link(long_text)
    return {"headlines": len(texts), "runs": runs,
            "p50_us": round(statistics.median(r["p50_us"] for r in per_run), 1),
            "p99_us": round(statistics.median(r["p99_us"] for r in per_run), 1),
            "mean_us": round(statistics.median(r["mean_us"] for r in per_run), 1),
            "ten_thousand_characters_ms": round((time.perf_counter() - started) * 1000, 2)}


_BEFORE = r'''
import csv, json, re, sys
from ingest.tickers import default_ticker_table, tickers_for
rows = json.load(sys.stdin)
table = default_ticker_table()
print(json.dumps([tickers_for(text, (), table) for text in rows]))
'''


def before_recall(before: Path, rows: list[tuple[str, str, str]]) -> dict[str, Any]:
    """The scored rows through the other checkout's ticker table (names -> tickers)."""
    codes = _codes()
    scored = [(t, x, raw) for t, x, raw in rows if bench_half(raw) == "scored"]
    keep = [(t, x) for t, x, _ in scored
            if (e := codes.get(t) or codes.get(t.replace(".", "-"))) and names_company(x, t, e)]
    r = subprocess.run([sys.executable, "-c", _BEFORE], input=json.dumps([x for _, x in keep]),
                       capture_output=True, text=True, cwd=before,
                       env={"PYTHONPATH": str(before), "PATH": "/usr/bin:/bin"}, check=True)
    found = json.loads(r.stdout)
    hit = sum(1 for (t, _), f in zip(keep, found, strict=True)
              if (codes.get(t) or codes[t.replace(".", "-")]).ticker in f or t in f)
    wrong = sum(1 for (t, _), f in zip(keep, found, strict=True)
                if f and (codes.get(t) or codes[t.replace(".", "-")]).ticker not in f
                and t not in f)
    return {"checkout": before.name, "naming_a_known_company": len(keep),
            "recall": round(hit / max(len(keep), 1), 4),
            "wrong_company_rate": round(wrong / max(len(keep), 1), 4)}


def bench_entities(*, runs: int = 3, before: Path | None = None) -> dict[str, Any]:
    t0 = time.perf_counter()
    linker = Linker(default_universe())
    build_s = time.perf_counter() - t0
    rows = headline_rows()
    with TWITTER_TRAIN.open(newline="", encoding="utf-8") as fh:
        all_headlines = [r["text"] for r in csv.DictReader(fh)]
    result: dict[str, Any] = {
        "benchmark": "entities",
        "universe": {"companies": len(default_universe().entries),
                     **{k: default_universe().provenance.get(k) for k in
                        ("sec_rows", "sec_companies", "index_companies_added")}},
        "headlines": score_headlines(linker, rows),
        "finentity": score_finentity(linker),
        "false_positives": score_false_positives(linker),
        "linking": {"build_s": round(build_s, 3),
                    **time_linking(linker, all_headlines, runs)},
        "machine": machine_info(),
    }
    if before is not None:
        result["before"] = before_recall(before, rows)
    scored = result["headlines"].get("scored", {})
    result["summary"] = {
        "recall": scored.get("recall_as_subject"),
        "wrong_subject_rate": scored.get("wrong_subject_rate"),
        "finentity_company_recall": result["finentity"]["company_recall"],
        "phrasebank_wrong_per_1000": result["false_positives"][
            "phrasebank_wrong_per_1000_sentences"],
        "no_company_false_positives": result["false_positives"]["no_company_false_positives"],
        "link_p50_us": result["linking"]["p50_us"], "link_p99_us": result["linking"]["p99_us"],
        **({"before_recall": result["before"]["recall"]} if before is not None else {}),
    }
    return result

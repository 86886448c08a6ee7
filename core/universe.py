"""The company universe: who a headline can be about.

A compact file packaged with the code (core/data/universe.jsonl.gz, built by
`newsig universe update` from the SEC's listing, index constituents worldwide and curated
short names; see ingest/universe.py and core/data/README.md for provenance and licences),
plus the analyst houses and rating agencies (core/data/raters.csv), plus the user's own
`name,ticker` CSV (`--tickers FILE`, NEWSIG_TICKER_TABLE), which extends or overrides both."""

from __future__ import annotations

import csv
import gzip
import json
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from core.errors import ConfigError
from core.text import normalise_ticker

DATA_DIR = Path(__file__).resolve().parent / "data"
UNIVERSE_FILE = DATA_DIR / "universe.jsonl.gz"
RATERS_FILE = DATA_DIR / "raters.csv"


class CompanyEntry(BaseModel):
    """One company: its ticker, the names headlines use for it, and where it came from."""

    model_config = ConfigDict(extra="forbid")

    ticker: str
    name: str
    cik: int | None = None
    aliases: list[str] = Field(default_factory=list)
    #: Aliases that are also common words or people: linked only with context (a corporate
    #: cue next to it, a code for the company).
    context_aliases: list[str] = Field(default_factory=list)
    #: One-word names of companies in no index (a surname or a place as often as not):
    #: linked with context, where any verb after the name counts.
    weak_aliases: list[str] = Field(default_factory=list)
    #: Other codes of the same company (share classes, foreign listings): cashtags match them.
    codes: list[str] = Field(default_factory=list)
    #: Whether the ticker written bare in a headline ("TSLA jumps") means this company: not
    #: for tickers that are also words ("MAX", "ALL", "NOW").
    bare: bool = False
    exchange: str | None = None
    country: str | None = None
    indices: list[str] = Field(default_factory=list)
    #: "broker" or "agency" when the company also gives opinions on others.
    rater: str | None = None
    source: str = "sec"
    title: str | None = None
    rank: int = 0
    curated: list[str] = Field(default_factory=list)
    mined: list[str] = Field(default_factory=list)


class Rater(BaseModel):
    name: str
    ticker: str | None = None
    kind: str = "broker"


def read_universe(path: Path = UNIVERSE_FILE) -> tuple[dict, list[CompanyEntry]]:
    """(provenance, entries) of a universe file; a broken line names the file and line."""
    try:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: no universe file (newsig universe update --sec FILE)"
                          ) from exc
    except (OSError, EOFError) as exc:
        raise ConfigError(f"{path}: not a gzip file: {exc}") from exc
    provenance: dict = {}
    entries = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
            if n == 1 and "provenance" in doc:
                provenance = doc["provenance"]
                continue
            entries.append(CompanyEntry.model_validate(doc))
        except (json.JSONDecodeError, ValueError) as exc:
            raise ConfigError(f"{path}:{n}: not a universe entry: {str(exc)[:200]}") from exc
    return provenance, entries


def read_raters(path: Path = RATERS_FILE) -> list[Rater]:
    out = []
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        for row in reader:
            name = (row.get("name") or "").strip()
            if not name:
                raise ConfigError(f"{path}:{reader.line_num}: empty rater name")
            out.append(Rater(name=name, ticker=normalise_ticker(row.get("ticker") or "") or None,
                             kind=(row.get("kind") or "broker").strip()))
    return out


def read_user_table(path: str | Path) -> list[tuple[str, str]]:
    """The user's `name,ticker` CSV (a header row is required); a bad row names the line."""
    path = Path(path)
    rows: list[tuple[str, str]] = []
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            if not {"name", "ticker"} <= set(reader.fieldnames or []):
                raise ConfigError(f"ticker table {path}: needs 'name' and 'ticker' columns")
            for row in reader:
                name, ticker = (row.get("name") or "").strip(), (row.get("ticker") or "")
                ticker = normalise_ticker(ticker)
                if not name or not ticker:
                    raise ConfigError(f"ticker table {path}:{reader.line_num}: empty name or "
                                      "ticker")
                if len(name) > 200 or len(ticker) > 16:
                    raise ConfigError(f"ticker table {path}:{reader.line_num}: name or ticker "
                                      "too long")
                rows.append((name, ticker))
    except FileNotFoundError as exc:
        raise ConfigError(f"ticker table {path} does not exist") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"ticker table {path}: not UTF-8 text") from exc
    return rows


class Universe:
    """Entries by ticker, with the user's table merged in (its names win)."""

    def __init__(self, entries: list[CompanyEntry], raters: list[Rater],
                 provenance: dict | None = None) -> None:
        self.entries = {e.ticker: e for e in entries}
        self.raters = raters
        self.provenance = provenance or {}

    @classmethod
    def load(cls, path: Path = UNIVERSE_FILE, user_table: str | Path | None = None
             ) -> Universe:
        provenance, entries = read_universe(path)
        universe = cls(entries, read_raters(), provenance)
        if user_table:
            universe.extend(read_user_table(user_table))
        return universe

    def extend(self, rows: list[tuple[str, str]]) -> None:
        """A user's names: an alias of the ticker's entry, or a new entry; a name another
        entry had is taken from it (the user's table overrides)."""
        for name, ticker in rows:
            for other in self.entries.values():
                if other.ticker != ticker and name in other.aliases:
                    other.aliases = [a for a in other.aliases if a != name]
            entry = self.entries.get(ticker)
            if entry is None:
                entry = self.entries[ticker] = CompanyEntry(ticker=ticker, name=name,
                                                            source="user", rank=-1)
            entry.aliases = list(dict.fromkeys([name, *entry.aliases]))
            entry.curated = [*entry.curated, name]
            entry.context_aliases = [a for a in entry.context_aliases if a != name]

    def find(self, name_or_ticker: str) -> list[CompanyEntry]:
        """Entries whose ticker, code or alias is this (case-insensitive), best ranked first."""
        key = name_or_ticker.strip().lstrip("$").lower()
        hits = [e for e in self.entries.values()
                if key == e.ticker.lower() or key in (c.lower() for c in e.codes)
                or key in (a.lower() for a in e.aliases) or key == e.name.lower()]
        return sorted(hits, key=lambda e: e.rank)


@lru_cache(maxsize=4)
def default_universe(user_table: str | None = None) -> Universe:
    return Universe.load(UNIVERSE_FILE, user_table)

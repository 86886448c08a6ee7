"""Build the company universe (core/data/universe.jsonl.gz) from its sources.

Sources, in order of precedence for a name:
1. curated short names newsrooms use (core/data/aliases.csv: JPMorgan, BofA, J&J, ...) and the
   analyst houses and rating agencies (core/data/raters.csv);
2. the SEC's listing of EDGAR filers with a ticker (`company_tickers.json`, public domain):
   one entry per CIK (its first ticker, the file's order being roughly market value; the other
   share classes' tickers kept as codes), the raw title turned into the names headlines write:
   EDGAR state tags and legal suffixes stripped (cleanco), generic tails ("Holdings",
   "Group") dropped, `&` and `and` both, hyphens and spaces both;
3. index constituents worldwide from `pytickersymbols` (MIT): the European and Asian names the
   SEC list lacks (Elisa, Kone, Stora Enso, Glencore ...), with exchange and country;
4. aliases mined from the headlines file's `$TICK - Company name ...` rows (the half of them
   the entity benchmark does not score on).

A name that is also a common word (core/data/ambiguous.txt, and words the corpora in
model/data use in lower case) is kept only for well-known companies and then links only with
context (core.entities). Funds, ETFs, trusts, warrants and units are left out: headlines do
not name them as companies.

`newsig universe update --sec FILE` rebuilds the file and prints what was added, removed and
renamed; `newsig universe show NAME_OR_TICKER` explains an entry."""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from core.errors import ConfigError
from core.universe import (
    DATA_DIR,
    UNIVERSE_FILE,
    CompanyEntry,
    read_raters,
    read_universe,
)

SHARED_SEC = "company_tickers.json"
MODEL_DATA = Path(__file__).resolve().parent.parent / "model" / "data"

#: EDGAR state or qualifier tags: "/DE/", "/MD", "/NEW/", "\\DE\\".
_STATE_TAG = re.compile(r"\s*[/\\][A-Z]{2,4}[/\\]?\s*$")
#: Words that end a company's formal name but not the name headlines use.
_GENERIC_TAIL = {"holdings", "holding", "group", "corp", "corporation", "company", "companies",
                 "co", "inc", "incorporated", "ltd", "limited", "plc", "com", "the", "sa", "ag",
                 "nv", "se", "oyj", "abp", "asa", "ab", "spa", "lp", "llc", "trust", "bancorp",
                 "international", "intl", "enterprises", "industries", "technologies",
                 "systems", "brands", "worldwide", "global", "new", "(the)", "de",
                 "investment", "investments", "works", "entertainment", "reit", "products",
                 "resources", "energy", "therapeutics", "pharmaceuticals", "pharmaceutical",
                 "biosciences", "biopharma", "biotherapeutics", "networks", "software",
                 "communications", "telecommunications", "partners", "solutions", "services",
                 "properties", "realty", "investors", "system", "management", "asset",
                 "healthcare", "biotechnology", "labs", "laboratories", "scientific", "sab",
                 "cv", "bhd", "tbk", "pjsc", "jsc", "kgaa", "kk", "s.a.", "s.a.b.", "public"}
#: Words newsrooms shorten: "Rocket Pharmaceuticals" -> "Rocket Pharma".
_SHORTER = {"Pharmaceuticals": "Pharma", "Pharmaceutical": "Pharma",
            "Technologies": "Tech", "Technology": "Tech", "International": "Intl"}
#: Titles of entities headlines never name as companies.
_NOT_A_COMPANY = re.compile(
    r"\b(ETF|ETN|FUND|FUNDS|TRUST\b(?!.*\b(BANK|BANCORP|FINANCIAL)\b)|ISHARES|SPDR|PROSHARES|"
    r"INVESCO QQQ|VANGUARD|DIREXION|WISDOMTREE|PORTFOLIO|INCOME SHARES|MUNICIPAL|"
    r"WARRANT|RIGHTS|UNITS?|DEPOSITARY SHARES|NOTES DUE|PREFERRED|ACQUISITION CORP|"
    r"ACQUISITION CO|CAPITAL TRUST|ROYALTY TRUST|STRATEGY ETF|X-LINKS|ETRACS|"
    r"EXCHANGE TRADED|VELOCITYSHARES|LEVERAGED|INVERSE|ISHARES|SPDR)\b", re.IGNORECASE)
#: Ticker shapes that are warrants, units, rights or preferreds, not the common stock.
_NOT_COMMON = re.compile(r"(-W[ST]?|-U|-R|-P[A-Z]?|\.WS|\.U)$")
_WORD = re.compile(r"[a-z]+")
#: Short names that mean a stock index far more often than the company behind it.
_INDEX_WORDS = {"S&P", "Dow", "Nasdaq", "FTSE", "Nikkei", "Russell", "Stoxx", "DAX", "CAC",
                "Euronext", "Hang Seng", "MSCI", "Cboe", "Stoxx Europe"}
#: OTC tickers of foreign ordinary shares and ADRs (five letters ending in F or Y).
_OTC_FOREIGN = re.compile(r"[A-Z]{4}[FY]")

#: Index suffix -> (exchange, country) for pytickersymbols' Yahoo symbols.
_EXCHANGES = {"HE": ("Nasdaq Helsinki", "Finland"), "ST": ("Nasdaq Stockholm", "Sweden"),
              "CO": ("Nasdaq Copenhagen", "Denmark"), "OL": ("Oslo Bors", "Norway"),
              "L": ("London Stock Exchange", "United Kingdom"), "DE": ("Xetra", "Germany"),
              "F": ("Frankfurt", "Germany"), "PA": ("Euronext Paris", "France"),
              "AS": ("Euronext Amsterdam", "Netherlands"), "BR": ("Euronext Brussels", "Belgium"),
              "MC": ("Bolsa de Madrid", "Spain"), "MI": ("Borsa Italiana", "Italy"),
              "SW": ("SIX Swiss Exchange", "Switzerland"), "T": ("Tokyo Stock Exchange", "Japan"),
              "VI": ("Vienna", "Austria"), "LS": ("Euronext Lisbon", "Portugal"),
              "IR": ("Euronext Dublin", "Ireland")}


class UniverseError(ConfigError):
    """A universe source that cannot be read: names the file and, where it can, the line."""


# -- names as headlines write them -------------------------------------------------------------
def _case(word: str) -> str:
    """Restore the case of one word of an upper-case EDGAR title."""
    if not word.isupper() or len(word) <= 1:
        return word
    if word in {"OF", "AND", "THE", "FOR", "IN", "ON", "DE", "DEL", "LA", "LE"}:
        return word.lower()
    letters = re.sub(r"[^A-Z]", "", word)
    if len(letters) <= 3:  # IBM, CSX, XPO, AES
        return word
    if "&" in word or "." in word:  # AT&T, J.B.
        return word
    return "-".join(part[:1] + part[1:].lower() for part in word.split("-"))


def restore_case(name: str) -> str:
    if name.upper() != name:  # already mixed case: the filer wrote it that way
        return name
    return " ".join(_case(w) for w in name.split())


def clean_title(title: str) -> str:
    """`BANK OF AMERICA CORP /DE/` -> `Bank of America`; `ELI LILLY & Co` -> `Eli Lilly`."""
    from cleanco import basename

    name = _STATE_TAG.sub("", title.strip())
    name = name.replace("\\", "/").strip(" ,.")
    for _ in range(3):
        cleaned = basename(name).strip(" ,.")
        if not cleaned or cleaned == name:
            break
        name = cleaned
    name = _STATE_TAG.sub("", name).strip(" ,.")
    name = re.sub(r"\s+Com$", "", restore_case(name))
    return re.sub(r"(?<=\s)(Of|And|The|For|In|On)\b", lambda m: m.group(0).lower(),
                  name).strip()


def name_variants(name: str) -> list[str]:
    """The spellings of one name a headline may use: the name, without its generic tail
    ("Canada Goose Holdings" -> "Canada Goose"), `&` <-> `and`, hyphen <-> space."""
    out = [name]
    words = name.split()
    while len(words) > 1 and words[-1].lower().strip(".,") in _GENERIC_TAIL:
        words = words[:-1]
        out.append(" ".join(words))
    if len(words) > 1 and words[0].lower() == "the":
        out.append(" ".join(words[1:]))
    first = out[0]
    for sep in (" & ", " and ", " of "):  # "Ituran Location & Control", "Pacific
        head = first.split(sep)[0]            # Biosciences of California"
        if head != first and len(head.split()) >= 2:
            out.append(head)
    if words and words[0].endswith("'s") and len(words) > 1:  # "Ollie's Bargain Outlet"
        out.append(words[0])
    for long, short in _SHORTER.items():
        if first.endswith(" " + long):
            out.append(first[: -len(long)] + short)
    more = []
    for n in out:
        if " & " in n:
            more.append(n.replace(" & ", " and "))
        if " and " in n:
            more.append(n.replace(" and ", " & "))
        if "-" in n:
            more.append(n.replace("-", " "))
    seen: dict[str, None] = {}
    for n in out + more:
        n = n.strip(" ,.")
        if len(n) >= 2 and n.lower() not in {"the", "inc", "corp"}:
            seen[n] = None
    return list(seen)


def spellings(name: str) -> set[str]:
    """The same name written another way (`&`/`and`, hyphen/space): not a shorter name."""
    forms = {name, name.replace(" & ", " and "), name.replace(" and ", " & "),
             name.replace("-", " ")}
    return {f.strip(" ,.") for f in forms}


def derived(name: str, variants: list[str]) -> set[str]:
    """The variants that are shorter than the name (a generic tail or a qualifier dropped):
    as one word, such a name is a surname or a place as often as a company ("Republic",
    "Boston", "Jacobs"), so it links only with context."""
    return set(variants) - spellings(name)


# -- sources ------------------------------------------------------------------------------------
def read_sec(path: Path) -> list[dict[str, Any]]:
    """company_tickers.json rows in file order; a malformed row names the file and its key."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise UniverseError(f"{path}: no such file") from exc
    except json.JSONDecodeError as exc:
        raise UniverseError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from exc
    rows = data.values() if isinstance(data, dict) else data
    out = []
    for i, row in enumerate(rows):
        try:
            out.append({"cik": int(row["cik_str"]), "ticker": str(row["ticker"]).strip().upper(),
                        "title": str(row["title"]).strip()})
        except (KeyError, TypeError, ValueError) as exc:
            raise UniverseError(f"{path}: row {i}: needs cik_str, ticker and title "
                                f"({exc})") from exc
        if not out[-1]["ticker"] or not out[-1]["title"]:
            raise UniverseError(f"{path}: row {i}: empty ticker or title")
    return out


def read_index_stocks() -> list[dict[str, Any]]:
    """Index constituents from pytickersymbols (name, Yahoo symbol, country, indices)."""
    from pytickersymbols import PyTickerSymbols

    data = PyTickerSymbols()
    found: dict[str, dict[str, Any]] = {}
    for index in data.get_all_indices():
        for stock in data.get_stocks_by_index(index):
            symbols = [s.get("yahoo") for s in stock.get("symbols") or [] if s.get("yahoo")]
            symbol = str(stock.get("symbol") or "").upper()
            if not symbol or not stock.get("name"):
                continue
            entry = found.setdefault(symbol, {"symbol": symbol, "name": stock["name"],
                                              "country": stock.get("country"),
                                              "indices": [], "yahoo": symbols})
            if index not in entry["indices"]:
                entry["indices"].append(index)
    return list(found.values())


def common_words(extra: Iterable[str] = ()) -> set[str]:
    """Words the corpora in model/data use in lower case: a company named by one of them
    ("Target", "Gap", "Block") needs context to be linked."""
    words: set[str] = {w.lower() for w in extra}
    sources = [MODEL_DATA / "financial_phrasebank" / "Sentences_50Agree.txt",
               MODEL_DATA / "twitter_financial_news" / "sent_train.csv"]
    for path in sources:
        if path.exists():
            text = path.read_text(encoding="latin-1" if path.suffix == ".txt" else "utf-8")
            for token in re.findall(r"(?<![\w$@#])[a-z][a-z'-]+(?![\w])", text):
                words.add(token.strip("'-"))
    return words


def mined_aliases(headlines_csv: Path) -> list[tuple[str, str]]:
    """(name, ticker) pairs from `$TICK - Name verb ...` rows: the capitalised words right
    after the dash, when they are the start of the SEC name of that ticker. Only rows the
    entity benchmark does not score on (`bench_half`) are mined."""
    out: list[tuple[str, str]] = []
    if not headlines_csv.exists():
        return out
    with headlines_csv.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            m = re.match(r"^\$([A-Z][A-Z.]{0,5}) - ((?:[A-Z][\w.&'-]*\s?){1,4})", row["text"])
            if not m or bench_half(row["text"]) == "scored":
                continue
            words = m.group(2).split()
            # Drop a trailing verb-like word and possessives.
            name = " ".join(w for w in words if not w.islower()).removesuffix("'s").strip()
            if name:
                out.append((name, m.group(1)))
    return out


def bench_half(text: str) -> str:
    """`scored` or `dev`: a fixed half of the headlines (by a hash of the text). The entity
    benchmark scores the first; aliases are mined and rules tuned on the second only."""
    return "scored" if hashlib.sha256(text.encode()).digest()[0] % 2 == 0 else "dev"


# -- the build ------------------------------------------------------------------------------------
def build_universe(sec_path: Path, *, with_indices: bool = True,
                   headlines_csv: Path | None = None) -> tuple[list[CompanyEntry], dict]:
    """Every entry, in rank order (the SEC file's order, roughly market value, then index
    constituents the SEC list lacks), and the build's provenance."""
    sec = read_sec(sec_path)
    ambiguous_words = _word_list(DATA_DIR / "ambiguous.txt")
    acronyms = {w.upper() for w in _word_list(DATA_DIR / "acronyms.txt")}
    generic = _word_list(DATA_DIR / "generic.txt")
    common = common_words(ambiguous_words)
    entries: dict[str, CompanyEntry] = {}
    shorter: dict[str, set[str]] = {}  # ticker -> its derived (shorter) names
    by_cik: dict[int, str] = {}
    skipped = 0
    for rank, row in enumerate(sec):
        cik, ticker, title = row["cik"], row["ticker"], row["title"]
        if cik in by_cik:  # another class of the same company: a code, not an entry
            entry = entries[by_cik[cik]]
            entry.codes = [*entry.codes, ticker]
            continue
        if _NOT_A_COMPANY.search(title) or _NOT_COMMON.search(ticker):
            skipped += 1
            continue
        name = clean_title(title)
        if not name:
            skipped += 1
            continue
        by_cik[cik] = ticker
        variants = name_variants(name)
        shorter[ticker] = derived(name, variants)
        entries[ticker] = CompanyEntry(ticker=ticker, name=name, cik=cik, rank=rank,
                                       aliases=variants, source="sec", title=title)
    sec_count = len(entries)
    index_count = 0
    if with_indices:
        index_count = _merge_indices(entries, read_index_stocks(), start_rank=len(sec),
                                     shorter=shorter)
    _apply_curated(entries)
    if headlines_csv is not None:
        for name, ticker in mined_aliases(headlines_csv):
            if ticker in entries and name not in entries[ticker].aliases and \
                    _compatible(name, entries[ticker]):
                entries[ticker].aliases = [*entries[ticker].aliases, name]
                entries[ticker].mined = [*entries[ticker].mined, name]
    ordered = sorted(entries.values(), key=lambda e: e.rank)
    for entry in ordered:
        _best_case(entry)
    _resolve_ambiguity(ordered, common, generic, shorter, acronyms)
    for entry in ordered:  # may a bare upper-case ticker in a headline mean this company?
        entry.bare = (len(entry.ticker) >= 3 and entry.ticker.isalpha() and
                      entry.ticker.lower() not in common and
                      entry.ticker.lower() not in generic)
    ordered = [e for e in ordered if e.aliases]  # a company no name can link is left out
    provenance = {  # no build time: the same inputs give the same file, byte for byte
        "sec_file": sec_path.name, "sec_sha256": hashlib.sha256(
            sec_path.read_bytes()).hexdigest(), "sec_rows": len(sec),
        "sec_companies": sec_count, "sec_skipped_funds_and_units": skipped,
        "index_companies_added": index_count,
        "pytickersymbols": _version("pytickersymbols") if with_indices else None,
        "cleanco": _version("cleanco"), "companies": len(ordered),
        "licences": {"sec": "public domain (U.S. government work)",
                     "pytickersymbols": "MIT", "curated lists": "MIT (this project)"},
    }
    return ordered, provenance


def _version(dist: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _compatible(alias: str, entry: CompanyEntry) -> bool:
    """A mined alias must be the first word(s) of one of the entry's names ("Exxon" of
    "Exxon Mobil"), at least four letters, written with capitals."""
    words = alias.split()
    if len(_key(alias)) < 4 or not alias[:1].isupper():
        return False
    return any([_key(w) for w in a.split()[:len(words)]] == [_key(w) for w in words]
               for a in entry.aliases)


def _same_company(variants: list[str], entry: CompanyEntry) -> bool:
    """One name is the other, or begins it ("Apple" / "Apple Inc")."""
    keys = [_key(v) for v in variants]
    return any(k and (k.startswith(_key(a)) or _key(a).startswith(k))
               for k in keys for a in entry.aliases if _key(a))


def _best_case(entry: CompanyEntry) -> None:
    """Show a name as its filers or the newsrooms write it: a mixed-case alias spelled like
    the name wins over the name's restored case ("JPMorgan Chase", not "Jpmorgan Chase")."""
    same = [a for a in entry.aliases if a.lower() == entry.name.lower() and a != entry.name
            and not a.isupper() and any(c.isupper() for c in a[1:])]
    if same:
        entry.name = same[0]
    # Keep names written with a capital, a digit, or a brand's own lower-case first letter
    # ("eBay", "iRobot"); drop "the Coca-Cola".
    entry.aliases = [a for a in entry.aliases if a[:1].isupper() or a[:1].isdigit() or
                     re.match(r"[a-z][A-Z]", a)]


def _merge_indices(entries: dict[str, CompanyEntry], stocks: list[dict[str, Any]], *,
                   start_rank: int, shorter: dict[str, set[str]]) -> int:
    """Index constituents: a listing already in the SEC list (same symbol, or the same full
    name) gains the index's names and its indices; others become entries with their exchange
    symbol as ticker. Names are matched in full only: "Orion" (the Finnish drug maker) is
    not "Orion Energy Systems", "Siemens Energy" is not "Siemens"."""
    by_name = {_key(f): t for t, e in entries.items() for f in spellings(e.name)}
    added = 0
    for i, stock in enumerate(stocks):
        raw = re.sub(r"\s*\(.*?\)\s*", " ", stock["name"]).strip()
        name = clean_title(raw) or raw
        variants = name_variants(name)
        symbol = stock["symbol"]
        suffix = symbol.rpartition(".")[2] if "." in symbol else ""
        exchange, country = _EXCHANGES.get(suffix, (None, stock.get("country")))
        target = entries.get(symbol) if not suffix else None
        if target is not None and not _same_company(variants, target):
            continue  # the index's symbol and the SEC's name disagree: trust neither
        if target is None:
            target = next((entries[by_name[_key(f)]] for f in spellings(name)
                           if _key(f) in by_name), None)
        if target is not None:
            new = [v for v in variants if v not in target.aliases]
            target.aliases = [*target.aliases, *new]
            shorter.setdefault(target.ticker, set()).update(derived(name, variants) & set(new))
            target.indices = list(dict.fromkeys([*target.indices, *stock["indices"]]))
            if suffix and _OTC_FOREIGN.fullmatch(target.ticker):
                # An OTC line of a foreign company (SAXPF): its home listing is the ticker.
                del entries[target.ticker]
                shorter[symbol] = shorter.pop(target.ticker, set())
                target.codes = [*target.codes, target.ticker]
                target.ticker = symbol
                target.exchange, target.country = exchange, country
                entries[symbol] = target
                for f in spellings(target.name):
                    by_name[_key(f)] = symbol
            elif suffix and symbol not in target.codes:
                target.codes = [*target.codes, symbol]
            continue
        entries[symbol] = CompanyEntry(
            ticker=symbol, name=name, cik=None, rank=start_rank + i, aliases=variants,
            source="index", exchange=exchange, country=country or stock.get("country"),
            indices=list(stock["indices"]), title=stock["name"])
        shorter[symbol] = derived(name, variants)
        for f in spellings(name):
            by_name.setdefault(_key(f), symbol)
        added += 1
    return added


def _apply_curated(entries: dict[str, CompanyEntry]) -> None:
    with (DATA_DIR / "aliases.csv").open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            entry = entries.get(row["ticker"].strip().upper())
            if entry is None:  # delisted or not in any source: no entry to point at
                continue
            alias = row["alias"].strip()
            if row.get("context", "").strip() == "never":  # a name this entry must not own
                entry.aliases = [a for a in entry.aliases if a.lower() != alias.lower()]
                continue
            entry.aliases = list(dict.fromkeys([alias, *entry.aliases]))
            entry.curated = [*entry.curated, alias]
            if row.get("context", "").strip() == "context":
                entry.context_aliases = [*entry.context_aliases, alias]
    for rater in read_raters():
        entry = entries.get(rater.ticker or "")
        if entry is not None:
            entry.rater = rater.kind


def _word_list(path: Path) -> set[str]:
    return {w.strip().lower() for w in path.read_text(encoding="utf-8").splitlines()
            if w.strip() and not w.startswith("#")}


def _resolve_ambiguity(ordered: list[CompanyEntry], common: set[str], generic: set[str],
                       shorter: dict[str, set[str]], acronyms: set[str]) -> None:
    """Each alias belongs to one entry (the best ranked: curated first). Then how much
    context it needs to link:
    - dropped: a generic word or a place ("First", "U.S.", "California"), digits alone;
    - `context` (a corporate cue next to it): a one-word common word ("Target", "Gap"), or a
      name made of common words only ("Information Services");
    - `weak` (any verb after it will do): a one-word name of a company in no index, or one
      left when a generic tail was dropped ("Republic" of "Republic Services");
    - none: the company's own full name, a curated name."""
    owner: dict[str, str] = {}
    # How many companies' names begin with each word: a shortened name that begins several
    # ("Morgan", "Republic", "Core") names none of them for sure.
    first_words: dict[str, int] = {}
    for entry in ordered:
        for word in {a.split()[0].lower() for a in entry.aliases if a.split()}:
            first_words[word] = first_words.get(word, 0) + 1
    for entry in sorted(ordered, key=lambda e: (0 if e.curated else 1, e.rank)):
        keep, context, weak = [], list(entry.context_aliases), []
        for alias in entry.aliases:
            key = alias.lower()
            if key in owner and owner[key] != entry.ticker:
                continue
            curated = alias in entry.curated
            words = _WORD.findall(key)
            if not curated and (key.replace(".", "") in generic or not words or
                                alias.upper() in acronyms or
                                (len(words) == 1 and words[0] in generic) or
                                alias in _INDEX_WORDS or
                                all(w in generic for w in words)):
                continue
            one_word = len(words) == 1
            is_common = one_word and (words[0] in common or len(key) <= 2)
            if not curated and is_common:
                if not entry.indices:
                    continue
                context.append(alias)
            elif not curated and len(words) > 1 and all(w in common for w in words):
                context.append(alias)
            elif not curated and one_word and alias in shorter.get(entry.ticker, set()) and \
                    not entry.indices and first_words.get(key, 0) > 1:
                continue  # "Morgan" of "Morgan Group Holding": it begins other names too
            elif not curated and one_word and not alias.isupper() and (
                    not entry.indices or alias in shorter.get(entry.ticker, set())):
                weak.append(alias)
            owner[key] = entry.ticker
            keep.append(alias)
        entry.aliases = keep
        entry.context_aliases = list(dict.fromkeys(a for a in context if a in keep))
        entry.weak_aliases = [a for a in weak if a in keep and a not in entry.context_aliases]


def write_universe(entries: list[CompanyEntry], provenance: dict, path: Path = UNIVERSE_FILE
                   ) -> Path:
    """One JSON line per company after a provenance line; gzip with a fixed mtime, so the
    same build writes the same bytes."""
    lines = [json.dumps({"provenance": provenance}, sort_keys=True)]
    lines += [e.model_dump_json(exclude_defaults=True) for e in entries if e.aliases]
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0,
                                              filename="") as gz:
        gz.write(("\n".join(lines) + "\n").encode())
    tmp.replace(path)
    return path


def diff_universes(old: list[CompanyEntry], new: list[CompanyEntry]) -> dict[str, Any]:
    """What an update changes: tickers added and removed, and renamed companies (same CIK or
    ticker, another name)."""
    o = {e.ticker: e for e in old}
    n = {e.ticker: e for e in new}
    o_cik = {e.cik: e for e in old if e.cik}
    added = [t for t in n if t not in o]
    removed = [t for t in o if t not in n]
    renamed = [{"ticker": t, "from": o[t].name, "to": n[t].name}
               for t in n if t in o and o[t].name != n[t].name]
    moved = [{"cik": e.cik, "from": o_cik[e.cik].ticker, "to": e.ticker}
             for e in new if e.cik in o_cik and o_cik[e.cik].ticker != e.ticker]
    return {"added": sorted(added), "removed": sorted(removed), "renamed": renamed,
            "ticker_changed": moved, "before": len(old), "after": len(new)}


def update(sec_path: Path, out: Path = UNIVERSE_FILE, *, with_indices: bool = True,
           headlines_csv: Path | None = MODEL_DATA / "twitter_financial_news" / "sent_train.csv"
           ) -> dict[str, Any]:
    """Rebuild the universe file from a (newer) SEC file; report the differences."""
    old = read_universe(out)[1] if out.exists() else []
    entries, provenance = build_universe(sec_path, with_indices=with_indices,
                                         headlines_csv=headlines_csv)
    write_universe(entries, provenance, out)
    return {"file": out.name, "companies": len(entries), **diff_universes(old, entries),
            "provenance": provenance}

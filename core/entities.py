"""Which companies a headline names, and in what role.

1. Mentions. Every alias of the universe (core.universe) is a pattern of one Aho-Corasick
   automaton over the lower-cased text (pyahocorasick), so 10,000+ names cost microseconds
   per headline; a hit counts only on word boundaries, when its first letter is written as a
   capital (or a digit), and, for a name that is also a common word or a person (Target,
   Apple, Ford, Visa ...), only with context: a cashtag or ticker code for the same company,
   a possessive, a corporate cue next to it (shares, profit, upgraded, raises ...). Ticker
   strings count too: cashtags `$AAPL`, `(NYSE: X)`, `(NASDAQ:X)`, Reuters codes `<X.N>`, and
   bare upper-case tickers of three letters or more that are not common words or acronyms.
   Overlapping hits keep the longest; one company is reported once (its first mention).
2. Roles. A broker, bank or rating agency is a `rater` where it gives an opinion: "X upgraded
   at B", "B cuts X to Sell", "B cools on X", "Moody's downgrades X", "... - BofA". In each
   clause (split at ";", "while", "whereas", " but "), the first other company is a `subject`
   (and companies joined to it by "and" or ","); the rest are `mentioned` (counterparties,
   comparisons, sources), as is a company that only qualifies another ("Apple supplier
   Foxconn": Apple is mentioned).

Precision first: a wrong company is worse than none (measured by `newsig bench entities`)."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from core.models import EntityMention, Role
from core.names import MAX_ENTITIES_PER_SIGNAL
from core.universe import DATA_DIR as _DATA
from core.universe import CompanyEntry, Universe, default_universe

#: Longest text scanned: linking is linear in the text, and a 50,000-character "headline"
#: costs no more than its first MAX_SCAN characters (a news passage fits).
MAX_SCAN = 10_000

_WORDCHAR = re.compile(r"[\w&]")
_TOKEN = re.compile(r"[A-Za-z0-9][\w'&.-]*|[;:,]|\s-\s|\s—\s|\s–\s")
#: Cashtags, exchange codes and Reuters codes.
_CASHTAG = re.compile(r"(?<![\w$])\$([A-Za-z]{1,6}(?:[.-][A-Za-z]{1,2})?)\b")
_EXCHANGE = re.compile(r"\((?:NYSE|NASDAQ|Nasdaq|NYSE American|NYSEAMERICAN|AMEX|TSX|LSE|"
                       r"OTC|OTCQX|OTCQB)\s*:\s*\$?([A-Z][A-Z.-]{0,6})\)")
_REUTERS = re.compile(r"<([A-Z0-9]{1,6})\.([A-Z]{1,2})>")
#: Reuters suffixes of US venues (NYSE, Nasdaq, NYSE American, consolidated).
_US_RICS = frozenset({"N", "O", "A", "K", "P", "Q", "OQ", "PK"})
#: "Prothena (PRTA)", "PagerDuty, Inc. (PD)": a name, then its ticker in brackets.
_BRACKETED = re.compile(r"(?<=[A-Za-z.])\s\(([A-Z]{1,5})\)")
_BARE = re.compile(r"(?<![\w$.-])([A-Z]{3,5})(?![\w-])")
#: Upper-case words that are never a ticker in a headline.
_ACRONYMS = frozenset(w for w in (_DATA / "acronyms.txt").read_text(encoding="utf-8").split()
                      if not w.startswith("#"))

_RATING_VERBS = frozenset("""upgrade upgrades upgraded upgrading downgrade downgrades downgraded
downgrading cut cuts cutting raise raises raised raising lift lifts lifted trim trims trimmed
slash slashes slashed boost boosts boosted bump bumps bumped lower lowers lowered up ups
upped pare pares hike hikes hiked initiate initiates initiated initiating start starts started
starting resume resumes resumed reiterate reiterates reiterated reaffirm reaffirms affirm
affirms affirmed assign assigns assigned rate rates rated sees see saw says say said likes
like loves hates turns turned goes went cools cooled warms warmed joins joined hits hit names
named adds added removes removed puts put places placed moves moved backs backed defends
defended sours soured warns warned expects predicts bullish bearish upbeat downbeat positive
negative cautious constructive reels reeled loses lost gives gave sets set takes took tops
picks picked prefers favors favours steps""".split())
#: What an analyst's or agency's opinion is about.
_RATING_OBJECTS = re.compile(
    r"\b(?i:price targets?|PTs?|targets?|ratings?|rated|upgrades?|upgraded|downgrades?|"
    r"downgraded|equal[- ]?weight|coverage|bulls?|bears?|bullish|bearish|sidelines|estimates|"
    r"expectations|outlook|credit|junk|investment grade|creditwatch|watch negative|"
    r"watch positive|valuation|catalysts?|fair value|stance|thesis|camp|upside|downside|"
    r"top picks?|conviction)\b"
    # Ratings are written with a capital: "cut to Sell", not "to sell its stake".
    r"|\b(Buy|Sell|Hold|Neutral|Overweight|Underweight|Outperform|Underperform|Equal Weight|"
    r"Market Perform|Sector Perform|Peer Perform|In-Line|In Line|Strong Buy|Accumulate|Reduce|"
    r"Baa\d?|Aa\d?|Ba\d|Caa\d?|BBB[+-]?|BB[+-]?|CCC[+-]?|AA[+-]?|A[+-]|short|long)\b")
#: Words after which a name names the agent of an analyst action: "upgraded at Goldman".
_AGENT_BEFORE = frozenset({"at", "by", "from", "per", "via", "says", "said", "according"})
#: Clause boundaries.
_CLAUSE = re.compile(r";|\bwhile\b|\bwhereas\b|\bbut\b|\s[-—–]\s|\|", re.IGNORECASE)
#: A company named only to qualify another: "Apple supplier Foxconn", "Google-backed X".
_QUALIFIER_AFTER = re.compile(
    r"^(?:'s\s+)?(?:-?backed|-?owned|-?led|-?based|supplier|suppliers|partner|partners|rival|"
    r"rivals|peer|peers|customer|customers|client|clients|unit|units|subsidiary|affiliate|"
    r"parent|owner|spinoff|spin-off|spinout|investor|shareholder|contractor|vendor|"
    r"competitor|competitors)\b", re.IGNORECASE)
#: Corporate cues that make an ambiguous name (Target, Apple, Ford) a company.
_STRONG_CUES = frozenset("""shares share stock stocks inc inc. corp corp. co co. plc ltd ag sa nv
se oyj earnings eps ffo profit profits revenue revenues sales results ceo cfo coo chief
chairman executives board shareholders stake quarter quarterly q1 q2 q3 q4 fy guidance
outlook forecast forecasts dividend dividends buyback buybacks merger acquisition ipo debt
bonds notes upgraded downgraded initiated pt target rating estimates stores employees
workers layoffs market-cap valuation""".split())
_VERB_CUES = frozenset("""rises rose rising falls fell falling jumps jumped slips slipped
slides slid surges surged surge soars soared plunges plunged tumbles tumbled drops dropped
gains gained beats beat misses missed tops topped raises raised cuts lowers lowered lifts
lifted boosts boosted reports reported posts posted announces announced launches launched
unveils unveiled sues sued wins won loses hires hired fires fired appoints appointed buys
bought sells sold acquires acquired invests invested recalls recalled warns warned reaffirms
settles settled files filed shuts closes closed opens opened expands expanded halts halted
suspends suspended delays delayed scraps scrapped confirms confirmed denies denied sinks
sank climbs climbed rallies rallied rebounds rebounded dips dipped slumps slumped soars
declares declared inks inked prices priced guides guided completes completed agrees agreed
signs signed receives received reveals revealed""".split())
_ACTIONS = frozenset("""buy sell acquire cut raise close open shut hire pay list spin split
merge invest build launch exit quit leave end stop halt resume sue appeal settle issue offer
redeem repurchase delist file restate report announce unveil expand enter join slash trim
lay axe shed boost lift lower seek divest take""".split())
_LEGAL = frozenset({"Limited", "Ltd", "Inc", "Corp", "Corporation", "Plc", "Holdings", "Group",
                    "Co", "Company", "Oyj", "Ag", "Sa", "Nv", "Se"})
_WEAK_CUES = frozenset("""to will is was has had says said plans planned gets got set faces
faced presents sees expects eyes nears cut raised lowered hit reported posted launched""".split())
#: "+3%", "-15%", "up 35%", "down 5% after hours", "higher after earnings"
_MOVE = re.compile(r"\s+(?:[+-]\d+(?:\.\d+)?%|(?:up|down|off|ahead)\s+\d+(?:\.\d+)?%|"
                   r"(?:up|down)\s+(?:big|sharply|strongly)\b|"
                   r"(?:higher|lower|slightly higher|slightly lower)\b)")
_CUES_BEFORE = frozenset("""upgrades upgraded downgrades downgraded initiates initiated on
shares stake rates rated buy buys sell sells acquire acquires acquired bought sold""".split())
_NOT_AFTER = {"target": {"price", "prices", "date", "range", "rate", "rates", "of", "for",
                         "audience", "market"}}
#: A one-word name followed by one of these is another organisation ("Volvo Cars",
#: "Apple Bank", "Target Hospitality").
_ORG_CONTINUES = frozenset("""Cars Car Bank Bancorp Group Holdings Holding Energy Capital
Financial Partners Trust Fund Funds Hospitality Resources Airlines Airways Motors Foods Pharma
Pharmaceuticals Technologies Realty Properties Insurance Investments Securities Asset Assets
Management Ventures Labs Media Entertainment Studios Records Health Healthcare Medical
Mining Metals Oil Gas Power Utilities Telecom Communications Networks Systems Solutions
Services Logistics Shipping Marine Retail Stores Brands Apparel Foundation Institute
University College Hospital Council Committee Party Republic Kingdom State States City
County Street Avenue Road Park Valley River Lake Mountain Island Islands Global Conference
Summit Forum Center Centre Arena Stadium Index Cup Open Championship Award Awards Prize
Tour Festival Show Expo News Newswire Wire Daily Times Journal Post Press Agency""".split())


@dataclass
class _Pattern:
    entry: CompanyEntry
    alias: str
    #: "" (links as written), "context" (a common word: needs a corporate cue) or "weak"
    #: (a small company's one-word name: any verb after it will do)
    need: str


@dataclass
class Mention:
    start: int
    end: int
    text: str
    entry: CompanyEntry | None  # None: a private analyst house (a rater, never reported)
    kind: str = "name"  # name | code
    rater_kind: str | None = None
    role: Role | None = None
    extra: dict[str, Any] = field(default_factory=dict)


_FOLD_EXTRA = {"ø": "o", "Ø": "o", "æ": "a", "Æ": "a", "đ": "d", "ł": "l", "Ł": "l",
               "ı": "i", "’": "'", "‘": "'", "‐": " ", "–": " "}


def fold(text: str) -> str:
    """Lower case without accents, one character for one (offsets stay valid): "Wärtsilä"
    and "Wartsila" fold alike; hyphens fold to spaces ("Franco-Nevada")."""
    if text.isascii():
        return text.lower().replace("-", " ")
    return "".join(map(_fold_char, text))


@lru_cache(maxsize=4096)
def _fold_char(c: str) -> str:
    import unicodedata

    if c.isascii():
        return " " if c == "-" else c.lower()
    base = _FOLD_EXTRA.get(c) or unicodedata.normalize("NFKD", c)[:1].lower()
    return base if len(base) == 1 else c


def _boundary_ok(text: str, start: int, end: int) -> bool:
    before = text[start - 1] if start > 0 else " "
    after = text[end] if end < len(text) else " "
    return not _WORDCHAR.match(before) and not (_WORDCHAR.match(after) or (after == "-" and
                                                 end + 1 < len(text) and text[end + 1].isalpha()))


def _next_words(text: str, end: int, n: int = 2) -> list[str]:
    rest = text[end:end + 60]
    rest = re.sub(r"^'s\b", "", rest)
    return [w.lower().strip(".,:;!?\"'()") for w in rest.split()[:n]]


def _prev_words(text: str, start: int, n: int = 2) -> list[str]:
    return [w.lower().strip(".,:;!?\"'()") for w in text[max(0, start - 60):start].split()[-n:]]


class Linker:
    """Finds the universe's companies in headlines. Thread-safe; build once (about a
    second for the packaged universe) and reuse."""

    def __init__(self, universe: Universe) -> None:
        import ahocorasick

        self.universe = universe
        self._automaton = ahocorasick.Automaton()
        patterns: dict[str, list[_Pattern]] = {}
        self._codes: dict[str, CompanyEntry] = {}
        for entry in sorted(universe.entries.values(), key=lambda e: e.rank, reverse=True):
            for alias in entry.aliases:
                key = fold(alias)
                if len(key) < 2:
                    continue
                need = ("context" if alias in entry.context_aliases else
                        "weak" if alias in entry.weak_aliases else "")
                patterns.setdefault(key, []).insert(0, _Pattern(entry, alias, need))
            for code in (entry.ticker, *entry.codes):
                self._codes[code.upper()] = entry
                if "." in code:  # NOKIA.HE is also written NOKIA
                    self._codes.setdefault(code.split(".")[0].upper(), entry)
        #: analyst house or agency name -> (kind, the listed company, if it is one)
        self._raters: dict[str, tuple[str, CompanyEntry | None]] = {}
        for rater in universe.raters:
            key = fold(rater.name)
            self._raters[key] = (rater.kind, universe.entries.get(rater.ticker or ""))
            if key not in patterns:
                patterns[key] = []
        for key, pats in patterns.items():
            self._automaton.add_word(key, (key, pats))
        self._automaton.make_automaton()
        self._lock = threading.Lock()

    def knows(self, code: str) -> bool:
        """Whether a ticker or code names a company of the universe."""
        code = code.upper().lstrip("$")
        return code in self._codes or code.replace(".", "-") in self._codes

    # -- mentions ------------------------------------------------------------------------------
    def mentions(self, text: str) -> list[Mention]:
        text = text[:MAX_SCAN]
        lower = fold(text)
        codes = self._code_mentions(text)
        coded = {m.entry.ticker for m in codes if m.entry is not None}
        hits: list[Mention] = []
        pending: list[tuple[Mention, _Pattern]] = []  # names waiting for context
        for end_index, (key, pats) in self._automaton.iter(lower):
            start, end = end_index - len(key) + 1, end_index + 1
            if not _boundary_ok(text, start, end):
                continue
            surface = text[start:end]
            if not (surface[0].isupper() or surface[0].isdigit() or
                    any(p.alias == surface for p in pats)):  # "eBay" as the brand writes it
                continue
            nxt = re.match(r"\s+([A-Z][A-Za-z]+)\b", text[end:end + 30])
            if " " not in key and nxt and nxt.group(1) in _ORG_CONTINUES and \
                    not _title_case(text) and not any(
                        fold(p.entry.title or p.entry.name).startswith(
                            f"{key} {nxt.group(1).lower()}") for p in pats):
                continue  # "Volvo Cars" is not Volvo (but "McEwen Mining" is McEwen)
            rater = self._raters.get(key)
            rater_kind = rater[0] if rater else None
            chosen = None
            for pat in pats:
                if pat.alias.isupper() and len(pat.alias) > 1 and surface != pat.alias and \
                        not text.isupper():
                    continue  # "NOV" the company, not "Nov" the month
                if " " in pat.alias and not _title_case(text) and any(
                        a[:1].isupper() and not b[:1].isupper()
                        for a, b in zip(pat.alias.split(), surface.split(), strict=False)):
                    continue  # "Natural Gas" the company, not "natural gas"
                if pat.need and pat.entry.ticker not in coded and not (
                        self._has_context(text, start, end, key, weak=pat.need == "weak")):
                    pending.append((Mention(start, end, surface, pat.entry), pat))
                    continue
                chosen = pat
                break
            if chosen is None and rater is None:
                continue
            entry = chosen.entry if chosen else (rater[1] if rater else None)
            if rater_kind is None and entry is not None and entry.rater:
                rater_kind = entry.rater
            hits.append(Mention(start, end, surface, entry, rater_kind=rater_kind,
                                extra={"needs_rating": chosen is None}))
        hits += self._coordinated(text, pending, hits + codes)
        return _longest(hits + codes)

    @staticmethod
    def _coordinated(text: str, pending: list[tuple[Mention, _Pattern]],
                     accepted: list[Mention]) -> list[Mention]:
        """An ambiguous name joined by "and", "&" or a comma to a company named without
        doubt is a company too ("Visa and Mastercard settle")."""
        out: list[Mention] = []
        raters = [a for a in accepted if a.rater_kind]
        for m, _ in pending:
            clause = next(c for c in _clauses(text) if c[0] <= m.start <= c[1])
            if any(clause[0] <= r.start < m.start for r in raters) and \
                    _RATING_OBJECTS.search(text[clause[0]:clause[1]]):
                out.append(m)  # the object of a broker's opinion: "Baird returns to X bull camp"
                continue
            for other in accepted:
                if other.entry is None or other.extra.get("needs_rating"):
                    continue
                gap = (text[m.end:other.start] if other.start >= m.end
                       else text[other.end:m.start] if m.start >= other.end else None)
                if gap is not None and re.fullmatch(r"(?:'s)?\s*(,|and|&|or|vs\.?|versus)\s*",
                                                    gap, re.IGNORECASE):
                    out.append(m)
                    break
        return out

    def _has_context(self, text: str, start: int, end: int, key: str, *,
                     weak: bool = False) -> bool:
        """Is this capitalised common word (or small company's one-word name) a company
        here? Title-case headlines count only strong cues: every word is capitalised there."""
        # Capitals say nothing in a Title Case Headline, except about a small company's own
        # one-word name (its risk is a surname, not a common word).
        titled = _title_case(text) and not weak
        before_text = text[max(0, start - 40):start]
        person = re.search(r"(?:^|[\s(\"'])([A-Z][a-z]+\.?)\s+$", before_text)
        if person and person.group(1).lower() not in _CUES_BEFORE and not _title_case(text):
            return False  # "Harrison Ford", "Tom Ford": a person
        rest = text[end:end + 40]
        if start == 0 and rest.startswith(":"):
            return True  # "Seadrill: Another Debt Restructuring ..."
        if re.match(r",?\s*(?:Inc\b|Corp\b|Ltd\b|plc\b|S\.A\.|N\.V\.|SE\b|AG\b|Oyj\b)", rest):
            return True  # "Okta, Inc.", "Criteo S.A."
        after = _next_words(text, end)
        if key in _NOT_AFTER and after and after[0] in _NOT_AFTER[key]:
            return False
        if re.match(r"\s*,?\s*(?:Inc\.?|Corp\.?|Ltd\.?|plc)?\s*\(\$?[A-Z]{1,6}\)", rest):
            return True  # "Vonage Holdings (VG)", "PagerDuty, Inc. (PD)"
        if _MOVE.match(rest):  # "GameStop -15%", "Kraft +3%", "Endonovo up 35%"
            return True
        if (after and after[0] in _STRONG_CUES) or after[:2] in (["price", "target"],
                                                               ["price", "targets"]):
            return True
        if _QUALIFIER_AFTER.match(rest.lstrip()):
            return True
        before = _prev_words(text, start)
        if before and before[-1] in _CUES_BEFORE:
            return True
        if titled:
            return False
        if rest[:2] in ("'s", "’s") or (after and after[0].startswith("$")):
            return True
        if after and after[0] in _VERB_CUES:
            return True
        if after[:1] == ["to"] and len(after) > 1 and after[1] in _ACTIONS:
            return True  # "Shell to sell ...", "Target to close stores"
        lower_next = re.match(r"\s+[a-z]", rest) is not None
        # "Twilio gets ...", "Teva inks ...": for a small company's own name, any verb will do.
        return weak and lower_next and (after[0] in _WEAK_CUES or (
            after[0].endswith("s") and after[0].isalpha() and not after[0].endswith("ss")))

    def _code_mentions(self, text: str) -> list[Mention]:
        out: list[Mention] = []
        patterns = [rx for rx, mark in ((_CASHTAG, "$"), (_EXCHANGE, "("), (_REUTERS, "<"),
                                        (_BRACKETED, "(")) if mark in text]
        for pattern in patterns:
            for m in pattern.finditer(text):
                code = m.group(1).upper()
                if pattern is _REUTERS and m.group(2) not in _US_RICS:
                    code = f"{code}.{m.group(2)}"  # "<VOD.L>": London, not a US ticker
                entry = self._codes.get(code) or self._codes.get(code.replace("-", "."))
                if entry is not None and pattern is _BRACKETED and not any(
                        fold(text[max(0, m.start() - 60):m.start()]).rstrip(" ,.").endswith(
                            (fold(a), fold(a) + " inc", fold(a) + " corp"))
                        for a in entry.aliases):
                    continue  # "(SMT)" alone says nothing; "Prothena (PRTA)" does
                if entry is not None:
                    out.append(Mention(m.start(), m.end(), m.group(0), entry, kind="code",
                                       rater_kind=entry.rater))
        if not text.isupper():
            for m in _BARE.finditer(text):
                code = m.group(1)
                entry = self._codes.get(code)
                nxt = re.match(r"\s+([A-Z][a-z]+)", text[m.end():m.end() + 30])
                if entry is not None and code not in _ACRONYMS and entry.ticker == code and \
                        entry.bare and not (nxt and (nxt.group(1) in _ORG_CONTINUES or
                                                     nxt.group(1) in _LEGAL)) and \
                        self._has_context(text, m.start(), m.end(), code.lower()):
                    out.append(Mention(m.start(), m.end(), code, entry, kind="code",
                                       rater_kind=entry.rater))
        return out

    # -- roles ------------------------------------------------------------------------------------
    def link(self, text: str) -> tuple[list[EntityMention], bool]:
        """The companies this text names, each once, with its role, in order of first
        mention; and whether more than MAX_ENTITIES_PER_SIGNAL were found (the rest are
        dropped)."""
        mentions = self.mentions(text)
        if not mentions:
            return [], False
        assign_roles(text[:MAX_SCAN], mentions)
        out: list[EntityMention] = []
        seen: dict[str, int] = {}
        for m in mentions:
            if m.entry is None or m.role is None:
                continue
            ticker = m.entry.ticker
            if ticker in seen:  # a later mention may promote the role (rater < subject)
                i = seen[ticker]
                if out[i].role != Role.subject and m.role == Role.subject:
                    out[i] = out[i].model_copy(update={"role": Role.subject})
                continue
            seen[ticker] = len(out)
            out.append(EntityMention(ticker=ticker, name=m.entry.name, cik=m.entry.cik,
                                     span=(m.start, m.end), role=m.role))
        capped = len(out) > MAX_ENTITIES_PER_SIGNAL
        return out[:MAX_ENTITIES_PER_SIGNAL], capped


_FUNCTION_WORDS = frozenset("""The Is A An To In Of For With On At By As And But Or From Into
Over After Before May Will Could Should Can Be Are Was Were This That It Its Not Yet Still More
Most Why How What Now Has Have Than Just Very Up Down Out Off About Amid""".split())


def _title_case(text: str) -> bool:
    """Headline Case Like This (or ALL CAPS): capitals say nothing about names there. Told
    by the small words a sentence writes in lower case ("May Be Through The Worst")."""
    if text.isupper():
        return True
    words = re.findall(r"[A-Za-z]+", text)
    return sum(w in _FUNCTION_WORDS for w in words[1:]) >= 2


def _longest(hits: list[Mention]) -> list[Mention]:
    """Non-overlapping mentions, longest first, then earliest; in text order."""
    chosen: list[Mention] = []
    taken: list[tuple[int, int]] = []
    for m in sorted(hits, key=lambda m: (-(m.end - m.start), m.start, m.kind != "code")):
        if any(m.start < e and s < m.end for s, e in taken):
            continue
        chosen.append(m)
        taken.append((m.start, m.end))
    return sorted(chosen, key=lambda m: m.start)


def _clauses(text: str) -> list[tuple[int, int]]:
    bounds, last = [], 0
    for m in _CLAUSE.finditer(text):
        bounds.append((last, m.start()))
        last = m.end()
    bounds.append((last, len(text)))
    return bounds


#: Verbs that are an opinion by themselves: no "target" or "rating" needs to follow.
_OPINION_VERBS = frozenset("""upgrade upgrades upgraded downgrade downgrades downgraded initiate
initiates initiated reiterates reiterated cools cooled warms warmed sours soured turns joins
likes loves hates backs prefers favors favours defends bullish bearish upbeat downbeat
cautious reels loses constructive""".split())


def _is_rater(text: str, m: Mention, clause: tuple[int, int], others: list[Mention],
              tail: bool) -> bool:
    """Does this broker, bank or agency give an opinion here?"""
    if m.rater_kind is None:
        return False
    c_text = text[clause[0]:clause[1]]
    before = _prev_words(text, m.start, 2)
    after = _next_words(text, m.end, 3)
    possessive = text[m.end:m.end + 2] in ("'s", "’s")
    has_object = bool(_RATING_OBJECTS.search(c_text)) or (m.rater_kind == "agency" and any(
        w in {"warns", "affirms", "cuts", "downgrades", "upgrades", "raises", "lowers",
              "places", "puts", "revises"} for w in after))
    if tail and others:  # "... - BofA", "...: Jefferies"
        return True
    if not others:
        return False
    if before and before[-1] in _AGENT_BEFORE and has_object:
        return True  # "upgraded at Goldman", "cut by Moody's"
    if possessive and _RATING_OBJECTS.match(text[m.end + 2:].lstrip()):
        return True  # "JPMorgan's bear call", "Goldman's price target"
    if after and after[0] in _OPINION_VERBS:
        return True  # "Barclays cools on X", "BMO joins X bull camp"
    if after and (after[0] in _RATING_VERBS or (len(after) > 1 and after[0] in {
            "analyst", "analysts", "strategist", "strategists", "isi", "capital", "securities",
            "research"})) and has_object:
        return True  # "Goldman cuts X to Sell", "Morgan Stanley analyst ... upgraded X"
    # A broker opening the clause, the other company later, and an analyst's vocabulary:
    # "JPMorgan reels in expectations on Beyond Meat", "Guggenheim sees catalysts for eBay".
    first = not text[clause[0]:m.start].strip(" $-:,'\"")
    return first and has_object and any(o.start > m.end for o in others)


def assign_roles(text: str, mentions: list[Mention]) -> None:
    """Sets each mention's role in place."""
    clauses = _clauses(text)
    tail_start = clauses[-1][0] if len(clauses) > 1 else None
    for m in mentions:
        clause = next(c for c in clauses if c[0] <= m.start <= c[1])
        others = [o for o in mentions if o is not m and o.entry is not None and
                  (o.entry is not m.entry)]
        tail = (tail_start is not None and m.start >= tail_start and
                not text[m.end:].strip(" .)\"'") and
                re.search(r"[-—–:]\s*$", text[:m.start]) is not None)
        if _is_rater(text, m, clause, others, tail):
            m.role = Role.rater
        elif m.entry is None or m.extra.get("needs_rating"):
            m.role = None  # a private analyst house outside a rating: not reported
    # A broker listed next to a rater is one too: "cut at Credit Suisse, J.P. Morgan".
    raters = [m for m in mentions if m.role == Role.rater]
    for m in mentions:
        if m.role is None and m.rater_kind and any(re.fullmatch(
                r"\s*(,|and|&)\s*", text[r.end:m.start]) for r in raters if r.end <= m.start):
            m.role = Role.rater
            raters.append(m)
    for c_start, c_end in clauses:
        inside = [m for m in mentions if c_start <= m.start <= c_end and m.role is None
                  and m.entry is not None and not m.extra.get("needs_rating")]
        subject_seen = False
        prev_end = None
        for m in inside:
            qualifier = bool(_QUALIFIER_AFTER.match(text[m.end:m.end + 20].lstrip()))
            joined = prev_end is not None and re.fullmatch(
                r"\s*(,|and|&|,\s*and)\s*", text[prev_end:m.start], re.IGNORECASE) is not None
            if qualifier:
                m.role = Role.mentioned
            elif not subject_seen or (joined and mentions_role(inside, prev_end) == Role.subject):
                m.role = Role.subject
                subject_seen = True
            else:
                m.role = Role.mentioned
            prev_end = m.end
    # A clause holding only a rater and its object: the object is the subject even when a
    # preposition precedes it ("cools on X"); done above, as the first non-rater.
    for m in mentions:
        if m.role is None and m.entry is not None and not m.extra.get("needs_rating"):
            m.role = Role.mentioned


def mentions_role(mentions: Iterable[Mention], end: int | None) -> Role | None:
    return next((m.role for m in mentions if m.end == end), None)


@lru_cache(maxsize=4)
def default_linker(user_table: str | None = None) -> Linker:
    return Linker(default_universe(user_table))

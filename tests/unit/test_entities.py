"""Entity linking (core.entities) over the packaged universe, the universe itself, and its
builder (ingest.universe)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from core.entities import MAX_SCAN, Linker, default_linker
from core.errors import ConfigError
from core.models import Article, Prediction, Role, Signal
from core.names import MAX_ENTITIES_PER_SIGNAL
from core.universe import UNIVERSE_FILE, Universe, read_universe, read_user_table
from ingest.tickers import title_entities

ROOT = Path(__file__).resolve().parents[2]


def roles(text: str, linker: Linker | None = None) -> list[tuple[str, str]]:
    found, _ = (linker or default_linker()).link(text)
    return [(e.ticker, e.role.value) for e in found]


@pytest.mark.parametrize(("text", "expected"), [
    ("Deutsche Bank cuts Tesla to Hold", [("DB", "rater"), ("TSLA", "subject")]),
    ("Barclays cools on Molson Coors", [("BCS", "rater"), ("TAP", "subject")]),
    ("Energizer shakes off JPMorgan's bear call", [("ENR", "subject"), ("JPM", "rater")]),
    ("Nike upgraded at Goldman", [("NKE", "subject"), ("GS", "rater")]),
    ("Moody's downgrades Ford", [("MCO", "rater"), ("F", "subject")]),
    ("Goldman cuts Apple to Sell", [("GS", "rater"), ("AAPL", "subject")]),
    ("BMO joins Nike bull camp", [("BMO", "rater"), ("NKE", "subject")]),
    ("AMD's Navi shows strong adoption - BofA", [("AMD", "subject"), ("BAC", "rater")]),
    ("Cemex cut at Credit Suisse, J.P. Morgan on weak building outlook",
     [("CX", "subject"), ("JPM", "rater")]),
])
def test_raters_are_told_from_subjects(text: str, expected: list[tuple[str, str]]) -> None:
    assert roles(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("Goldman Sachs profit beats estimates", [("GS", "subject")]),  # a bank as the news
    ("JPMorgan to buy First Republic", [("JPM", "subject")]),  # "to buy" is not a rating
    ("Macy's rises after beat while Kohl's slumps", [("M", "subject"), ("KSS", "subject")]),
    ("Siemens rallies on orders; Huhtamaki up after profit beat",
     [("SIE.DE", "subject"), ("HUH1V.HE", "subject")]),
    ("Pfizer wins patent case against Moderna", [("PFE", "subject"), ("MRNA", "mentioned")]),
    ("Apple supplier Foxconn to build plant in India", [("AAPL", "mentioned")]),
    ("Tesla, Ford and GM recall cars", [("TSLA", "subject"), ("F", "subject"),
                                        ("GM", "subject")]),
])
def test_subjects_and_mentioned_companies(text: str, expected: list[tuple[str, str]]) -> None:
    assert roles(text) == expected


@pytest.mark.parametrize(("text", "ticker"), [
    ("Elisa raises outlook", "ELISA.HE"), ("Sampo profit rises", "SAMPO.HE"),
    ("Kone wins elevator order", "KNEBV.HE"), ("Fortum sells stake", "FORTUM.HE"),
    ("Neste shares fall", "NESTE.HE"), ("Outokumpu cuts jobs", "OUT1V.HE"),
    ("Stora Enso to close mill", "STERV.HE"), ("Wartsila wins order", "WRT1V.HE"),
    ("Wärtsilä wins order", "WRT1V.HE"), ("Glencore profit falls", "GLEN.L"),
    ("Ally Financial beats estimates", "ALLY"), ("Canada Goose shares jump", "GOOS"),
    ("Molson Coors raises forecast", "TAP"), ("Energizer misses estimates", "ENR"),
    ("Franco-Nevada raises dividend", "FNV"), ("eBay beats estimates", "EBAY"),
])
def test_names_the_old_table_missed(text: str, ticker: str) -> None:
    assert roles(text) == [(ticker, "subject")]


@pytest.mark.parametrize("text", [
    "Investors target growth stocks as rates fall", "Lawmakers block the bill",
    "She needed a visa for the trip", "Apple harvest hit by frost", "Harrison Ford's new film",
    "The match ended in a draw", "Shell shock hits emerging markets",
    "Amazon rainforest fires threaten soy exports", "Target price raised on strong demand",
    "ALL IN: markets rally", "IT spending slows", "NOW is the time to buy bonds",
    "S&P 500 hits record high", "Dow Jones falls 300 points", "Nasdaq rises 1%",
    "Natural gas prices plunge", "Volvo Cars sales rise", "Oil prices rise as OPEC cuts output",
    "Grade A office space is scarce", "ECB signals a pause",
])
def test_common_words_people_places_and_indices_are_not_companies(text: str) -> None:
    assert roles(text) == []


@pytest.mark.parametrize(("text", "ticker"), [
    ("Target raises forecast", "TGT"), ("Gap shares jump 10%", "GAP"),
    ("Block shares surge after earnings", "XYZ"), ("Visa and Mastercard settle lawsuit", "V"),
    ("Shell to sell Nigerian assets", "SHEL"), ("Apple's iPhone sales slump", "AAPL"),
    ("Ford recalls 300,000 trucks", "F"), ("Goldman raises Apple price target", "AAPL"),
])
def test_ambiguous_names_link_with_context(text: str, ticker: str) -> None:
    assert ticker in dict(roles(text))


@pytest.mark.parametrize(("text", "ticker"), [
    ("$NVDA jumps after results", "NVDA"), ("Nokia (NYSE: NOK) wins 5G deal", "NOK"),
    ("Chipmaker (NASDAQ:AMD) rallies", "AMD"), ("Vodafone <VOD.L> cuts dividend", "VOD.L"),
    ("Raytheon <RTX.N> wins contract", "RTX"), ("TSLA jumps 5% as deliveries beat", "TSLA"),
    ("Prothena (PRTA) presents at conference", "PRTA"),
])
def test_ticker_strings(text: str, ticker: str) -> None:
    assert ticker in dict(roles(text))


def test_spans_point_at_the_name_as_written() -> None:
    text = "Shares of Wärtsilä rose; Stora Enso fell"
    found, _ = default_linker().link(text)
    assert [text[a:b] for a, b in (e.span for e in found)] == ["Wärtsilä", "Stora Enso"]
    assert found[0].name == "Wärtsilä" and found[0].cik is None
    nvidia = default_linker().link("Nvidia tops estimates")[0][0]
    assert nvidia.cik == 1045810


def test_a_headline_listing_many_tickers_keeps_twenty_flagged() -> None:
    codes = [e.ticker for e in default_linker().universe.entries.values()
             if e.ticker.isalpha() and e.source == "sec"][:200]
    text = "Movers: " + " ".join(f"${t}" for t in codes)
    found, capped = default_linker().link(text)
    assert capped and len(found) == MAX_ENTITIES_PER_SIGNAL
    entities, tickers = title_entities(text, (), default_linker())
    assert len(entities) == MAX_ENTITIES_PER_SIGNAL  # title_entities keeps the linker's cap
    article = Article(source_id="s", title=text, entities=[*entities, *entities[:2]],
                      tickers=tickers)
    assert len(article.entities) == MAX_ENTITIES_PER_SIGNAL
    assert "entities_capped" in article.flags


def test_a_very_long_headline_is_scanned_up_to_a_bound() -> None:
    text = "Nokia rises. " + "x" * (MAX_SCAN + 10) + " Glencore falls"
    assert roles(text) == [("NOK", "subject")]  # nothing past MAX_SCAN is read
    long = ("Nokia and Stora Enso rise while Glencore falls; " * 1000)
    assert {t for t, _ in roles(long)} == {"NOK", "STERV.HE", "GLEN.L"}


def test_signal_tickers_are_subjects_then_mentioned_never_a_rater() -> None:
    text = "Deutsche Bank cuts Tesla to Hold as Ford gains"
    entities, tickers = title_entities(text, ("XYZ",), default_linker())
    assert tickers == ["TSLA", "F", "XYZ"]
    article = Article(source_id="s", title=text, entities=entities, tickers=tickers)
    signal = Signal.from_article(article, Prediction.from_probabilities([0.7, 0.2, 0.1], "v"))
    assert [e.role for e in signal.entities] == [Role.rater, Role.subject, Role.mentioned]
    assert "DB" not in signal.tickers and signal.entity("DB") is None
    assert signal.entity("TSLA") is not None and signal.score_for("TSLA") == signal.score
    # Unknown cashtags stay tickers (the writer said so); known ones become entities.
    ents, tks = title_entities("$ZZZZQ and $AAPL rise", (), default_linker())
    assert [e.ticker for e in ents] == ["AAPL"] and tks == ["AAPL", "ZZZZQ"]


def test_the_users_table_extends_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "mine.csv"
    path.write_text("name,ticker\nAcme Rockets,acme\nNokia,NOKIA.HE\n")
    universe = Universe.load(UNIVERSE_FILE, path)
    linker = Linker(universe)
    assert roles("Acme Rockets lifts guidance", linker) == [("ACME", "subject")]
    assert roles("Nokia wins deal", linker) == [("NOKIA.HE", "subject")]
    bad = tmp_path / "bad.csv"
    bad.write_text("company,symbol\nA,B\n")
    with pytest.raises(ConfigError, match="needs 'name' and 'ticker'"):
        read_user_table(bad)
    empty = tmp_path / "empty.csv"
    empty.write_text("name,ticker\nAcme,\n")
    with pytest.raises(ConfigError, match=r"empty.csv:2"):
        read_user_table(empty)


def test_a_broken_universe_line_names_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "u.jsonl.gz"
    with gzip.open(path, "wt") as fh:
        fh.write('{"provenance": {}}\n{"ticker": "A", "name": "A", "aliases": ["A"]}\n{oops\n')
    with pytest.raises(ConfigError, match=r"u.jsonl.gz:3"):
        read_universe(path)
    with pytest.raises(ConfigError, match="no universe file"):
        read_universe(tmp_path / "missing.gz")


def test_the_packaged_universe_is_what_its_sources_build() -> None:
    """The committed file is reproducible: the SEC snapshot, the pinned pytickersymbols and
    the curated lists give it again, byte for byte."""
    pytest.importorskip("cleanco")
    pytest.importorskip("pytickersymbols")
    from ingest.universe import MODEL_DATA, build_universe, write_universe

    entries, provenance = build_universe(MODEL_DATA / "sec" / "company_tickers.json",
                                         headlines_csv=MODEL_DATA / "twitter_financial_news"
                                         / "sent_train.csv")
    rebuilt = write_universe(entries, provenance, Path(__file__).parent / ".universe.tmp.gz")
    try:
        assert gzip.decompress(rebuilt.read_bytes()) == gzip.decompress(
            UNIVERSE_FILE.read_bytes())
    finally:
        rebuilt.unlink()
    assert provenance["sec_rows"] == 10338 and provenance["companies"] > 7000


def test_the_builder_cleans_titles_skips_funds_and_reports_changes(tmp_path: Path) -> None:
    pytest.importorskip("cleanco")
    from ingest.universe import UniverseError, build_universe, clean_title, update

    assert clean_title("BANK OF AMERICA CORP /DE/") == "Bank of America"
    assert clean_title("MICROSOFT CORP") == "Microsoft"
    assert clean_title("XPO, Inc.") == "XPO"
    # Case a title cannot tell ("ELI") comes from a curated or index spelling.
    assert default_linker().universe.entries["LLY"].name == "Eli Lilly"
    assert default_linker().universe.entries["JPM"].name == "JPMorgan Chase"
    sec = tmp_path / "sec.json"
    sec.write_text(json.dumps({
        "0": {"cik_str": 1, "ticker": "ACME", "title": "ACME ROCKETS CORP /DE/"},
        "1": {"cik_str": 1, "ticker": "ACME-B", "title": "ACME ROCKETS CORP /DE/"},
        "2": {"cik_str": 2, "ticker": "SPYX", "title": "SPDR S&P 500 ETF TRUST"},
        "3": {"cik_str": 3, "ticker": "ZETA", "title": "ZETA WIDGETS INC"}}))
    entries, _ = build_universe(sec, with_indices=False)
    by = {e.ticker: e for e in entries}
    assert set(by) == {"ACME", "ZETA"}  # the fund is left out
    assert by["ACME"].name == "Acme Rockets" and by["ACME"].codes == ["ACME-B"]
    out = tmp_path / "u.jsonl.gz"
    update(sec, out, with_indices=False, headlines_csv=None)
    sec.write_text(json.dumps({
        "0": {"cik_str": 1, "ticker": "ACME", "title": "ACME SPACE CORP"},
        "1": {"cik_str": 4, "ticker": "NEWCO", "title": "NEWCO HOLDINGS INC"}}))
    diff = update(sec, out, with_indices=False, headlines_csv=None)
    assert diff["added"] == ["NEWCO"] and diff["removed"] == ["ZETA"]
    assert diff["renamed"] == [{"ticker": "ACME", "from": "Acme Rockets", "to": "Acme Space"}]
    sec.write_text('{"0": {"cik_str": 1, "title": "NO TICKER"}}')
    with pytest.raises(UniverseError, match="row 0"):
        build_universe(sec, with_indices=False)

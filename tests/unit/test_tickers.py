from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from ingest.tickers import TickerTable, default_ticker_table, tickers_for


def test_default_table_matches_names_on_word_boundaries() -> None:
    table = default_ticker_table()
    assert table.match("Apple and Microsoft beat estimates") == ["AAPL", "MSFT"]
    assert table.match("Bank of America's profit rose") == ["BAC"]
    assert table.match("Pineapple prices rose") == []          # not inside other words
    assert table.match("apple harvest is late") == []          # case-sensitive names
    assert table.match("Johnson & Johnson recalls talc") == ["JNJ"]


def test_tickers_for_merges_feed_cashtags_and_names_once() -> None:
    table = default_ticker_table()
    assert tickers_for("$TSLA: Tesla deliveries fall", ("NOK",), table) == ["NOK", "TSLA"]
    assert tickers_for("Nothing here", (), table) == []
    assert tickers_for("Nokia up", (), None) == []


def test_user_table_from_csv(tmp_path: Path) -> None:
    path = tmp_path / "mine.csv"
    path.write_text("name,ticker\nAcme Rockets,acme\nAcme,ACM\n")
    table = TickerTable.from_csv(path)
    assert table.match("Acme Rockets lifts guidance") == ["ACME"]  # longest name wins
    assert table.match("Acme falls") == ["ACM"]
    bad = tmp_path / "bad.csv"
    bad.write_text("company,symbol\nA,B\n")
    with pytest.raises(ConfigError, match="needs 'name' and 'ticker'"):
        TickerTable.from_csv(bad)
    empty = tmp_path / "empty.csv"
    empty.write_text("name,ticker\nAcme,\n")
    with pytest.raises(ConfigError, match=r"empty.csv:2"):
        TickerTable.from_csv(empty)

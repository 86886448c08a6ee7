"""Tickers for a headline: cashtags, the feed's defaults, and a company-name table."""

from __future__ import annotations

import csv
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path

from core.errors import ConfigError

_CASHTAG = re.compile(r"(?<![\w$])\$([A-Za-z]{1,6}(?:\.[A-Za-z]{1,2})?)\b")


def cashtags(text: str) -> list[str]:
    return [m.upper() for m in _CASHTAG.findall(text)]


class TickerTable:
    """Company names -> tickers, matched case-sensitively on word boundaries, longest first
    ("Bank of America" wins over a shorter name inside it)."""

    def __init__(self, mapping: dict[str, str]) -> None:
        self.mapping = {k.strip(): v.strip().upper() for k, v in mapping.items() if k.strip()}
        names = sorted(self.mapping, key=len, reverse=True)
        self._pattern = (re.compile(r"(?<![\w&])(" + "|".join(map(re.escape, names)) +
                                    r")(?:'s)?(?![\w&])") if names else None)

    @classmethod
    def from_csv(cls, path: str | Path) -> TickerTable:
        """A CSV with `name,ticker` columns (a header row is required)."""
        path = Path(path)
        mapping: dict[str, str] = {}
        try:
            with path.open(newline="", encoding="utf-8-sig") as fh:
                reader = csv.DictReader(fh)
                if not {"name", "ticker"} <= set(reader.fieldnames or []):
                    raise ConfigError(f"ticker table {path}: needs 'name' and 'ticker' columns")
                for row in reader:
                    name, ticker = (row.get("name") or "").strip(), (row.get("ticker") or "")
                    if not name or not ticker.strip():
                        raise ConfigError(f"ticker table {path}:{reader.line_num}: "
                                          "empty name or ticker")
                    mapping[name] = ticker
        except FileNotFoundError as exc:
            raise ConfigError(f"ticker table {path} does not exist") from exc
        return cls(mapping)

    def match(self, text: str) -> list[str]:
        if self._pattern is None:
            return []
        return list(dict.fromkeys(self.mapping[m] for m in self._pattern.findall(text)))


@lru_cache(maxsize=1)
def default_ticker_table() -> TickerTable:
    return TickerTable.from_csv(Path(str(resources.files("ingest") / "companies.csv")))


def tickers_for(title: str, feed_tickers: tuple[str, ...] = (),
                table: TickerTable | None = None) -> list[str]:
    found = list(feed_tickers) + cashtags(title)
    if table is not None:
        found += table.match(title)
    return list(dict.fromkeys(t.upper() for t in found))

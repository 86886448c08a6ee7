"""Reading texts for `newsig classify --input`: CSV (multi-line quoted fields), JSONL, TXT."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from pathlib import Path

from core.errors import InvalidInputError


def _check(text: object, where: str, column: str) -> str:
    if not isinstance(text, str):
        raise InvalidInputError(f"{where}: '{column}' is not a string")
    text = text.strip()
    if not text:
        raise InvalidInputError(f"{where}: empty text in '{column}'")
    return text


def read_texts(path: str, *, text_column: str = "text") -> list[str]:
    """Texts in input order; a bad row raises InvalidInputError naming file and line."""
    if path == "-":
        return [line.strip() for line in sys.stdin if line.strip()]
    p = Path(path)
    if not p.is_file():
        raise InvalidInputError(f"{p}: no such file")
    suffix = p.suffix.lower()
    try:
        if suffix in (".csv", ".tsv"):
            return _read_csv(p, text_column, "\t" if suffix == ".tsv" else ",")
        if suffix in (".jsonl", ".ndjson"):
            return _read_jsonl(p, text_column)
        return [line.strip() for line in p.read_text(encoding="utf-8").splitlines()
                if line.strip()]
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"{p}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc


def _read_csv(p: Path, column: str, delimiter: str) -> list[str]:
    texts: list[str] = []
    with p.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh, delimiter=delimiter)
        if column not in (reader.fieldnames or []):
            raise InvalidInputError(f"{p}:1: no column {column!r} (columns: "
                                    f"{', '.join(reader.fieldnames or [])}); "
                                    "use --text-column")
        start = reader.line_num + 1
        try:
            for row in reader:
                texts.append(_check(row.get(column), f"{p}:{start}", column))
                start = reader.line_num + 1
        except csv.Error as exc:
            raise InvalidInputError(f"{p}:{start}: {exc}") from exc
    return texts


def _jsonl(p: Path) -> Iterator[tuple[int, object]]:
    """(line number, value) of each non-blank line; invalid JSON names the line."""
    with p.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                yield n, json.loads(line)
            except json.JSONDecodeError as exc:
                raise InvalidInputError(f"{p}:{n}: invalid JSON ({exc.msg})") from exc


def _read_jsonl(p: Path, column: str) -> list[str]:
    texts: list[str] = []
    for n, obj in _jsonl(p):
        if isinstance(obj, dict):
            if column not in obj:
                raise InvalidInputError(f"{p}:{n}: no key {column!r}; use --text-column")
            obj = obj[column]
        texts.append(_check(obj, f"{p}:{n}", column))
    return texts


def read_pairs(path: str, *, text_column: str, target_column: str
               ) -> list[tuple[str, str, str]]:
    """(text, target, where) rows of a CSV or JSONL file, for `newsig classify
    --target-column`; `where` is "file:line" for error messages."""
    p = Path(path)
    if not p.is_file():
        raise InvalidInputError(f"{p}: no such file")
    rows: list[tuple[str, str, str]] = []
    try:
        if p.suffix.lower() in (".jsonl", ".ndjson"):
            for n, obj in _jsonl(p):
                if not isinstance(obj, dict):
                    raise InvalidInputError(f"{p}:{n}: not an object")
                where = f"{p}:{n}"
                rows.append((_check(obj.get(text_column), where, text_column),
                             _check(obj.get(target_column), where, target_column), where))
            return rows
        with p.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh, delimiter="\t" if p.suffix.lower() == ".tsv" else ",")
            missing = [c for c in (text_column, target_column)
                       if c not in (reader.fieldnames or [])]
            if missing:
                raise InvalidInputError(f"{p}:1: no column {missing[0]!r} (columns: "
                                        f"{', '.join(reader.fieldnames or [])})")
            start = reader.line_num + 1
            try:
                for row in reader:
                    where = f"{p}:{start}"
                    rows.append((_check(row.get(text_column), where, text_column),
                                 _check(row.get(target_column), where, target_column), where))
                    start = reader.line_num + 1
            except csv.Error as exc:
                raise InvalidInputError(f"{p}:{start}: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"{p}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    return rows

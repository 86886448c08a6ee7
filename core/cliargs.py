"""What every `newsig` command group shares: settings from flags, JSON output, the common
arguments. Standard library and core only, so each group (api/cli.py, model/cli.py,
api/bench/cli.py) imports it without importing the others."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TextIO

from core.errors import InvalidInputError
from core.settings import Settings


def settings_from(args: argparse.Namespace) -> Settings:
    """Settings from the environment, with the flags a command was given on top."""
    overrides = {}
    for name in ("store_url", "model_dir", "classifier", "ticker_table", "alerts_file", "tier",
                 "teacher_dir"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    return Settings(**overrides)


def log_line(message: str) -> None:
    sys.stderr.write(message + "\n")


def emit(line: str, out: TextIO | None = None) -> None:
    out = out or sys.stdout  # looked up per call: a default bound at import goes stale
    out.write(line + "\n")
    out.flush()


def write_json(result: dict, out: str | Path | None, *, indent: int | None = 2,
               compact_stdout: bool = False) -> None:
    """Print a command's JSON result (and write it to `out` when given)."""
    text = json.dumps(result, indent=indent)
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text + "\n")
    emit(json.dumps(result) if compact_stdout else text)


def int_list(raw: str, flag: str, *, example: str = "1,2,3", minimum: int | None = None
             ) -> list[int]:
    try:
        values = [int(c) for c in raw.split(",") if c.strip()]
    except ValueError as exc:
        raise InvalidInputError(f"{flag} {raw!r}: use e.g. {example}") from exc
    if not values or (minimum is not None and min(values) < minimum):
        raise InvalidInputError(f"{flag} needs integers of at least {minimum}, e.g. {example}"
                                if minimum is not None else f"{flag} is empty: use e.g. {example}")
    return values


def store_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--store", dest="store_url", metavar="URL",
                   help="signal store URL (default: $NEWSIG_STORE_URL or sqlite:///var/signals.db)")


def tier_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tier", choices=["fast", "accurate"], default=None,
                   help="fast: the student alone; accurate: the teacher answers what the "
                        "student is unsure of (default: $NEWSIG_TIER or fast)")
    p.add_argument("--teacher-dir", type=Path, default=None,
                   help="the built teacher (default: $NEWSIG_TEACHER_DIR or "
                        "~/.cache/newsig/teacher; `make teacher` builds it)")


def model_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model-dir", type=Path, default=None,
                   help="model folder (default: $NEWSIG_MODEL_DIR or the release model, "
                        "model/release)")

"""`newsig bench compare --before DIR -- BENCH ARGS...`: one benchmark, this checkout against
another (a git worktree of an earlier commit), interleaved round by round on this machine,
so a before/after ratio never compares two machines or two phases of a noisy one.

Each round runs `newsig bench BENCH ARGS` once with the other checkout's code (this
interpreter, its PYTHONPATH) and once with this one's, alternating which goes first. Every
numeric top-level figure both print is reported per round, as the median of the rounds, and
as the ratio after / before."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

from core.machine import machine_info

_RUN = "import sys; from api.cli import main; sys.exit(main())"


def _one(code_dir: Path | None, args: list[str]) -> dict[str, Any]:
    env = dict(os.environ)
    if code_dir is not None:
        env["PYTHONPATH"] = str(code_dir)
    r = subprocess.run([sys.executable, "-c", _RUN, "bench", *args], capture_output=True,
                       text=True, env=env, cwd=str(code_dir) if code_dir else None,
                       check=False)
    if r.returncode != 0:
        raise RuntimeError(f"bench {' '.join(args)} failed ({code_dir or 'this checkout'}): "
                           f"{r.stderr[-1500:]}")
    lines = [line for line in r.stdout.splitlines() if line.startswith("{")]
    return json.loads(lines[-1])


def _figures(doc: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """Numeric figures, nested ones named with dots ("single.p50_ms"); lists are skipped."""
    out: dict[str, float] = {}
    for k, v in doc.items():
        if isinstance(v, dict) and k not in ("machine", "per_round"):
            out.update(_figures(v, f"{prefix}{k}."))
        elif isinstance(v, int | float) and not isinstance(v, bool):
            out[f"{prefix}{k}"] = float(v)
    return out


def compare(before: Path, args: list[str], *, rounds: int = 3) -> dict[str, Any]:
    if not (before / "api" / "cli.py").exists():
        raise ValueError(f"{before}: not a checkout of this project (no api/cli.py)")
    runs: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
    for i in tqdm(range(rounds), desc="bench compare", unit="round"):
        order = [("before", before), ("after", None)]
        for name, code in (order if i % 2 == 0 else order[::-1]):
            runs[name].append(_figures(_one(code, args)))
    keys = sorted(set(runs["before"][0]) & set(runs["after"][0]))
    median = {name: {k: statistics.median(r[k] for r in rs) for k in keys}
              for name, rs in runs.items()}
    return {"benchmark": "compare", "bench": args, "before": str(before), "rounds": rounds,
            "median_before": median["before"], "median_after": median["after"],
            "ratio_after_over_before": {k: round(median["after"][k] / median["before"][k], 3)
                                        for k in keys if median["before"][k]},
            "per_round": runs, "machine": machine_info()}

"""`newsig bench classify --http` end to end on a tiny model and a few sentences: a real
`newsig serve`, the Lambda handler's cold start, the original path in the same run."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

from api.bench.http_bench import parse_server_timing

SENTENCES = ["Profit rose to a record", "Sales fell sharply", "The board meets on Monday",
             "Shares jumped after the results", "The company cut its guidance"]


def test_server_timing_header_parses() -> None:
    assert parse_server_timing("model;dur=2.125, route;dur=2.5") == {"model": 2.125,
                                                                     "route": 2.5}
    assert parse_server_timing("") == {} and parse_server_timing("x;dur=abc") == {}


def test_bench_http_prints_its_figures(tiny_model_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "few.csv"
    with data.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "label"])
        for s in SENTENCES:
            w.writerow([s, "neutral"])
    out = tmp_path / "http.json"
    run = subprocess.run(
        [str(Path(sys.executable).parent / "newsig"), "bench", "classify", "--http",
         "--model-dir", str(tiny_model_dir), "--input", str(data), "--runs", "2",
         "--cold-runs", "1", "--concurrency", "2", "--out", str(out)],
        capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    result = json.loads(run.stdout)
    assert result == json.loads(out.read_text())
    single = result["http_single"]
    assert single["sentences"] == len(SENTENCES) and 0 < single["p50_ms"] <= single["p99_ms"]
    # The server's own account of the request is part of what the client waited for.
    assert 0 < single["server_model_p50_ms"] <= single["server_route_p50_ms"] <= \
        single["p50_ms"]
    assert result["http_concurrent"]["classifications_per_s"] > 0
    cold = result["cold_start"]
    assert cold["serve_to_first_answer_s"] > 0
    assert 0 < cold["lambda_handler"]["import_s"] < cold["lambda_handler"]["first_answer_s"]
    assert result["original_serving_path"]["parameters"] > 60_000_000  # DistilBERT-base
    assert result["speedup_p50"] == round(
        result["original_serving_path"]["p50_ms"] / single["p50_ms"], 1)
    # One pass of the original path per run, between the server's passes: a ratio per run.
    assert len(result["original_serving_path"]["per_run"]) == 2
    assert result["speedup_p50_per_run"] == [
        round(o["p50_ms"] / h["p50_ms"], 1) for o, h in zip(
            result["original_serving_path"]["per_run"], single["per_run"], strict=True)]
    assert "isa" in result["machine"] and "cpu" in result["machine"]

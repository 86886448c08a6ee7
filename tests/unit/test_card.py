"""`newsig model card`: figures come from the JSON files, goals are judged, plots written."""

from __future__ import annotations

import json
from pathlib import Path

from model.card import write_card
from model.protocol import summarise


def _metrics(acc: float, f1: float, fp32: float, wf1: float) -> dict:
    cm = [[60, 8, 5], [3, 420, 15], [6, 20, 153]]
    return {
        "model_version": "abc123", "base_model": "minilm", "train_size": 10600,
        "best_epoch": 3, "train_seconds": 1200.0, "headlines_rows": 9543,
        "config": {"epochs": 5, "max_length": 128, "val_fraction": 0.1,
                   "headlines_val_fraction": 0.15, "patience": 2, "learning_rate": 8e-5,
                   "batch_size": 32, "warmup_ratio": 0.1, "weight_decay": 0.01,
                   "layer_decay": 1.0, "label_smoothing": 0.0},
        "calibration": {"temperature": 1.2, "val_ece_before": 0.04, "val_ece_after": 0.02},
        "test": {"accuracy": acc, "macro_f1": f1, "n": 690, "ece": 0.02,
                 "ece_uncalibrated": 0.03, "confusion_matrix": cm},
        "test_fp32": {"accuracy": fp32, "macro_f1": f1},
        "validation_headlines": {"accuracy": 0.88, "weighted_f1": wf1, "n": 1431, "ece": 0.03,
                                 "ece_uncalibrated": 0.05, "confusion_matrix": cm},
    }


def test_card_reports_figures_goals_and_writes_plots(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "metrics.json").write_text(json.dumps(_metrics(0.9261, 0.9012, 0.9290, 0.871)))
    seeds_dir = tmp_path / "seeds"
    seeds_dir.mkdir()
    runs = [_metrics(a, 0.9, a + 0.002, 0.87) for a in (0.92, 0.93, 0.925)]
    (seeds_dir / "seeds.json").write_text(json.dumps({
        "seeds": [1, 2, 3], "summary": summarise(runs),
        "runs": [{"seed": i + 1, "test_accuracy": m["test"]["accuracy"], "test_macro_f1": 0.9,
                  "headlines_weighted_f1": 0.87, "best_epoch": 3, "train_seconds": 1200}
                 for i, m in enumerate(runs)]}))
    bench = {"speedup_p50": 14.7, "machine": {"cpus": 2},
             "single": {"p50_ms": 3.9, "p90_ms": 6.4, "p99_ms": 8.9, "sentences": 690},
             "batched": {"sentences_per_s": 294.0, "batch_size": 32},
             "original_serving_path": {"p50_ms": 57.7, "p90_ms": 78.4, "p99_ms": 99.5,
                                       "parameters": 66955779}}
    (tmp_path / "bench.json").write_text(json.dumps(bench))
    card = write_card(model, seeds_dir=seeds_dir, bench_file=tmp_path / "bench.json",
                      out=tmp_path / "card" / "MODEL_CARD.md")
    text = card.read_text()
    assert "| PhraseBank canonical test accuracy (int8) | ≥ 95.0% | 92.6% | **not met** |" in text
    assert "| Single-sentence p50 vs the original serving path | ≥ 10x lower | 14.7x | **met** |" \
        in text
    assert "| int8 accuracy cost vs fp32 | ≤ 0.5 point | +0.29 points | **met** |" in text
    assert "92.50 ± 0.50%" in text  # seeds: mean ± sample std of 0.92, 0.93, 0.925
    assert "abc123" in text and "9543 finance news tweets" in text
    assert "Grouped" not in text  # no cv folder given: no section invented
    for name in ("confusion_test.png", "confusion_headlines.png"):
        assert (tmp_path / "card" / "img" / name).read_bytes()[:4] == b"\x89PNG"
    merged = json.loads((model / "metrics.json").read_text())
    assert merged["seeds"]["summary"]["test_accuracy"]["n"] == 3
    assert merged["speed"]["speedup_p50"] == 14.7 and merged["model_version"] == "abc123"

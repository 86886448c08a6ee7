"""`newsig model card`: the card is rendered from the JSON it is given; goals judged in code."""

from __future__ import annotations

import json
from pathlib import Path

from model.card import card_data, write_card
from model.protocol import summarise


def _metrics(acc: float, f1: float, fp32: float, wf1: float) -> dict:
    cm = [[60, 8, 5], [3, 420, 15], [6, 20, 153]]
    return {
        "model_version": "abc123", "base_model": "minilm", "recipe": "distill",
        "train_size": 17047, "best_epoch": 3, "train_seconds": 1200.0,
        "config": {"epochs": 4, "max_length": 128, "val_fraction": 0.1, "split_seed": 42,
                   "headlines_val_fraction": 0.15, "learning_rate": 5e-5, "batch_size": 32,
                   "kd_weight": 0.7, "kd_temperature": 2.0, "quantize_embeddings": True},
        "calibration": {"temperature": 1.2, "val_ece_before": 0.04, "val_ece_after": 0.02},
        "test": {"accuracy": acc, "macro_f1": f1, "n": 690, "ece": 0.02,
                 "ece_uncalibrated": 0.03, "confusion_matrix": cm},
        "test_fp32": {"accuracy": fp32, "macro_f1": f1},
        "validation_headlines": {"accuracy": 0.88, "weighted_f1": wf1, "n": 1431, "ece": 0.03,
                                 "ece_uncalibrated": 0.05, "confusion_matrix": cm},
        "soft_labels": {"rows": 17047, "sources": {"phrasebank_train": 2482},
                        "command": "newsig model teacher label", "date": "2026-12-01",
                        "teacher_agrees_with_gold": 0.97,
                        "teacher_test": {"accuracy": 0.955, "macro_f1": 0.94, "n": 690}},
    }


def _seeds(tmp_path: Path, accs: tuple[float, ...]) -> Path:
    runs = [_metrics(a, 0.92, a + 0.002, 0.88) for a in accs]
    folder = tmp_path / "seeds"
    folder.mkdir()
    (folder / "seeds.json").write_text(json.dumps({
        "seeds": list(range(len(accs))), "summary": summarise(runs),
        "runs": [{"seed": i, "test_accuracy": m["test"]["accuracy"], "test_macro_f1": 0.92,
                  "test_accuracy_fp32": m["test_fp32"]["accuracy"],
                  "headlines_weighted_f1": 0.88, "best_epoch": 3, "train_seconds": 1200}
                 for i, m in enumerate(runs)]}))
    return folder


def test_card_renders_every_figure_from_its_json_and_judges_goals(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "metrics.json").write_text(json.dumps(_metrics(0.9435, 0.921, 0.9450, 0.881)))
    bench = {"speedup_p50": 14.7, "machine": {"cpus": 2, "cpu": "Test CPU"},
             "single": {"p50_ms": 3.9, "p90_ms": 6.4, "p99_ms": 8.9, "sentences": 690},
             "batched": {"sentences_per_s": 294.0, "batch_size": 32},
             "original_serving_path": {"p50_ms": 57.7, "p90_ms": 78.4, "p99_ms": 99.5}}
    (tmp_path / "bench.json").write_text(json.dumps(bench))
    behaviour = {"cases": 1080, "passed": 1060, "pass_rate": 0.9815,
                 "lowest_template": "layoffs", "lowest_pass_rate": 0.7111,
                 "templates": {"layoffs": {"category": "job cuts", "expected": "negative",
                                           "example": "{c} announces layoffs",
                                           "pass_rate": 0.7111}}}
    (tmp_path / "behaviour.json").write_text(json.dumps(behaviour))
    card = write_card(model, out=tmp_path / "card" / "MODEL_CARD.md",
                      seeds_dir=_seeds(tmp_path, (0.94, 0.95, 0.945, 0.944, 0.946)),
                      bench_file=tmp_path / "bench.json",
                      behaviour_file=tmp_path / "behaviour.json")
    text = card.read_text()
    assert "| canonical test accuracy, int8, mean of 5 seeds | ≥ 94.0% (5 seeds) | " \
           "94.50 ± 0.36% | **met** |" in text
    assert "| behavioural suite, lowest template | ≥ 75% | 71.1% (layoffs) | **not met** |" \
        in text
    assert "| one sentence p50 vs the original serving path | ≥ 10x lower | 14.7x | **met** |" \
        in text
    assert "abc123" in text and "Test CPU" in text and "17047 rows" in text
    assert "{{" not in text and "{%" not in text
    data = json.loads((tmp_path / "card" / "card.json").read_text())
    assert data["model"]["test"]["accuracy"] == 0.9435  # the JSON behind every figure
    for name in ("confusion_test.png", "confusion_headlines.png"):
        assert (tmp_path / "card" / "img" / name).read_bytes()[:4] == b"\x89PNG"


def test_fewer_than_five_seeds_never_meets_the_seed_goal(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "metrics.json").write_text(json.dumps(_metrics(0.96, 0.95, 0.96, 0.9)))
    data = card_data(model, seeds_dir=_seeds(tmp_path, (0.96, 0.97)))
    seed_goal = next(g for g in data["goals"] if "mean of 2 seeds" in g["figure"])
    assert seed_goal["met"] is False


def test_a_near_miss_is_not_rounded_up_to_the_goal(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "metrics.json").write_text(json.dumps(_metrics(0.942, 0.93, 0.945, 0.86983)))
    goal = next(g for g in card_data(model)["goals"]
                if g["figure"].startswith("release model: headline"))
    assert goal["measured"] == "0.8698" and goal["met"] is False
    (model / "metrics.json").write_text(json.dumps(_metrics(0.942, 0.93, 0.945, 0.8712)))
    goal = next(g for g in card_data(model)["goals"]
                if g["figure"].startswith("release model: headline"))
    assert goal["measured"] == "0.871" and goal["met"] is True


def _cv(tmp_path: Path, name: str, lr: float, accs: tuple[float, ...]) -> Path:
    runs = [_metrics(a, 0.93, a, 0.86) for a in accs]
    folder = tmp_path / name
    folder.mkdir()
    (folder / "cv.json").write_text(json.dumps({
        "protocol": "distill_kfold", "folds": len(accs), "sentences": 2482,
        "config": {"recipe": "distill", "learning_rate": lr, "kd_temperature": 2.0,
                   "kd_weight": 0.7, "epochs": 3, "seed": 42},
        "summary": summarise(runs), "pooled_test_accuracy": sum(accs) / len(accs)}))
    return folder


def test_card_shows_cross_validated_settings_and_their_paired_comparison(tmp_path: Path
                                                                         ) -> None:
    import pytest

    from core.errors import InvalidInputError

    model = tmp_path / "model"
    model.mkdir()
    (model / "metrics.json").write_text(json.dumps(_metrics(0.94, 0.92, 0.94, 0.86)))
    a = _cv(tmp_path, "cv-a", 5e-5, (0.95, 0.96, 0.97))
    b = _cv(tmp_path, "cv-b", 1e-4, (0.955, 0.965, 0.975))
    compare = {"a": str(a), "b": str(b), "pooled": {
        "n": 2482, "a_accuracy": 0.96, "b_accuracy": 0.965, "a_right_b_wrong": 20,
        "b_right_a_wrong": 32, "mcnemar_p": 0.1263}}
    (tmp_path / "compare.json").write_text(json.dumps(compare))
    text = write_card(model, out=tmp_path / "card" / "MODEL_CARD.md", cv_dirs=[a, b],
                      compare_file=tmp_path / "compare.json").read_text()
    assert f"| `{a}` | distill | 5e-05 | 2.0 | 0.7 | 3 | 2482 | 96.0% | 96.00 ± 1.00% |" in text
    assert f"| `{b}` | distill | 0.0001 | 2.0 | 0.7 | 3 | 2482 | 96.5% | 96.50 ± 1.00% |" in text
    assert "B right where A\nis wrong on 32; exact McNemar p = 0.1263" in text
    (b / "cv.json").unlink()
    with pytest.raises(InvalidInputError, match="has not finished"):
        card_data(model, cv_dirs=[a, b])

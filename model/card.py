"""`newsig model card`: model/MODEL_CARD.md and its plots, rendered from a Jinja2 template.

Every figure comes from the JSON that the commands wrote (the model's metrics.json, `newsig
model seeds`, `teacher train`, `behaviour`, `errors`, `quantization`, `bench classify`).
`card_data` gathers them into one dict, written to model/card.json beside the card, and the
template (model/templates/MODEL_CARD.md.j2) only formats it; goals are judged in code here.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import InvalidInputError
from core.names import LABELS, METRICS_FILE, MODEL_FILE

CARD_DIR = Path(__file__).resolve().parent
TEMPLATE = CARD_DIR / "templates" / "MODEL_CARD.md.j2"
#: The goals of the model issue: release and 5-seed figures, behaviour, speed, size.
GOALS = {"test_accuracy": 0.94, "test_macro_f1": 0.915, "headlines_weighted_f1": 0.87,
         "behaviour_overall": 0.95, "behaviour_lowest": 0.75, "speedup_p50": 10.0,
         "batched_per_s": 150.0, "release_mb": 25.0}


def confusion_png(matrix: list[list[int]], path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m = np.asarray(matrix)
    fig, ax = plt.subplots(figsize=(4.2, 3.8))
    ax.imshow(m / np.maximum(m.sum(axis=1, keepdims=True), 1), cmap="Blues", vmin=0, vmax=1)
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            share = m[i, j] / max(m[i].sum(), 1)
            ax.text(j, i, f"{m[i, j]}\n{share:.0%}", ha="center", va="center", fontsize=9,
                    color="white" if share > 0.6 else "black")
    ax.set_xticks(range(len(LABELS)), LABELS)
    ax.set_yticks(range(len(LABELS)), LABELS)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def pct0(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.0f}%"


def f3(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def f3_against(x: float | None, goal: float) -> str:
    """Three decimals, or four where three would round a miss up to the goal itself."""
    if x is not None and x < goal and round(x, 3) >= goal:
        return f"{x:.4f}"
    return f3(x)


def ms(s: Mapping[str, Any] | None, as_pct: bool = True) -> str:
    if not s:
        return "n/a"
    if as_pct:
        return f"{100 * s['mean']:.2f} ± {100 * s['std']:.2f}"
    return f"{s['mean']:.3f} ± {s['std']:.3f}"


def _goal(figure: str, goal: str, measured: str, met: bool | None) -> dict[str, Any]:
    return {"figure": figure, "goal": goal, "measured": measured, "met": met}


def _at_least(value: float | None, target: float) -> bool | None:
    return None if value is None else value >= target


def goals(data: dict[str, Any]) -> list[dict[str, Any]]:
    m, seeds, beh, bench = data["model"], data.get("seeds"), data.get("behaviour"), \
        data.get("bench")
    s = seeds["summary"] if seeds else {}
    n = len(seeds["seeds"]) if seeds else 0

    def mean(key: str) -> float | None:
        return s[key]["mean"] if key in s else None

    rows = [
        _goal(f"canonical test accuracy, int8, mean of {n} seeds", "≥ 94.0% (5 seeds)",
              ms(s.get("test_accuracy")) + "%" if s else "n/a",
              _at_least(mean("test_accuracy"), GOALS["test_accuracy"]) if n >= 5 else
              (False if n else None)),
        _goal(f"canonical test macro-F1, int8, mean of {n} seeds", "≥ 0.915 (5 seeds)",
              ms(s.get("test_macro_f1"), False) if s else "n/a",
              _at_least(mean("test_macro_f1"), GOALS["test_macro_f1"]) if n >= 5 else
              (False if n else None)),
        _goal(f"headline holdout weighted F1, int8, mean of {n} seeds", "≥ 0.87",
              ms(s.get("headlines_weighted_f1"), False) if s else "n/a",
              _at_least(mean("headlines_weighted_f1"), GOALS["headlines_weighted_f1"])),
        _goal("release model: canonical test accuracy / macro-F1 (int8)", "≥ 94.0% / 0.915",
              f"{pct(m['test'].get('accuracy'))} / {f3(m['test'].get('macro_f1'))}",
              None if m["test"].get("accuracy") is None else
              bool(m["test"]["accuracy"] >= GOALS["test_accuracy"] and
                   m["test"]["macro_f1"] >= GOALS["test_macro_f1"])),
        _goal("release model: headline holdout weighted F1 (int8)", "≥ 0.87",
              f3_against(m["headlines"].get("weighted_f1"), GOALS["headlines_weighted_f1"]),
              _at_least(m["headlines"].get("weighted_f1"), GOALS["headlines_weighted_f1"])),
        _goal("release model file", "≤ 25 MB",
              "n/a" if m.get("size_mb") is None else f"{m['size_mb']} MB",
              None if m.get("size_mb") is None else m["size_mb"] <= GOALS["release_mb"]),
    ]
    if beh:
        rows += [
            _goal("behavioural suite, overall", "≥ 95%", pct(beh["pass_rate"]),
                  beh["pass_rate"] >= GOALS["behaviour_overall"]),
            _goal("behavioural suite, lowest template", "≥ 75%",
                  f"{pct(beh['lowest_pass_rate'])} ({beh['lowest_template']})",
                  beh["lowest_pass_rate"] >= GOALS["behaviour_lowest"]),
        ]
    if bench:
        rows += [
            _goal("one sentence p50 vs the original serving path", "≥ 10x lower",
                  f"{bench['speedup_p50']}x", _at_least(bench["speedup_p50"],
                                                        GOALS["speedup_p50"])),
            _goal("batched throughput", "≥ 150 sentences/s", f"{bench['batched_per_s']}/s",
                  _at_least(bench["batched_per_s"], GOALS["batched_per_s"])),
        ]
    return rows


def _read(path: Path | None) -> Any:
    return json.loads(path.read_text()) if path else None


def _cv_row(folder: Path) -> dict[str, Any]:
    """One k-fold run (`newsig model cv --out folder`): its settings and pooled figures."""
    path = folder / "cv.json"
    if not path.exists():
        raise InvalidInputError(f"{path}: missing (the k-fold run has not finished every fold)")
    cv = json.loads(path.read_text())
    cfg = cv.get("config", {})
    return {"folder": str(folder), "protocol": cv["protocol"], "folds": cv["folds"],
            "sentences": cv["sentences"], "pooled_test_accuracy": cv.get("pooled_test_accuracy"),
            "summary": cv["summary"],
            **{k: cfg.get(k) for k in ("recipe", "learning_rate", "kd_temperature",
                                       "kd_weight", "epochs", "seed")}}


def card_data(model_dir: Path, *, seeds_dir: Path | None = None, bench_file: Path | None = None,
              teacher_file: Path | None = None, behaviour_file: Path | None = None,
              errors_file: Path | None = None, quantization_file: Path | None = None,
              cv_dirs: list[Path] | None = None, compare_file: Path | None = None
              ) -> dict[str, Any]:
    """Every figure the card shows, with the files it came from."""
    from model.analysis import agreement_stratum
    from model.data import FPB_TEST, TWITTER_LABELS, TWITTER_TRAIN, load_labelled_csv

    metrics = json.loads((model_dir / METRICS_FILE).read_text())
    cfg = metrics.get("config", {})
    onnx = model_dir / MODEL_FILE
    test_x = load_labelled_csv(FPB_TEST)[0]
    strata = agreement_stratum(test_x)
    model = {
        "model_version": metrics.get("model_version"), "recipe": metrics.get("recipe",
                                                                             "finetune"),
        "base_model": metrics.get("base_model"), "train_size": metrics.get("train_size"),
        "best_epoch": metrics.get("best_epoch"), "train_seconds": metrics.get("train_seconds"),
        "size_mb": round(onnx.stat().st_size / 1e6, 1) if onnx.exists() else None,
        "test": metrics.get("test", {}), "test_fp32": metrics.get("test_fp32", {}),
        "headlines": metrics.get("validation_headlines", {}),
        "calibration": metrics.get("calibration", {}), "test_n": len(test_x),
        **{k: cfg.get(k) for k in ("epochs", "max_length", "val_fraction", "split_seed",
                                   "headlines_val_fraction", "kd_weight", "kd_temperature",
                                   "learning_rate", "batch_size", "quantize_embeddings")},
    }
    soft = metrics.get("soft_labels")
    seeds = _read(seeds_dir / "seeds.json") if seeds_dir else None
    teacher = _read(teacher_file)
    if teacher:
        teacher = {**teacher, "sha256": teacher.get("sha256", ""),
                   "test": (soft or {}).get("teacher_test"),
                   **{k: teacher.get("config", {}).get(k) for k in
                      ("learning_rate", "batch_size", "epochs")}}
    behaviour = _read(behaviour_file)
    if behaviour:
        from model.behaviour import COMPANIES

        behaviour["companies"] = len(COMPANIES)
    bench = _read(bench_file)
    if bench:
        bench = {"cpus": bench["machine"]["cpus"], "cpu": bench["machine"].get("cpu", "CPU"),
                 "sentences": bench["single"]["sentences"], "single": bench["single"],
                 "original": bench.get("original_serving_path", {}),
                 "speedup_p50": bench.get("speedup_p50"),
                 "batched_per_s": bench["batched"]["sentences_per_s"]}
    cv = [_cv_row(d) for d in cv_dirs or []]
    data: dict[str, Any] = {
        "machine": metrics.get("machine", "this machine's 2 CPU cores"),
        "cv": cv, "compare": _read(compare_file),
        "model": model, "soft": soft, "seeds": seeds, "teacher": teacher,
        "behaviour": behaviour, "errors": _read(errors_file),
        "quantization": _read(quantization_file), "bench": bench,
        "data": {"headlines_rows": len(load_labelled_csv(TWITTER_TRAIN,
                                                         numeric=TWITTER_LABELS)[0])},
        "strata_test": f"{strata.count('100%')} with 100% annotator agreement, "
                       f"{strata.count('75-99%')} with 75-99%",
        "sources": {k: str(v) for k, v in {
            "metrics": model_dir / METRICS_FILE, "seeds": seeds_dir, "bench": bench_file,
            "teacher": teacher_file, "behaviour": behaviour_file, "errors": errors_file,
            "quantization": quantization_file, "compare": compare_file,
            **{f"cv {i + 1}": d for i, d in enumerate(cv_dirs or [])}}.items()
            if v is not None},
    }
    data["goals"] = goals(data)
    return data


def render(data: dict[str, Any]) -> str:
    from jinja2 import Environment, StrictUndefined

    env = Environment(undefined=StrictUndefined, keep_trailing_newline=True,
                      trim_blocks=True, lstrip_blocks=True, autoescape=False)
    env.globals.update(pct=pct, pct0=pct0, f3=f3, ms=ms)
    return env.from_string(TEMPLATE.read_text()).render(**data)


TIERS_FILE = CARD_DIR / "tiers.json"


def add_tiers(card_json: Path = CARD_DIR / "card.json", tiers_file: Path = TIERS_FILE,
              curve_png: Path | None = None) -> Path:
    """Re-render the card from its own card.json (every figure it shows is there, so no other
    input is needed) with the tier table of `newsig model cascade` added."""
    data = json.loads(card_json.read_text())
    data["tiers"] = json.loads(tiers_file.read_text())
    data["tiers_source"] = str(tiers_file.relative_to(CARD_DIR.parent)) \
        if tiers_file.is_relative_to(CARD_DIR.parent) else str(tiers_file)
    data.setdefault("sources", {})["tiers"] = data["tiers_source"]
    if curve_png is not None:
        (card_json.parent / "img").mkdir(exist_ok=True)
        shutil.copyfile(curve_png, card_json.parent / "img" / "cascade_curve.png")
    out = card_json.with_name("MODEL_CARD.md")
    out.write_text(render(data))
    card_json.write_text(json.dumps(data, indent=2, default=str) + "\n")
    return out


def write_card(model_dir: Path, *, out: Path = CARD_DIR / "MODEL_CARD.md",
               **inputs: Any) -> Path:
    data = card_data(model_dir, **inputs)
    img = out.parent / "img"
    img.mkdir(parents=True, exist_ok=True)
    if data["model"]["test"].get("confusion_matrix"):
        confusion_png(data["model"]["test"]["confusion_matrix"], img / "confusion_test.png",
                      "PhraseBank canonical test (int8)")
    if data["model"]["headlines"].get("confusion_matrix"):
        confusion_png(data["model"]["headlines"]["confusion_matrix"],
                      img / "confusion_headlines.png", "Headline holdout (int8)")
    for src, dst in (("reliability.png", "reliability_test.png"),
                     ("reliability_headlines.png", "reliability_headlines.png")):
        if (model_dir / src).exists():
            shutil.copyfile(model_dir / src, img / dst)
    out.write_text(render(data))
    out.with_name("card.json").write_text(json.dumps(data, indent=2, default=str) + "\n")
    return out

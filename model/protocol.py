"""Honest figures: the same recipe over several seeds, and a grouped k-fold estimate on the
PhraseBank that keeps near-duplicate sentences (same text once numbers are masked) in one fold.

Both write one model folder per run under OUT and a JSON summary; a run whose folder already
holds metrics.json for the same configuration is reused, so an interrupted protocol resumes.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from core.names import METRICS_FILE
from model.data import (
    FPB_DIR,
    grouped_folds,
    load_phrasebank_txt,
    near_duplicate_key,
    repo_relative,
    write_labelled_csv,
)
from model.train import TrainConfig, train

FPB_75AGREE = FPB_DIR / "Sentences_75Agree.txt"

#: Figures summarised over runs: (name in the summary, path into metrics.json).
FIGURES: dict[str, tuple[str, ...]] = {
    "test_accuracy": ("test", "accuracy"),
    "test_macro_f1": ("test", "macro_f1"),
    "test_accuracy_fp32": ("test_fp32", "accuracy"),
    "test_ece": ("test", "ece"),
    "headlines_weighted_f1": ("validation_headlines", "weighted_f1"),
    "headlines_accuracy": ("validation_headlines", "accuracy"),
    "best_epoch": ("best_epoch",),
    "train_seconds": ("train_seconds",),
}


def _get(metrics: dict, path: tuple[str, ...]) -> float | None:
    value: Any = metrics
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return float(value) if isinstance(value, int | float) else None


def summarise(runs: list[dict]) -> dict[str, dict[str, float]]:
    """Mean, standard deviation (sample), min and max of each figure over the runs."""
    out: dict[str, dict[str, float]] = {}
    for name, path in FIGURES.items():
        values = [v for v in (_get(m, path) for m in runs) if v is not None]
        if not values:
            continue
        out[name] = {"mean": round(statistics.fmean(values), 4),
                     "std": round(statistics.stdev(values), 4) if len(values) > 1 else 0.0,
                     "min": round(min(values), 4), "max": round(max(values), 4),
                     "n": len(values)}
    return out


def _run(cfg: TrainConfig, log: Callable[[str], None]) -> dict:
    """Train unless cfg.out_dir already holds the metrics of this very configuration."""
    done = cfg.out_dir / METRICS_FILE
    ignored = {"progress", "threads", "out_dir"}  # a copied run folder is still that run
    # Tracked metrics record repo-relative paths (model.data.repo_relative): compare alike.
    wanted = repo_relative(json.loads(cfg.model_dump_json(exclude=ignored)))
    assert isinstance(wanted, dict)
    if done.exists():
        metrics = json.loads(done.read_text())
        saved = {k: v for k, v in metrics.get("config", {}).items() if k not in ignored}
        # An option added since that run was made is that run's if it is at its default.
        for name, value in wanted.items():
            field = TrainConfig.model_fields[name]
            if name not in saved and value == field.default and field.default is None:
                saved[name] = value
        if saved == wanted:
            log(f"reusing {cfg.out_dir}")
            return metrics
    log(f"training {cfg.out_dir}")
    return train(cfg)


def _compact(metrics: dict) -> dict:
    return {name: _get(metrics, path) for name, path in FIGURES.items()} | {
        "model_version": metrics.get("model_version")}


def seeds_protocol(base: TrainConfig, seeds: Sequence[int], out: Path,
                   log: Callable[[str], None] = print) -> dict:
    """The given recipe once per seed (the seed drives initialisation and batch order; the
    validation split is fixed by `split_seed`). seeds.json is rewritten after every finished
    seed, with `complete` false until all are done, so a cut-off protocol still reports."""
    out.mkdir(parents=True, exist_ok=True)
    runs: list[tuple[int, dict]] = []
    result: dict = {}
    for seed in seeds:
        cfg = base.model_copy(update={"seed": seed, "out_dir": out / f"seed-{seed}"})
        runs.append((seed, _run(cfg, log)))
        result = seeds_summary(base, seeds, runs)
        (out / "seeds.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def seeds_summary(base: TrainConfig, seeds: Sequence[int], runs: list[tuple[int, dict]]
                  ) -> dict:
    done = [s for s, _ in runs]
    return {"protocol": "seeds", "seeds": done, "planned": list(seeds),
            "complete": done == list(seeds),
            "config": json.loads(base.model_dump_json(exclude={"out_dir", "seed"})),
            "summary": summarise([m for _, m in runs]),
            "runs": [{"seed": s} | _compact(m) for s, m in runs]}


def grouped_cv(base: TrainConfig, folds: int, out: Path, *, source: Path = FPB_75AGREE,
               only: Sequence[int] | None = None, log: Callable[[str], None] = print) -> dict:
    """k-fold over all of Sentences_75Agree: each fold is the test set once, the model trains
    on the others (validation carved from them as usual), near-duplicates kept together.

    `only` trains just those folds (to spread folds over processes); the summary then covers
    the folds finished so far and cv.json is written once all are."""
    texts, labels = load_phrasebank_txt(source)
    fold_of = grouped_folds(texts, folds, base.seed)
    out.mkdir(parents=True, exist_ok=True)
    runs = []
    for k in range(folds):
        if only is not None and k not in only:
            done = out / f"fold-{k}" / "model" / METRICS_FILE
            if done.exists():
                runs.append((k, json.loads(done.read_text())))
            continue
        fold_dir = out / f"fold-{k}"
        fold_dir.mkdir(parents=True, exist_ok=True)
        train_csv = write_labelled_csv(
            fold_dir / "train.csv", [t for t, f in zip(texts, fold_of, strict=True) if f != k],
            [y for y, f in zip(labels, fold_of, strict=True) if f != k])
        test_csv = write_labelled_csv(
            fold_dir / "test.csv", [t for t, f in zip(texts, fold_of, strict=True) if f == k],
            [y for y, f in zip(labels, fold_of, strict=True) if f == k])
        cfg = base.model_copy(update={"train_csv": train_csv, "test_csv": test_csv,
                                      "out_dir": fold_dir / "model"})
        runs.append((k, _run(cfg, log)))
    return _cv_result("grouped_kfold", base, folds, source, texts, runs, out)


def _cv_result(protocol: str, base: TrainConfig, folds: int, source: Path, texts: list[str],
               runs: list[tuple[int, dict]], out: Path) -> dict:
    """The folds' summary; cv.json is written once every fold is done."""
    result = {"protocol": protocol, "folds": folds, "source": str(source),
              "sentences": len(texts), "groups": len(set(map(near_duplicate_key, texts))),
              "config": json.loads(base.model_dump_json(
                  exclude={"out_dir", "train_csv", "test_csv"})),
              "summary": summarise([m for _, m in runs]),
              "pooled_test_accuracy": _pooled_accuracy([m for _, m in runs]),
              "runs": [{"fold": k, "test_size": m.get("test", {}).get("n")} | _compact(m)
                       for k, m in runs]}
    if len(runs) == folds:
        (out / "cv.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def distill_cv(base: TrainConfig, folds: int, out: Path, *,
               only: Sequence[int] | None = None, log: Callable[[str], None] = print) -> dict:
    """k-fold over the PhraseBank train sentences of the soft-label file (the distill recipe's
    own training part; the canonical test and the validation split are never touched).

    Each fold's sentences become its test set and leave the soft labels together with their
    near-duplicates and augmented variants (model.distill.without_sentences); the student
    trains on the rest as usual, validation unchanged. For choosing recipe settings (two
    settings, the same folds and seed: a paired comparison) without looking at the test.
    Fold accuracy is not the model's accuracy (each fold's student learns from a third fewer
    PhraseBank sentences, and the teacher behind the soft labels saw the fold's sentences in
    its own training): compare settings with it, do not quote it as a test figure."""
    from model.distill import TransferSet, read_soft_labels, without_sentences, write_soft_labels

    soft = read_soft_labels(base.soft_labels)
    pb = [(t, g) for t, s, g in zip(soft.texts, soft.sources, soft.gold, strict=True)
          if s == "phrasebank_train" and g is not None]
    texts = [t for t, _ in pb]
    fold_of = grouped_folds(texts, folds, base.seed)
    out.mkdir(parents=True, exist_ok=True)
    runs: list[tuple[int, dict]] = []
    for k in range(folds):
        fold_dir = out / f"fold-{k}"
        if only is not None and k not in only:
            done = fold_dir / "model" / METRICS_FILE
            if done.exists():
                runs.append((k, json.loads(done.read_text())))
            continue
        held = [(t, g) for (t, g), f in zip(pb, fold_of, strict=True) if f == k]
        kept, dropped = without_sentences(soft, {t for t, _ in held})
        soft_csv = write_soft_labels(
            fold_dir / "soft_labels.csv", TransferSet(kept.texts, kept.sources, kept.gold),
            kept.probs, {**{k2: v for k2, v in soft.provenance.items()
                            if k2 not in ("rows", "sources", "file")},
                         "cv": {"from": str(base.soft_labels), "fold": k, "folds": folds,
                                "seed": base.seed, "dropped": dropped}})
        test_csv = write_labelled_csv(fold_dir / "test.csv", [t for t, _ in held],
                                      [str(g) for _, g in held])
        cfg = base.model_copy(update={"soft_labels": soft_csv, "test_csv": test_csv,
                                      "out_dir": fold_dir / "model"})
        runs.append((k, _run(cfg, log)))
    return _cv_result("distill_kfold", base, folds, base.soft_labels, texts, runs, out)


def _pooled_accuracy(runs: list[dict]) -> float | None:
    """Correct answers over all folds' test sentences (folds differ in size by a group)."""
    n = sum(int(m.get("test", {}).get("n", 0)) for m in runs)
    if not n:
        return None
    return round(sum(m["test"]["accuracy"] * m["test"]["n"] for m in runs) / n, 4)

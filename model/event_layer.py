"""`newsig model event-layer`: fit the event layer (core.adapters.event_layer) of one model
and decide by the rule in docs/events.md ("The event layer"), written before its runs.

Fitted on every tagged text of the model's training data (the PhraseBank train part and the
headline train part, annotated labels) and the event training data (policy labels); decided
on validation only (PhraseBank carve-out, headline validation part, event validation rows).
The layer is written into the model folder when the rule adopts it (and the folder's
model_version, and metrics.json where there is one, follow); otherwise a layer already there
is removed, so the folder serves what the rule chose."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.adapters.event_layer import LAYER_FILE, EventLayer
from core.names import LABELS

#: Fixed before the runs (docs/events.md): the penalties tried, strongest last.
L2_GRID = (0.01, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
L2 = L2_GRID[0]
MAX_FPB_DROP = 0.003
MAX_HEADLINES_DROP = 0.005


def fit(probs: np.ndarray, labels: Sequence[str], tags: Sequence[Sequence[str]],
        l2: float = L2) -> EventLayer:
    """b_k per kind minimising the summed cross-entropy of softmax(log p + Σ b_k) + l2 Σ‖b_k‖²
    (the penalty against the sum, not the mean: a kind has about 70 of 3,000 texts)."""
    from scipy.optimize import minimize

    kinds = sorted({k for ks in tags for k in ks})
    if not kinds:
        return EventLayer({})
    index = {k: i for i, k in enumerate(kinds)}
    rows = [i for i, ks in enumerate(tags) if ks]
    logp = np.log(np.clip(probs[rows], 1e-12, 1.0))
    y = np.array([LABELS.index(labels[i]) for i in rows])
    member = np.zeros((len(rows), len(kinds)))
    for r, i in enumerate(rows):
        for k in set(tags[i]):
            member[r, index[k]] = 1.0
    onehot = np.eye(len(LABELS))[y]
    n = len(rows)

    def loss(flat: np.ndarray) -> tuple[float, np.ndarray]:
        b = flat.reshape(len(kinds), len(LABELS))
        z = logp + member @ b
        z = z - z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        ce = -np.log(np.clip(p[np.arange(n), y], 1e-12, 1.0)).sum()
        grad = member.T @ (p - onehot) + 2 * l2 * b
        return float(ce + l2 * (b ** 2).sum()), grad.ravel()

    res = minimize(loss, np.zeros(len(kinds) * len(LABELS)), jac=True, method="L-BFGS-B")
    b = res.x.reshape(len(kinds), len(LABELS))
    return EventLayer({k: (float(b[index[k], 0]), float(b[index[k], 1]), float(b[index[k], 2]))
                       for k in kinds})


def _labels_of(probs: np.ndarray) -> list[str]:
    return [LABELS[i] for i in probs.argmax(axis=1)]


def decide(before: dict[str, float], after: dict[str, float]) -> tuple[bool, str]:
    """The rule: event validation up, PhraseBank and headline validation within bounds."""
    why = []
    if after["events_validation"] <= before["events_validation"]:
        why.append("event validation did not rise")
    if after["val_phrasebank_accuracy"] < before["val_phrasebank_accuracy"] - MAX_FPB_DROP:
        why.append(f"PhraseBank validation fell by more than {MAX_FPB_DROP}")
    if (after["val_headlines_weighted_f1"]
            < before["val_headlines_weighted_f1"] - MAX_HEADLINES_DROP):
        why.append(f"headline validation weighted F1 fell by more than {MAX_HEADLINES_DROP}")
    return (not why), ("; ".join(why) or "event validation rose within the bounds")


def run(model_dir: Path, *, progress: bool = True,
        grid: Sequence[float] = L2_GRID) -> dict[str, Any]:
    """Fit, decide, and write (or remove) the layer in model_dir; returns the report."""
    from tqdm import tqdm

    from core.adapters.onnx_classifier import OnnxClassifier
    from core.events import tag_cached
    from model.data import FPB_TEST, SplitConfig, load_labelled_csv, load_training_data
    from model.event_data import run_event_suite, training_rows, validation_rows
    from model.metrics import classification_metrics

    model_dir = Path(model_dir)
    (model_dir / LAYER_FILE).unlink(missing_ok=True)  # from here on the folder is the model
    _rewrite_version(model_dir)                       # alone, until the rule decides
    clf = OnnxClassifier(model_dir, spin=False)
    data = load_training_data(SplitConfig())
    train_texts, train_labels = data["train"]
    tagged = [i for i, t in enumerate(train_texts) if tag_cached(t)]
    events = training_rows()
    fit_texts = [train_texts[i] for i in tagged] + [t for t, _, _ in events]
    fit_labels = [train_labels[i] for i in tagged] + [y for _, y, _ in events]
    val_rows = validation_rows()
    sets = {"fit": (fit_texts, fit_labels),
            "val_phrasebank": data["val_phrasebank"], "val_headlines": data["val_headlines"],
            "events_validation": ([t for t, _, _ in val_rows], [y for _, y, _ in val_rows])}
    probs: dict[str, np.ndarray] = {}
    with tqdm(total=sum(len(t) for t, _ in sets.values()), desc="event layer", unit="text",
              disable=not progress) as bar:
        for name, (texts, _) in sets.items():
            out = []
            for i in range(0, len(texts), 64):
                out += [p.probabilities.as_list() for p in clf.classify(texts[i:i + 64])]
                bar.update(len(texts[i:i + 64]))
            probs[name] = np.asarray(out)

    fit_tags = [tag_cached(t) for t in fit_texts]

    def scores(use: EventLayer | None) -> dict[str, float]:
        def adj(name: str) -> list[str]:
            p = probs[name]
            return _labels_of(use.adjust(sets[name][0], p) if use else p)
        pb = classification_metrics(sets["val_phrasebank"][1], adj("val_phrasebank"))
        hl = classification_metrics(sets["val_headlines"][1], adj("val_headlines"))
        ev = adj("events_validation")
        gold = sets["events_validation"][1]
        return {"val_phrasebank_accuracy": round(pb["accuracy"], 4),
                "val_headlines_weighted_f1": round(hl["weighted_f1"], 4),
                "events_validation": round(float(np.mean([a == b for a, b in
                                                          zip(ev, gold, strict=True)])), 4)}

    before = scores(None)
    candidates = []
    for l2 in grid:
        layer = fit(probs["fit"], fit_labels, fit_tags, l2)
        after = scores(layer)
        ok, why = decide(before, after)
        candidates.append((l2, layer, after, ok, why))
    # The rule: of the penalties that pass, the highest event validation (the stronger
    # penalty on a tie); none passing, no layer.
    passing = [c for c in candidates if c[3]]
    best = max(passing, key=lambda c: (c[2]["events_validation"], c[0])) if passing else None
    report: dict[str, Any] = {
        "model_dir": str(model_dir), "model_version_without": clf.model_version,
        "fit_texts": len(fit_texts), "fit_tagged_real": len(tagged),
        "fit_event_rows": len(events), "validation_without": before,
        "candidates": [{"l2": c[0], **c[2], "passes": c[3], "why": c[4]} for c in candidates],
        "adopted": best is not None, "l2": best[0] if best else None,
        "why": (f"l2 {best[0]:g}: {best[4]}" if best
                else "no penalty in the grid keeps validation within the bounds")}
    layer = best[1] if best else EventLayer({})

    if best is not None:
        layer.save(model_dir, {k: v for k, v in report.items() if k != "model_dir"})
    version = _rewrite_version(model_dir)
    report["model_version"] = version
    # Measured once, after the decision: the canonical test and the event suite, as served.
    served = OnnxClassifier(model_dir, spin=False)
    test_texts, test_labels = load_labelled_csv(FPB_TEST)
    test = classification_metrics(test_labels, [p.label.value for p in
                                                served.classify(test_texts)])
    suite = run_event_suite(served.classify)
    report["test_accuracy"] = round(test["accuracy"], 4)
    report["test_macro_f1"] = round(test["macro_f1"], 4)
    report["suite"] = {k: suite[k] for k in ("pass_rate", "kinds_at_least_90", "kinds",
                                              "lowest_kind", "lowest_pass_rate")}
    report["suite"]["kinds_below_15_of_18"] = sorted(
        k for k, r in suite["per_kind"].items() if r["companies_passed"] < 15)
    _update_metrics(model_dir, version, report, test)
    return report


def _rewrite_version(model_dir: Path) -> str:
    from model.export import write_model_version

    return write_model_version(model_dir)


def _update_metrics(model_dir: Path, version: str, report: dict[str, Any],
                    test: dict[str, Any]) -> None:
    path = model_dir / "metrics.json"
    if not path.exists():
        return
    metrics = json.loads(path.read_text())
    metrics["model_version"] = version
    for key in ("accuracy", "macro_f1", "weighted_f1", "per_label", "confusion_matrix"):
        if key in test:  # as served, with or without the layer
            metrics.setdefault("test", {})[key] = test[key]
    metrics["event_layer"] = {k: v for k, v in report.items() if k != "model_dir"}
    path.write_text(json.dumps(metrics, indent=2) + "\n")

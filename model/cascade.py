"""The accurate tier's threshold and figures (`newsig model cascade`).

The rule (docs/model.md, "Accurate tier"), fixed before any run:
1. The threshold for an escalation rate r is the r-quantile of the student's top probability
   over the validation texts (PhraseBank validation + headline validation): no labels are
   needed to set it, only to judge it.
2. Candidates r = 10, 15, 20, 25, 30 %; the smallest whose cascade on validation reaches
   PhraseBank accuracy >= 95.5 % and headline weighted F1 >= 0.90 is chosen; if none does,
   30 % (the most the latency budget, 3x the fast tier's mean, allows with a teacher about
   5x slower than the student).
3. The canonical test, the headline validation, the event suite and the latency per tier are
   then reported for the student, the teacher and the cascade at that threshold.

The cascade is simulated offline from both models' probabilities on every text (each text is
classified on its own, so this is exactly what the online cascade answers; a test holds the
two equal), which also draws the accuracy/escalation curve.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.models import Prediction, Sentiment

CANDIDATES = (0.10, 0.15, 0.20, 0.25, 0.30)
GOAL_FPB, GOAL_HEADLINES = 0.955, 0.90


def top_probability(preds: Sequence[Prediction]) -> np.ndarray:
    return np.array([max(p.probabilities.as_list()) for p in preds])


def threshold_for(confidence: np.ndarray, rate: float) -> float:
    """The top-probability threshold below which `rate` of these texts escalate."""
    if rate <= 0:
        return 0.0
    return float(np.quantile(confidence, rate, method="higher")) + 1e-12


def combine(texts: Sequence[str], fast: Sequence[Prediction], slow: Sequence[Prediction],
            threshold: float, *, events: bool = True) -> tuple[list[str], float]:
    """The cascade's labels and its escalation rate (the rule of CascadeClassifier)."""
    from core.adapters.cascade import CascadeClassifier

    class _Fixed:
        model_version = "offline"

        def classify(self, xs: Sequence[str]) -> list[Prediction]:  # pragma: no cover
            raise NotImplementedError

    rule = CascadeClassifier(_Fixed(), _Fixed(), threshold=threshold, events=events)
    idx = set(rule.escalate(texts, fast))
    rule.close()
    labels = [(slow[i] if i in idx else fast[i]).label.value for i in range(len(texts))]
    return labels, len(idx) / max(1, len(texts))


def _scores(gold: Sequence[str], pred: Sequence[str]) -> dict[str, float]:
    from model.metrics import classification_metrics

    m = classification_metrics(gold, pred)
    return {"accuracy": round(m["accuracy"], 4), "macro_f1": round(m["macro_f1"], 4),
            "weighted_f1": round(m["weighted_f1"], 4), "n": m["n"]}


def latency(classify: Any, texts: Sequence[str], runs: int = 1) -> dict[str, float]:
    """One headline per call, as a request brings it: mean, p50, p99 in milliseconds."""
    ms = []
    for _ in range(runs):
        for t in texts:
            started = time.perf_counter()
            classify([t])
            ms.append((time.perf_counter() - started) * 1000)
    ms.sort()
    return {"mean_ms": round(statistics.fmean(ms), 3), "p50_ms": round(ms[len(ms) // 2], 3),
            "p99_ms": round(ms[min(len(ms) - 1, int(len(ms) * 0.99))], 3), "calls": len(ms)}


def evaluate_cascade(student_dir: Path, teacher_dir: Path, *, out: Path | None = None,
                     latency_texts: int = 300, progress: bool = True) -> dict[str, Any]:
    from tqdm import tqdm

    from core.adapters.cascade import CASCADE_FILE, CascadeClassifier, check_teacher_dir
    from core.adapters.onnx_classifier import OnnxClassifier
    from model.data import FPB_TEST, SplitConfig, load_labelled_csv, load_training_data
    from model.event_data import run_event_suite, suite_cases

    info = check_teacher_dir(teacher_dir)
    student = OnnxClassifier(student_dir)
    teacher = OnnxClassifier(teacher_dir, spin=False)
    data = load_training_data(SplitConfig())
    sets = {"val_phrasebank": data["val_phrasebank"], "val_headlines": data["val_headlines"],
            "test": load_labelled_csv(FPB_TEST)}
    events = [text for _, _, text in suite_cases()]
    probs: dict[str, dict[str, list[Prediction]]] = {"student": {}, "teacher": {}}
    jobs = [(who, name, texts) for who in ("student", "teacher")
            for name, texts in [*((k, v[0]) for k, v in sets.items()), ("events", events)]]
    with tqdm(total=sum(len(t) for *_, t in jobs), desc="cascade", unit="text",
              disable=not progress) as bar:
        for who, name, texts in jobs:
            clf = student if who == "student" else teacher
            preds = []
            for i in range(0, len(texts), 64):
                preds += clf.classify(texts[i:i + 64])
                bar.update(len(texts[i:i + 64]))
            probs[who][name] = preds

    val_texts = sets["val_phrasebank"][0] + sets["val_headlines"][0]
    val_conf = top_probability(probs["student"]["val_phrasebank"]
                               + probs["student"]["val_headlines"])

    def cascade_on(name: str, threshold: float) -> tuple[list[str], float]:
        texts = sets[name][0] if name in sets else events
        return combine(texts, probs["student"][name], probs["teacher"][name], threshold)

    candidates = []
    for rate in CANDIDATES:
        t = threshold_for(val_conf, rate)
        pb, pb_rate = cascade_on("val_phrasebank", t)
        hl, hl_rate = cascade_on("val_headlines", t)
        n = len(val_texts)
        candidates.append({
            "rate": rate, "threshold": round(t, 6),
            "escalated_validation": round((pb_rate * len(pb) + hl_rate * len(hl)) / n, 4),
            "val_phrasebank_accuracy": _scores(sets["val_phrasebank"][1], pb)["accuracy"],
            "val_headlines_weighted_f1": _scores(sets["val_headlines"][1], hl)["weighted_f1"]})
    meets = [c for c in candidates if c["val_phrasebank_accuracy"] >= GOAL_FPB
             and c["val_headlines_weighted_f1"] >= GOAL_HEADLINES]
    chosen = meets[0] if meets else candidates[-1]
    threshold = chosen["threshold"]

    def figures(labels_of: Any) -> dict[str, Any]:
        out_ = {}
        for name in ("test", "val_headlines"):
            labels, rate = labels_of(name)
            out_[name] = {**_scores(sets[name][1], labels), "escalated": rate}
        return out_

    def suite(preds: list[Prediction]) -> dict[str, Any]:
        r = run_event_suite(lambda _texts: preds)
        return {k: r[k] for k in ("pass_rate", "kinds_at_least_90", "kinds", "lowest_kind",
                                  "lowest_pass_rate")} | {
            "per_kind": {k: {"pass_rate": v["pass_rate"], "companies_passed":
                             v["companies_passed"]} for k, v in r["per_kind"].items()}}

    def label_preds(name: str, who: str) -> tuple[list[str], float]:
        return [p.label.value for p in probs[who][name]], 0.0

    cascade_event_preds = []
    ev_labels, ev_rate = cascade_on("events", threshold)
    for p, lab in zip(probs["student"]["events"], ev_labels, strict=True):
        cascade_event_preds.append(p.model_copy(update={"label": Sentiment(lab)}))
    tiers: dict[str, Any] = {
        "student": {**figures(lambda n: label_preds(n, "student")),
                    "events": suite(probs["student"]["events"])},
        "teacher": {**figures(lambda n: label_preds(n, "teacher")),
                    "events": suite(probs["teacher"]["events"])},
        "cascade": {**figures(lambda n: cascade_on(n, threshold)),
                    "events": {**suite(cascade_event_preds), "escalated": round(ev_rate, 4)}},
    }
    # The curve: accuracy on the canonical test and weighted F1 on the headline validation
    # by escalation rate (confidence order only, and with the event rule).
    curve = []
    for rate in np.linspace(0, 1, 41):
        t = threshold_for(val_conf, float(rate))
        test_l, test_r = cascade_on("test", t)
        hl_l, hl_r = cascade_on("val_headlines", t)
        curve.append({"rate": round(float(rate), 3), "threshold": round(t, 6),
                      "test_escalated": round(test_r, 4),
                      "test_accuracy": _scores(sets["test"][1], test_l)["accuracy"],
                      "headlines_escalated": round(hl_r, 4),
                      "headlines_weighted_f1": _scores(sets["val_headlines"][1],
                                                       hl_l)["weighted_f1"]})
    # Latency per tier: one headline per call, test sentences, both models warm.
    sample = sets["test"][0][:latency_texts]
    cascade = CascadeClassifier(student, teacher, threshold=threshold)
    for warm in (student.classify, teacher.classify, cascade.classify):
        warm(sample[:20])
    lat: dict[str, Any] = {"fast": latency(student.classify, sample),
                           "teacher": latency(teacher.classify, sample),
                           "accurate": latency(cascade.classify, sample)}
    lat["accurate_over_fast_mean"] = round(lat["accurate"]["mean_ms"] / lat["fast"]["mean_ms"],
                                           3)
    cascade.close()
    from model.data import repo_relative

    home = str(Path.home())
    result = {"student": {"dir": str(repo_relative(str(Path(student_dir).resolve()))),
                          "model_version": student.model_version},
              "teacher": {"dir": str(teacher_dir).replace(home, "~", 1),
                          "model_version": teacher.model_version,
                          "epoch": info.get("epoch"), "bytes": info.get("bytes")},
              "rule": {"candidates": candidates, "chosen_rate": chosen["rate"],
                       "met_goals_on_validation": bool(meets), "threshold": threshold},
              "tiers": tiers, "latency": lat, "curve": curve}
    (teacher_dir / CASCADE_FILE).write_text(json.dumps(
        {"threshold": threshold, "rate": chosen["rate"], "student": student.model_version,
         "teacher": teacher.model_version}, indent=2) + "\n")
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "cascade.json").write_text(json.dumps(result, indent=2) + "\n")
        plot_curve(curve, chosen["rate"], out / "cascade_curve.png")
    return result


def plot_curve(curve: list[dict[str, Any]], chosen_rate: float, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    ax.plot([c["test_escalated"] * 100 for c in curve], [c["test_accuracy"] * 100 for c in curve],
            marker=".", label="PhraseBank test accuracy (%)")
    ax.plot([c["headlines_escalated"] * 100 for c in curve],
            [c["headlines_weighted_f1"] * 100 for c in curve], marker=".",
            label="headline validation weighted F1 (x100)")
    ax.axvline(chosen_rate * 100, color="grey", linestyle="--", linewidth=1,
               label=f"chosen: {chosen_rate:.0%} of validation")
    ax.axhline(95.5, color="tab:blue", linestyle=":", linewidth=1)
    ax.axhline(90.0, color="tab:orange", linestyle=":", linewidth=1)
    ax.set_xlabel("headlines sent to the teacher (%)")
    ax.set_ylabel("score")
    ax.set_title("Accurate tier: accuracy against escalation")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path

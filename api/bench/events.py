"""`newsig bench events`: the event tagger and the event suite.

- Tagger: precision and recall over all kinds and per kind on the development set and on the
  holdout (model/data/events/), and the time to tag a headline (p50, p99 over the two sets,
  median of `runs`).
- Suite (model/event_data.py, 46 kinds x 2 templates x 18 companies): pass rate per kind and
  companies passed per kind, for the fast tier (the student) and, where a teacher is built,
  the teacher alone and the accurate tier (the cascade at its threshold).
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from core.machine import machine_info
from core.settings import Settings


def tag_times(texts: list[str], runs: int) -> dict[str, float]:
    from core.events import default_tagger

    tagger = default_tagger()
    p50s, p99s = [], []
    for _ in range(runs):
        times = []
        for t in texts:
            started = time.perf_counter()
            tagger.tag(t)
            times.append((time.perf_counter() - started) * 1e6)
        times.sort()
        p50s.append(times[len(times) // 2])
        p99s.append(times[int(len(times) * 0.99)])
    return {"p50_us": round(statistics.median(p50s), 1),
            "p99_us": round(statistics.median(p99s), 1)}


def suite_summary(result: dict[str, Any]) -> dict[str, Any]:
    per = result["per_kind"]
    return {"pass_rate": result["pass_rate"], "kinds_at_least_90": result["kinds_at_least_90"],
            "kinds": result["kinds"], "lowest_kind": result["lowest_kind"],
            "lowest_pass_rate": result["lowest_pass_rate"],
            "kinds_below_15_of_18_companies": sorted(
                k for k, v in per.items() if v["companies_passed"] < 15),
            "per_kind": {k: [v["pass_rate"], v["companies_passed"]] for k, v in per.items()}}


def bench_events(settings: Settings, *, runs: int = 3) -> dict[str, Any]:
    from core.adapters.cascade import CascadeClassifier, check_teacher_dir, read_threshold
    from core.adapters.onnx_classifier import OnnxClassifier
    from core.errors import ConfigError
    from model.event_data import (
        HOLDOUT_CSV,
        LABELLED_CSV,
        read_labelled,
        run_event_suite,
        tagger_scores,
    )

    dev, holdout = read_labelled(LABELLED_CSV), read_labelled(HOLDOUT_CSV)
    out: dict[str, Any] = {"machine": machine_info(), "tagger": {}}
    for name, rows in (("development", dev), ("holdout", holdout)):
        scores = tagger_scores(rows)
        out["tagger"][name] = {k: scores[k] for k in ("headlines", "with_events", "precision",
                                                      "recall", "kinds_covered")} | {
            "errors": scores["errors"],
            "per_kind": {k: [v["precision"], v["recall"], v["support"]]
                         for k, v in scores["per_kind"].items() if v["support"]}}
    out["tagger"]["time"] = tag_times([t for t, _ in dev + holdout], runs)
    student = OnnxClassifier(settings.model_dir)
    out["fast"] = {"model_version": student.model_version,
                   **suite_summary(run_event_suite(student.classify))}
    try:
        check_teacher_dir(settings.teacher_dir)
    except ConfigError as exc:
        out["accurate"] = {"skipped": str(exc)}
        return out
    teacher = OnnxClassifier(settings.teacher_dir, spin=False)
    cascade = CascadeClassifier(student, teacher, threshold=read_threshold(settings.teacher_dir))
    out["teacher"] = {"model_version": teacher.model_version,
                      **suite_summary(run_event_suite(teacher.classify))}
    result = run_event_suite(cascade.classify)
    out["accurate"] = {"model_version": cascade.model_version, "threshold": cascade.threshold,
                       "escalated": round(cascade.stats["escalated"] / max(1, cascade.stats[
                           "texts"]), 4), **suite_summary(result)}
    cascade.close()
    return out

"""The release model: the folder tracked in the repository that a fresh clone serves.

`newsig model promote --from DIR` copies a trained model's serving files into
`model/release/` only when its measured figures beat the current release's (the mean of the
canonical test accuracy and macro-F1 of the int8 graph, the headline holdout weighted F1 and
the behavioural suite's pass rate, measured on both folders), unless `--force`.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from core.errors import InvalidInputError
from core.names import (
    METRICS_FILE,
    MODEL_FILE,
    MODEL_FP32_FILE,
    OPTIONAL_SERVING_FILES,
    RELEASE_FILES,
    RELEASE_MODEL_DIR,
    VERSION_FILE,
)

#: The figures compared, from a model folder's metrics.json; the behavioural suite's pass
#: rate (SUITE) is measured on each folder when two are compared, so both sides are scored
#: by the same suite.
COMPARED = (("test", "accuracy"), ("test", "macro_f1"), ("validation_headlines", "weighted_f1"))
SUITE = "behaviour.pass_rate"
MAX_RELEASE_BYTES = 25 * 1024 * 1024


def suite_pass_rate(folder: Path) -> float:
    """The behavioural suite (model/behaviour.py, fixed seed) on the folder's int8 graph."""
    from core.adapters.onnx_classifier import OnnxClassifier
    from model.behaviour import run_suite

    return float(run_suite(OnnxClassifier(folder).classify)["pass_rate"])


def figures(metrics: dict[str, Any], folder: Path | None = None) -> dict[str, float | None]:
    """The compared figures of a metrics.json (and the suite, measured, given its folder)."""
    out: dict[str, float | None] = {}
    for section, name in COMPARED:
        value = metrics.get(section, {}).get(name)
        out[f"{section}.{name}"] = float(value) if value is not None else None
    if folder is not None:
        out[SUITE] = suite_pass_rate(folder)
    return out


def _score(fig: dict[str, float | None]) -> float:
    values = [v for v in fig.values() if v is not None]
    return sum(values) / len(values) if values else float("-inf")


def promote(source: Path, dest: Path = RELEASE_MODEL_DIR, *, force: bool = False,
            extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Copy source's serving files into dest if its figures are better (or forced)."""
    missing = [n for n in RELEASE_FILES if not (source / n).exists()]
    if missing:
        raise InvalidInputError(f"{source} lacks {', '.join(missing)}: not a trained model "
                                "folder (newsig model train writes one)")
    size = sum((source / n).stat().st_size for n in RELEASE_FILES)
    if size > MAX_RELEASE_BYTES:
        raise InvalidInputError(f"{source}: {size / 2**20:.1f} MiB of serving files, over the "
                                f"release limit of {MAX_RELEASE_BYTES / 2**20:.0f} MiB")
    new = json.loads((source / METRICS_FILE).read_text())
    new_fig = figures(new, source)
    old_fig: dict[str, float | None] = {}
    if (dest / METRICS_FILE).exists():
        old_fig = figures(json.loads((dest / METRICS_FILE).read_text()), dest)
        if not force and _score(new_fig) <= _score(old_fig):
            raise InvalidInputError(
                f"{source} is not better than the release ({new_fig} vs {old_fig}); "
                "pass --force to promote it anyway")
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent) as tmp_name:
        tmp = Path(tmp_name) / "release"
        tmp.mkdir()
        for name in RELEASE_FILES:
            shutil.copy2(source / name, tmp / name)
        for name in OPTIONAL_SERVING_FILES:  # a head belongs to its own graph
            if (source / name).exists():
                shutil.copy2(source / name, tmp / name)
        release = {**new, "release": {"promoted_at": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                                    time.gmtime()),
                                      "source": str(source), "figures": new_fig,
                                      "replaced": old_fig or None,
                                      **(extra or {})}}
        (tmp / METRICS_FILE).write_text(json.dumps(release, indent=2) + "\n")
        old = dest.with_name(dest.name + ".old")
        if dest.exists():
            dest.rename(old)
        tmp.rename(dest)
        if old.exists():
            shutil.rmtree(old)
    return {"release_dir": str(dest), "model_version": new.get("model_version"),
            "figures": new_fig, "replaced": old_fig or None, "bytes": size}


def measure(folder: Path, *, source: Path | None = None) -> dict[str, Any]:
    """metrics.json for a folder: the source's training record (the folder's own when
    `source` is None or the folder itself), with the test, fp32 test and headline-holdout
    figures measured afresh on this folder's graphs as the classifier serves them."""
    import tempfile

    from model.data import FPB_TEST, SplitConfig, load_training_data, write_labelled_csv
    from model.evaluate import evaluate

    in_place = source is None or source.resolve() == folder.resolve()
    origin = folder if in_place else source
    metrics: dict[str, Any] = {}
    if origin is not None and (origin / METRICS_FILE).exists():
        metrics = json.loads((origin / METRICS_FILE).read_text())
        if not in_place:
            metrics.pop("release", None)
    metrics["model_version"] = (folder / VERSION_FILE).read_text().strip()
    metrics["test"] = evaluate(folder, FPB_TEST)
    if (folder / MODEL_FP32_FILE).exists():  # (a release folder ships the int8 graph only)
        metrics["test_fp32"] = evaluate(folder, FPB_TEST, model_file=MODEL_FP32_FILE)
    with tempfile.TemporaryDirectory() as tmp:
        holdout = folder / "validation_headlines.csv"
        if not holdout.exists():  # a release folder: the fixed holdout, from the data
            split = SplitConfig(split_seed=metrics.get("config", {}).get("split_seed", 42))
            texts, labels = load_training_data(split)["val_headlines"]
            holdout = write_labelled_csv(Path(tmp) / "holdout.csv", texts, labels)
        metrics["validation_headlines"] = evaluate(folder, holdout)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    if not in_place:
        import onnx

        inputs = {i.name for i in onnx.load(str(folder / MODEL_FILE)).graph.input}
        metrics["export"] = {"source": str(source),
                             "graph": "fused (onnxruntime transformer optimizer), int8 "
                                      "dynamic, per-channel weights, 8-bit embeddings"
                                      + ("" if "attention_mask" in inputs else
                                         ", no attention mask (one unpadded sentence a run)"),
                             "exported_at": stamp}
    metrics["measured"] = {"at": stamp, "rows": "one sentence per model run"}
    (folder / METRICS_FILE).write_text(json.dumps(metrics, indent=2) + "\n")
    return metrics

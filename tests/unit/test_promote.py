"""`newsig model promote`: the release changes only when the measured figures are better."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import model.release as release
from core.adapters.onnx_classifier import OnnxClassifier
from core.errors import InvalidInputError
from core.names import RELEASE_FILES
from model.behaviour import run_suite


def candidate(tiny_model_dir: Path, folder: Path, *, accuracy: float, macro_f1: float = 0.9,
              headlines: float = 0.85) -> Path:
    """A copy of the tiny model's serving files with the given measured figures."""
    folder.mkdir(parents=True)
    for name in RELEASE_FILES:
        if name != "metrics.json":
            shutil.copy2(tiny_model_dir / name, folder / name)
    metrics = {"model_version": (folder / "model_version").read_text().strip(),
               "test": {"accuracy": accuracy, "macro_f1": macro_f1},
               "validation_headlines": {"weighted_f1": headlines}}
    (folder / "metrics.json").write_text(json.dumps(metrics))
    return folder


def test_the_suite_is_measured_on_the_folder(tiny_model_dir: Path, tmp_path: Path) -> None:
    folder = candidate(tiny_model_dir, tmp_path / "a", accuracy=0.9)
    want = run_suite(OnnxClassifier(folder).classify)["pass_rate"]
    fig = release.figures(json.loads((folder / "metrics.json").read_text()), folder)
    assert fig == {"test.accuracy": 0.9, "test.macro_f1": 0.9,
                   "validation_headlines.weighted_f1": 0.85, release.SUITE: want}


def test_promotes_only_what_measures_better(tiny_model_dir: Path, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    dest = tmp_path / "release"
    first = candidate(tiny_model_dir, tmp_path / "first", accuracy=0.90)
    same = candidate(tiny_model_dir, tmp_path / "same", accuracy=0.90)
    worse_test = candidate(tiny_model_dir, tmp_path / "worse", accuracy=0.88)
    better_suite = candidate(tiny_model_dir, tmp_path / "suite", accuracy=0.89)
    # The suite's pass rate per folder, as if the models differed in it.
    rates = {first: 0.90, dest: 0.90, same: 0.90, worse_test: 0.90, better_suite: 0.96}
    monkeypatch.setattr(release, "suite_pass_rate", lambda folder: rates[folder])

    out = release.promote(first, dest)
    assert out["replaced"] is None
    for name in RELEASE_FILES:
        assert (dest / name).is_file()
    record = json.loads((dest / "metrics.json").read_text())["release"]
    assert record["figures"][release.SUITE] == 0.90 and record["source"] == str(first)

    for folder in (same, worse_test):  # equal is not better
        with pytest.raises(InvalidInputError, match="not better than the release"):
            release.promote(folder, dest)
    assert json.loads((dest / "metrics.json").read_text())["release"]["source"] == str(first)

    # 1 point lower on the test, 6 points higher on the suite: better on the mean.
    out = release.promote(better_suite, dest)
    assert out["replaced"] == {"test.accuracy": 0.90, "test.macro_f1": 0.9,
                               "validation_headlines.weighted_f1": 0.85, release.SUITE: 0.90}
    assert json.loads((dest / "metrics.json").read_text())["release"]["source"] == \
        str(better_suite)
    assert not dest.with_name("release.old").exists()

    forced = release.promote(worse_test, dest, force=True)
    assert forced["figures"]["test.accuracy"] == 0.88


def test_refuses_incomplete_and_oversized_folders(tiny_model_dir: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    folder = candidate(tiny_model_dir, tmp_path / "a", accuracy=0.9)
    monkeypatch.setattr(release, "MAX_RELEASE_BYTES", 1000)
    with pytest.raises(InvalidInputError, match="over the release limit"):
        release.promote(folder, tmp_path / "release")
    (folder / "labels.json").unlink()
    with pytest.raises(InvalidInputError, match=r"lacks labels\.json"):
        release.promote(folder, tmp_path / "release")
    assert not (tmp_path / "release").exists()

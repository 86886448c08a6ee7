"""The accurate tier: the cascade's routing, its failure modes, the teacher's export and
the checks on a teacher folder."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from core.adapters.cascade import (
    ACCURATE,
    FAST,
    CascadeClassifier,
    check_teacher_dir,
    read_threshold,
)
from core.errors import ConfigError
from core.models import Prediction
from model.cascade import combine, threshold_for


class Fixed:
    """A classifier answering from a table (the routing logic under test is the cascade's,
    not a model's), recording what it was asked."""

    def __init__(self, version: str, table: dict[str, tuple[float, float, float]],
                 fail: Exception | None = None, delay: threading.Event | None = None) -> None:
        self.model_version = version
        self.table = table
        self.fail = fail
        self.delay = delay
        self.asked: list[str] = []

    def classify(self, texts: Sequence[str]) -> list[Prediction]:
        self.asked += list(texts)
        if self.delay is not None:
            self.delay.wait(5)
        if self.fail is not None:
            raise self.fail
        return [Prediction.from_probabilities(self.table[t], self.model_version) for t in texts]


SURE_POS = (0.02, 0.03, 0.95)
UNSURE = (0.30, 0.45, 0.25)
NEUTRAL = (0.02, 0.95, 0.03)
NEG = (0.9, 0.05, 0.05)
TEXTS = {"Acme shares jump on record profit": SURE_POS, "Acme said something": UNSURE,
         "Acme files for Chapter 11": NEUTRAL, "Acme board meets Monday": NEUTRAL}


def test_unsure_and_event_contradicting_headlines_go_to_the_teacher() -> None:
    fast, slow = Fixed("student-v", TEXTS), Fixed("teacher-v", {t: NEG for t in TEXTS})
    c = CascadeClassifier(fast, slow, threshold=0.9)
    out = c.classify(list(TEXTS))
    assert slow.asked == ["Acme said something", "Acme files for Chapter 11"]
    assert [p.tier for p in out] == [FAST, ACCURATE, ACCURATE, FAST]
    assert [p.model_version for p in out] == ["student-v", "teacher-v", "teacher-v",
                                              "student-v"]
    assert out[2].label.value == "negative"
    assert c.stats == {"texts": 4, "escalated": 2, "teacher_failures": 0}
    assert c.versions == {"fast": "student-v", "accurate": "teacher-v"}
    # without the event rule only the unsure one goes
    slow.asked.clear()
    CascadeClassifier(fast, slow, threshold=0.9, events=False).classify(list(TEXTS))
    assert slow.asked == ["Acme said something"]


@pytest.mark.parametrize("threshold, escalated", [(0.0, 0), (0.5, 1), (0.95, 1), (0.96, 4)])
def test_threshold_sets_how_many_escalate(threshold: float, escalated: int) -> None:
    fast = Fixed("s", TEXTS)
    slow = Fixed("t", dict.fromkeys(TEXTS, SURE_POS))
    c = CascadeClassifier(fast, slow, threshold=threshold, events=False)
    c.classify(list(TEXTS))
    assert c.stats["escalated"] == escalated


def test_a_failing_teacher_leaves_the_students_answers_marked_fast_and_counted() -> None:
    c = CascadeClassifier(Fixed("s", TEXTS), Fixed("t", {}, fail=RuntimeError("endpoint down")),
                          threshold=0.9)
    out = c.classify(list(TEXTS))
    assert all(p.tier == FAST and p.model_version == "s" for p in out)
    assert c.stats["teacher_failures"] == 1 and c.stats["escalated"] == 0


def test_a_slow_teacher_times_out_to_the_fast_tier() -> None:
    gate = threading.Event()
    c = CascadeClassifier(Fixed("s", TEXTS), Fixed("t", dict.fromkeys(TEXTS, NEG), delay=gate),
                          threshold=0.9, timeout_s=0.2)
    out = c.classify(list(TEXTS))
    gate.set()
    assert all(p.tier == FAST for p in out) and c.stats["teacher_failures"] == 1


def test_bad_threshold_is_refused() -> None:
    with pytest.raises(ConfigError):
        CascadeClassifier(Fixed("s", {}), Fixed("t", {}), threshold=1.5)


def test_offline_simulation_is_the_online_rule() -> None:
    texts = list(TEXTS)
    fast = Fixed("s", TEXTS)
    slow = Fixed("t", dict.fromkeys(TEXTS, NEG))
    online = [p.label.value for p in CascadeClassifier(fast, slow, threshold=0.9).classify(texts)]
    labels, rate = combine(texts, fast.classify(texts), slow.classify(texts), 0.9)
    assert labels == online and rate == 0.5


def test_threshold_for_a_rate_escalates_that_share() -> None:
    conf = np.linspace(0.4, 1.0, 101)
    for rate in (0.1, 0.25, 0.5):
        t = threshold_for(conf, rate)
        assert abs((conf < t).mean() - rate) <= 0.011
    assert threshold_for(conf, 0) == 0.0


# -- the teacher folder ---------------------------------------------------------------
def _tiny_teacher_source(tmp: Path) -> Path:
    """A tiny, untrained MPNet classifier saved like an epoch of `teacher train`."""
    from transformers import MPNetConfig, MPNetForSequenceClassification

    from core.names import LABELS
    from tests.support.tiny_model import _tokenizer

    tok = _tokenizer()
    config = MPNetConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2,
                         num_attention_heads=2, intermediate_size=64, num_labels=3,
                         id2label=dict(enumerate(LABELS)),
                         label2id={v: i for i, v in enumerate(LABELS)})
    import torch

    torch.manual_seed(0)
    model = MPNetForSequenceClassification(config).eval()
    src = tmp / "epoch-1"
    model.save_pretrained(src)
    tok.save_pretrained(src)
    return src


@pytest.fixture(scope="module")
def tiny_teacher(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from model.teacher import export_teacher

    tmp = tmp_path_factory.mktemp("teacher")
    out = tmp / "teacher"
    export_teacher(_tiny_teacher_source(tmp), out, keep_fp32=True)
    return out


def test_teacher_export_matches_pytorch_and_passes_the_check(tiny_teacher: Path) -> None:
    import onnxruntime as ort
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    src = tiny_teacher.parent / "epoch-1"
    info = check_teacher_dir(tiny_teacher)
    assert info["role"] == "teacher" and info["epoch"] == "epoch-1"
    tok = AutoTokenizer.from_pretrained(src)
    enc = tok(["profit rose to a record", "board meets monday"], padding=True,
              return_tensors="np")
    sess = ort.InferenceSession(str(tiny_teacher / "model.onnx"))
    assert {i.name for i in sess.get_inputs()} == {"input_ids", "attention_mask"}
    onnx_logits = sess.run(None, {"input_ids": enc["input_ids"].astype(np.int64),
                                  "attention_mask": enc["attention_mask"].astype(np.int64)})[0]
    model = AutoModelForSequenceClassification.from_pretrained(src).eval()
    with torch.no_grad():
        ref = model(input_ids=torch.tensor(enc["input_ids"]),
                    attention_mask=torch.tensor(enc["attention_mask"])).logits.numpy()
    assert np.abs(onnx_logits - ref).max() < 1e-4


def test_cascade_over_real_onnx_models(tiny_teacher: Path, tiny_model_dir: Path) -> None:
    from core.adapters.onnx_classifier import OnnxClassifier

    student, teacher = OnnxClassifier(tiny_model_dir), OnnxClassifier(tiny_teacher)
    c = CascadeClassifier(student, teacher, threshold=1.0)  # everything escalates
    out = c.classify(["profit rose to a record", "board meets monday"])
    assert all(p.tier == ACCURATE and p.model_version == teacher.model_version for p in out)
    assert [p.probabilities for p in out] == [p.probabilities for p in teacher.classify(
        ["profit rose to a record", "board meets monday"])]


def test_teacher_folder_errors(tmp_path: Path, tiny_teacher: Path, tiny_model_dir: Path) -> None:
    with pytest.raises(ConfigError, match=r"no teacher at .*make teacher"):
        check_teacher_dir(tmp_path / "nope")
    partial = tmp_path / "partial"
    shutil.copytree(tiny_teacher, partial)
    (partial / "model.int8.onnx").unlink()
    with pytest.raises(ConfigError, match=r"incomplete .*model.int8.onnx"):
        check_teacher_dir(partial)
    with pytest.raises(ConfigError, match=r"incomplete .*teacher.json"):
        check_teacher_dir(tiny_model_dir)  # a student's folder is not a teacher
    wrong = tmp_path / "wrong"
    shutil.copytree(tiny_teacher, wrong)
    meta = json.loads((wrong / "labels.json").read_text())
    meta["labels"] = ["bearish", "neutral", "bullish"]
    (wrong / "labels.json").write_text(json.dumps(meta))
    with pytest.raises(ConfigError, match=r"predicts .*bearish"):
        check_teacher_dir(wrong)
    (wrong / "cascade.json").write_text('{"threshold": 7}')
    with pytest.raises(ConfigError, match="not in"):
        read_threshold(wrong)
    assert read_threshold(tiny_teacher) == 0.9  # no cascade.json: the default


def _newsig(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    import os

    return subprocess.run([sys.executable, "-m", "api.cli", *args], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, timeout=300)


def test_cli_accurate_tier(tmp_path: Path, tiny_teacher: Path, tiny_model_dir: Path) -> None:
    missing = _newsig("classify", "--tier", "accurate", "--teacher-dir", str(tmp_path / "x"),
                      "--model-dir", str(tiny_model_dir), "profit rose")
    assert missing.returncode == 2
    assert missing.stderr.strip().count("\n") == 0 and "make teacher" in missing.stderr
    env_missing = _newsig("classify", "--model-dir", str(tiny_model_dir), "profit rose",
                          env={"NEWSIG_TIER": "accurate",
                               "NEWSIG_TEACHER_DIR": str(tmp_path / "x")})
    assert env_missing.returncode == 2 and "no teacher" in env_missing.stderr
    bad = _newsig("classify", "--model-dir", str(tiny_model_dir), "profit rose",
                  env={"NEWSIG_TIER": "turbo"})
    assert bad.returncode == 2 and "unknown tier" in bad.stderr
    ok = _newsig("classify", "--tier", "accurate", "--teacher-dir", str(tiny_teacher),
                 "--model-dir", str(tiny_model_dir), "profit rose to a record",
                 "Acme files for Chapter 11")
    assert ok.returncode == 0, ok.stderr
    rows = [json.loads(line) for line in ok.stdout.splitlines()]
    assert {r["tier"] for r in rows} <= {"fast", "accurate"}
    assert rows[1]["events"] == ["bankruptcy"]


def test_teacher_sagemaker_artifact_serves(tiny_teacher: Path, tmp_path: Path) -> None:
    """The accurate tier on AWS: the teacher's model.tar.gz loads in the endpoint's own
    inference.py and answers in the label order."""
    import importlib.util
    import tarfile

    from model.teacher import export_teacher_sagemaker

    target = export_teacher_sagemaker(tiny_teacher.parent / "epoch-1", tmp_path / "sm")
    with tarfile.open(target) as tar:
        names = set(tar.getnames())
        assert {"config.json", "model.safetensors", "labels.json",
                "code/inference.py"} <= names
        tar.extractall(tmp_path / "model", filter="data")
    spec = importlib.util.spec_from_file_location("inf", tmp_path / "model/code/inference.py")
    assert spec and spec.loader
    inference = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(inference)
    model = inference.model_fn(str(tmp_path / "model"))
    out = inference.predict_fn(["profit rose to a record"], model)
    assert set(out[0]["probabilities"]) == {"negative", "neutral", "positive"}

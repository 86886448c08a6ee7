"""`newsig model entity-head`: the sentiment toward each company, trained on the student's
own token states and decided by cross-validation (docs/entity-sentiment.md, rule fixed before
the runs).

1. The model's graph gains one output (HIDDEN_OUTPUT, the 5th layer's states; the logits are
   unchanged, bit for bit, which a test checks) and is written to OUT with the tokenizer and
   labels.
2. Features of every FinEntity entity (in the sentence around it) and of the generated
   multi-company headlines (model/entity_synth.py) come from that graph through the serving
   code (OnnxClassifier).
3. Candidates A (copy the text's prediction), B (head on FinEntity), C (head on FinEntity +
   generated headlines) are compared by 5-fold cross-validation grouped by passage; the rule
   picks one; the chosen head is fitted on all its data and saved as OUT/entity_head.json.
   A head is kept only if the rule picks B or C."""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from core.adapters.entity_head import HEAD_FILE, WINDOW_CHARS, EntityHead, target_window
from core.names import EVENT_LAYER_FILE, LABELS, LABELS_FILE, MODEL_FILE, TOKENIZER_FILE
from model.data import DATA_DIR

HIDDEN_OUTPUT = "/bert/encoder/layer.4/output/LayerNorm/LayerNormalization_output_0"
CONTEXT = 8
#: Fixed before the cross-validated runs (docs/entity-sentiment.md).
C_REGULARISATION = 0.5
FOLDS = 5
FINENTITY = DATA_DIR / "finentity" / "finentity_train.json"
TARGETED_EVAL = DATA_DIR / "entities" / "targeted_eval.csv"


_LAYER = re.compile(r"/bert/encoder/layer\.(\d+)/output/LayerNorm/LayerNormalization_output_0$")


def hidden_output_names(produced: set[str], layers: int = 1) -> list[str]:
    """The last `layers` encoder layers whose output has every token, oldest first: the
    layers before the last (the exported graph computes only the first token in the last
    layer). The release's 6-layer student, one layer: HIDDEN_OUTPUT."""
    found = sorted(int(m.group(1)) for o in produced if (m := _LAYER.search(o)))
    if not found:
        raise ValueError("no encoder layer outputs in this graph")
    full = found[:-1] or found
    return [f"/bert/encoder/layer.{n}/output/LayerNorm/LayerNormalization_output_0"
            for n in full[-layers:]]


def add_hidden_outputs(src: Path, dst: Path, layers: int = 1) -> list[str]:
    """The graph at src, written to dst, with more outputs: the states (every token) of the
    last `layers` full layers. Returns their names."""
    import onnx
    from onnx import TensorProto, helper

    model = onnx.load(str(src))
    produced = {o for n in model.graph.node for o in n.output}
    names = hidden_output_names(produced, layers)
    keep = [o for o in model.graph.output if not _LAYER.search(o.name)]
    del model.graph.output[:]
    model.graph.output.extend(keep)
    for name in names:
        model.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    onnx.save(model, str(dst))
    return names


def prepare(model_dir: Path, out: Path, layers: int = 1) -> list[str]:
    """OUT: the model folder with the graph that also outputs `layers` layers' states;
    returns the outputs' names."""
    from model.export import write_model_version

    out.mkdir(parents=True, exist_ok=True)
    (out / HEAD_FILE).unlink(missing_ok=True)  # a head belongs to the graph it was fitted on
    for name in (TOKENIZER_FILE, LABELS_FILE, EVENT_LAYER_FILE):
        # The event layer reads the logits, which the new outputs leave bit for bit as they
        # were: it stays valid for the new graph.
        if model_dir.resolve() != out.resolve() and (model_dir / name).exists():
            shutil.copy2(model_dir / name, out / name)
    names = add_hidden_outputs(model_dir / MODEL_FILE, out / MODEL_FILE, layers)
    write_model_version(out)
    return names


def _scorer(model_dir: Path, hidden_output: list[str]) -> Any:
    from core.adapters.onnx_classifier import OnnxClassifier

    clf = OnnxClassifier(model_dir, threads=1)
    if clf.entity_head is None:  # features need the graph, not a head
        clf.entity_head = EntityHead(np.zeros((3, 1)), np.zeros(3), hidden_output=hidden_output,
                                     context=CONTEXT, version="")
    return clf


def finentity_features(clf: Any, path: Path = FINENTITY) -> dict[str, np.ndarray]:
    """X (features), y (label ids), group (passage), copy (the text's own prediction)."""
    from core.entities import default_linker

    linker = default_linker()
    passages = json.loads(path.read_text(encoding="utf-8"))
    xs, ys, groups, copies, roles, clauses = [], [], [], [], [], []
    for n, p in enumerate(passages):
        text = p["content"]
        linked = linker.link(text)[0]
        first = min(((a["start"], a["end"]) for a in p["annotations"]), default=(0, 0))
        for a in p["annotations"]:
            left, right = target_window(text, a["start"], a["end"], WINDOW_CHARS)
            window = text[left:right]
            logits, hidden, offsets = clf._states(window)
            x = clf.entity_head.features(hidden, offsets, a["start"] - left, a["end"] - left)
            if x is None:
                continue
            xs.append(x)
            clauses.append(clf.clause_logits(
                window, a["start"] - left, a["end"] - left, logits,
                (first[0] - left, first[1] - left) if len(p["annotations"]) > 1 else None))
            ys.append(LABELS.index(str(a["label"]).lower()))
            groups.append(n)
            copies.append(int(np.argmax(logits[clf._order])))
            roles.append(next((e.role.value for e in linked
                               if e.span[0] < a["end"] and a["start"] < e.span[1]), "not linked"))
    return {"X": np.array(xs), "y": np.array(ys), "group": np.array(groups),
            "copy": np.array(copies), "role": np.array(roles), "L": np.array(clauses)}


def synthetic_features(clf: Any, per_template: int = 20, seed: int = 0
                       ) -> tuple[np.ndarray, np.ndarray, int, np.ndarray]:
    """X, y, rows generated, and the clause features (every generated headline names two
    companies or more)."""
    from model.entity_synth import generate, universe_names

    names, raters = universe_names(seed=seed)
    rows = generate(names, raters, per_template=per_template, seed=seed)
    firsts: dict[str, list[tuple[int, int]]] = {}
    for r in rows:
        firsts.setdefault(r.text, []).append((r.start, r.start + len(r.target)))
    xs, ys, clauses = [], [], []
    for r in rows:
        logits, hidden, offsets = clf._states(r.text)
        x = clf.entity_head.features(hidden, offsets, r.start, r.start + len(r.target))
        if x is not None:
            xs.append(x)
            ys.append(LABELS.index(r.label))
            spans = firsts[r.text]
            clauses.append(clf.clause_logits(r.text, r.start, r.start + len(r.target), logits,
                                             min(spans) if len(spans) > 1 else None))
    return np.array(xs), np.array(ys), len(rows), np.array(clauses)


def eval_features(clf: Any, path: Path = TARGETED_EVAL
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """X, y, the text's own prediction, and the clause features of the written
    multi-company headlines."""
    xs, ys, copies, clauses = [], [], [], []
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    spans: dict[str, list[tuple[int, int]]] = {}
    for row in rows:
        text, target = row["text"], row["target"]
        start = text.find(target)
        if start < 0:
            raise ValueError(f"{path}: {target!r} is not in {text!r}")
        spans.setdefault(text, []).append((start, start + len(target)))
    for row in rows:
        text, target = row["text"], row["target"]
        start = text.find(target)
        logits, hidden, offsets = clf._states(text)
        x = clf.entity_head.features(hidden, offsets, start, start + len(target))
        assert x is not None
        xs.append(x)
        ys.append(LABELS.index(row["label"]))
        copies.append(int(np.argmax(logits[clf._order])))
        here = spans[text]
        clauses.append(clf.clause_logits(text, start, start + len(target), logits,
                                         min(here) if len(here) > 1 else None))
    return np.array(xs), np.array(ys), np.array(copies), np.array(clauses)


def _fit(x: np.ndarray, y: np.ndarray) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=C_REGULARISATION, max_iter=5000).fit(x, y)


def _macro_f1(y: np.ndarray, pred: np.ndarray) -> float:
    from sklearn.metrics import f1_score

    return round(float(f1_score(y, pred, average="macro", labels=[0, 1, 2])), 4)


def cross_validate(fin: dict[str, np.ndarray], synth: tuple[np.ndarray, np.ndarray]
                   ) -> dict[str, Any]:
    from sklearn.model_selection import GroupKFold

    x, y, g = fin["X"], fin["y"], fin["group"]
    pred_b, pred_c = np.zeros_like(y), np.zeros_like(y)
    for train, test in GroupKFold(FOLDS).split(x, y, g):
        pred_b[test] = _fit(x[train], y[train]).predict(x[test])
        xc = np.concatenate([x[train], synth[0]])
        yc = np.concatenate([y[train], synth[1]])
        pred_c[test] = _fit(xc, yc).predict(x[test])
    single = np.array([np.sum(g == k) == 1 for k in g])
    by_role = {role: {"entities": int(np.sum(fin["role"] == role)),
                      "A_copy": round(float(np.mean(fin["copy"][fin["role"] == role] ==
                                                    y[fin["role"] == role])), 4),
                      "C_head_finentity_and_headlines": round(float(np.mean(
                          pred_c[fin["role"] == role] == y[fin["role"] == role])), 4)}
               for role in sorted(set(fin["role"].tolist()))}
    out = {"entities": len(y), "passages": len(set(g.tolist())),
           "macro_f1": {"A_copy": _macro_f1(y, fin["copy"]), "B_head_finentity":
                        _macro_f1(y, pred_b), "C_head_finentity_and_headlines":
                        _macro_f1(y, pred_c)},
           "accuracy": {"A_copy": round(float(np.mean(fin["copy"] == y)), 4),
                        "B_head_finentity": round(float(np.mean(pred_b == y)), 4),
                        "C_head_finentity_and_headlines": round(float(np.mean(pred_c == y)), 4)},
           "single_entity_passages": {
               "entities": int(single.sum()),
               "A_copy": _macro_f1(y[single], fin["copy"][single]),
               "B_head_finentity": _macro_f1(y[single], pred_b[single]),
               "C_head_finentity_and_headlines": _macro_f1(y[single], pred_c[single])},
           "accuracy_by_role": by_role}
    return {"cv": out, "predictions": {"B": pred_b, "C": pred_c}}


def decide(cv: dict[str, Any], eval_b: float, eval_c: float) -> str:
    """The rule of docs/entity-sentiment.md."""
    f1 = cv["macro_f1"]
    a, b, c = f1["A_copy"], f1["B_head_finentity"], f1["C_head_finentity_and_headlines"]
    eligible = {name: v for name, v in (("B", b), ("C", c)) if v >= a + 0.05}
    if not eligible:
        return "A"
    if len(eligible) == 2 and abs(b - c) < 0.01:
        return "C" if eval_c > eval_b else "B"
    return max(eligible, key=lambda k: eligible[k])


def _out_of_fold(x: np.ndarray, y: np.ndarray, groups: np.ndarray,
                 extra: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Out-of-fold predictions (the folds of cross_validate; `extra` rows only ever train)."""
    from sklearn.model_selection import GroupKFold

    pred = np.zeros_like(y)
    for train, test in GroupKFold(FOLDS).split(x, y, groups):
        xt, yt = x[train], y[train]
        if extra is not None:
            xt, yt = np.concatenate([xt, extra[0]]), np.concatenate([yt, extra[1]])
        pred[test] = _fit(xt, yt).predict(x[test])
    return pred


def build(model_dir: Path, out: Path, *, per_template: int = 20) -> dict[str, Any]:
    """The three rules of docs/entity-sentiment.md: A/B/C on the last full layer's features,
    then D (C with the two last full layers) and E (C with the clause features) against the
    winner if that is C."""
    names = prepare(model_dir, out, layers=2)
    clf = _scorer(out, names)
    fin = finentity_features(clf)
    synth = synthetic_features(clf, per_template=per_template)
    ex, ey, ecopy, eclause = eval_features(clf)
    width = fin["X"].shape[1] // len(names)
    last = slice(fin["X"].shape[1] - width, None)  # the last full layer: B and C read it
    one = {**fin, "X": fin["X"][:, last]}
    result = cross_validate(one, (synth[0][:, last], synth[1]))
    fit_b = _fit(one["X"], one["y"])
    fit_c = _fit(np.concatenate([one["X"], synth[0][:, last]]),
                 np.concatenate([one["y"], synth[1]]))
    eval_acc = {"A_copy": round(float(np.mean(ecopy == ey)), 4),
                "B_head_finentity": round(float(np.mean(fit_b.predict(ex[:, last]) == ey)), 4),
                "C_head_finentity_and_headlines": round(float(np.mean(
                    fit_c.predict(ex[:, last]) == ey)), 4)}
    choice = decide(result["cv"], eval_acc["B_head_finentity"],
                    eval_acc["C_head_finentity_and_headlines"])
    report: dict[str, Any] = {
        "rule": "docs/entity-sentiment.md", "choice": choice, **result["cv"],
        "targeted_eval_accuracy": eval_acc, "targeted_eval_rows": len(ey),
        "generated_headline_targets": len(synth[1]), "regularisation_C": C_REGULARISATION,
        "context_tokens": CONTEXT}
    fitted, layers = {"B": fit_b, "C": fit_c}.get(choice), names[-1:]
    if len(names) > 1:  # the second rule
        pred_d = _out_of_fold(fin["X"], fin["y"], fin["group"], synth[:2])
        fit_d = _fit(np.concatenate([fin["X"], synth[0]]), np.concatenate([fin["y"], synth[1]]))
        f1_d = _macro_f1(fin["y"], pred_d)
        eval_d = round(float(np.mean(fit_d.predict(ex) == ey)), 4)
        f1_c = result["cv"]["macro_f1"]["C_head_finentity_and_headlines"]
        eval_c = eval_acc["C_head_finentity_and_headlines"]
        adopt = choice == "C" and f1_d >= f1_c + 0.005 and eval_d >= eval_c - 0.04
        report["second_rule"] = {
            "D_two_layers_macro_f1": f1_d, "D_accuracy": round(float(np.mean(pred_d == fin["y"])),
                                                               4),
            "D_targeted_eval_accuracy": eval_d, "adopted": adopt,
            "D_accuracy_by_role": {role: round(float(np.mean(
                pred_d[fin["role"] == role] == fin["y"][fin["role"] == role])), 4)
                for role in sorted(set(fin["role"].tolist()))}}
        if adopt:
            choice, fitted, layers = "D", fit_d, names
            report["choice"] = "D"
    if choice == "C":  # the third rule: C with the clause features (E)
        alone = np.array([np.sum(fin["group"] == k) == 1 for k in fin["group"]])
        xe = np.hstack([one["X"], fin["L"]])
        se = (np.hstack([synth[0][:, last], synth[3]]), synth[1])
        pred_e = _out_of_fold(xe, fin["y"], fin["group"], se)
        fit_e = _fit(np.concatenate([xe, se[0]]), np.concatenate([fin["y"], se[1]]))
        f1_e = _macro_f1(fin["y"], pred_e)
        eval_e = round(float(np.mean(fit_e.predict(np.hstack([ex[:, last], eclause])) == ey)),
                       4)
        f1_c = result["cv"]["macro_f1"]["C_head_finentity_and_headlines"]
        eval_c = eval_acc["C_head_finentity_and_headlines"]
        adopt_e = f1_e >= f1_c + 0.005 and eval_e >= eval_c - 0.04
        report["third_rule"] = {
            "E_clause_macro_f1": f1_e,
            "E_accuracy": round(float(np.mean(pred_e == fin["y"])), 4),
            "E_targeted_eval_accuracy": eval_e, "adopted": adopt_e,
            "E_single_entity_passages_macro_f1": _macro_f1(fin["y"][alone], pred_e[alone]),
            "E_accuracy_by_role": {role: round(float(np.mean(
                pred_e[fin["role"] == role] == fin["y"][fin["role"] == role])), 4)
                for role in sorted(set(fin["role"].tolist()))}}
        if adopt_e:
            choice, fitted, layers = "E", fit_e, names[-1:]
            report["choice"] = "E"
    # The graph outputs exactly the layers the chosen head reads (none: A).
    if fitted is None:
        add_hidden_outputs(model_dir / MODEL_FILE, out / MODEL_FILE, layers=1)
    elif layers != names:
        add_hidden_outputs(model_dir / MODEL_FILE, out / MODEL_FILE, layers=len(layers))
    report["hidden_outputs"] = layers
    if fitted is not None:
        head = EntityHead(fitted.coef_, fitted.intercept_, hidden_output=layers,
                          context=CONTEXT, version=choice, clause=choice == "E")
        head.save(out / HEAD_FILE, trained_on={
            "B": "FinEntity train (ODC-BY)"}.get(choice, "FinEntity train (ODC-BY) + generated "
                                                          "multi-company headlines"))
    from model.export import write_model_version

    report["model_version"] = write_model_version(out)
    (out / "entity_head_report.json").write_text(json.dumps(report, indent=2) + "\n")
    return report

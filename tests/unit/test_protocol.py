"""Seeds and grouped k-fold protocols: fold assignment, summaries, resumable runs."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from model.data import near_duplicate_key
from model.protocol import grouped_folds, summarise


def test_near_duplicates_share_a_key() -> None:
    a = "Operating profit rose to EUR 13.1 mn from EUR 8.7 mn in 2007 ."
    b = "Operating profit rose to EUR 2,100 mn from EUR 95 mn in 2008 ."
    assert near_duplicate_key(a) == near_duplicate_key(b)
    assert near_duplicate_key(a) != near_duplicate_key("Operating profit fell to EUR 1 mn .")


def test_grouped_folds_keep_groups_together_and_balanced() -> None:
    texts = [f"Sales rose {i} % in Q{i % 4}" for i in range(40)]  # one group of 40
    texts += [f"Company {chr(65 + i % 26)}{chr(65 + i // 26)} cut jobs" for i in range(200)]
    folds = grouped_folds(texts, 5, seed=3)
    key_fold: dict[str, set[int]] = {}
    for t, f in zip(texts, folds, strict=True):
        key_fold.setdefault(near_duplicate_key(t), set()).add(f)
    assert all(len(v) == 1 for v in key_fold.values())
    sizes = Counter(folds)
    assert set(sizes) == set(range(5))
    assert sizes[folds[0]] >= 40
    singles = [s for k, s in sizes.items() if k != folds[0]]
    assert max(singles) - min(singles) <= 1
    assert grouped_folds(texts, 5, seed=3) == folds


def test_summary_mean_and_sample_std() -> None:
    runs = [{"test": {"accuracy": a}, "best_epoch": e} for a, e in ((0.9, 2), (0.92, 3),
                                                                     (0.94, 4))]
    s = summarise(runs)
    assert s["test_accuracy"]["mean"] == pytest.approx(0.92)
    assert s["test_accuracy"]["std"] == pytest.approx(0.02)
    assert s["best_epoch"] == {"mean": 3.0, "std": 1.0, "min": 2.0, "max": 4.0, "n": 3}
    assert "headlines_weighted_f1" not in s


def test_seeds_and_cv_commands_train_reuse_and_summarise(tiny_model_dir: Path,
                                                         tmp_path: Path) -> None:
    pytest.importorskip("torch", reason="training needs the train extra")
    from model.protocol import grouped_cv, seeds_protocol
    from model.train import TrainConfig
    from tests.support.builders import write_csv
    from tests.support.tiny_model import TOY

    train_csv = write_csv(tmp_path / "train.csv", [*TOY, *TOY])
    base = TrainConfig(recipe="finetune", base_model=str(tiny_model_dir), train_csv=train_csv,
                       test_csv=train_csv,
                       headlines_csv=None, epochs=1, batch_size=8, max_length=32,
                       val_fraction=0.2, learning_rate=1e-3, progress=False)
    logs: list[str] = []
    result = seeds_protocol(base, [1, 2], tmp_path / "seeds", log=logs.append)
    assert [r["seed"] for r in result["runs"]] == [1, 2]
    assert result["summary"]["test_accuracy"]["n"] == 2
    saved = json.loads((tmp_path / "seeds" / "seeds.json").read_text())
    assert saved["summary"] == result["summary"]
    assert (tmp_path / "seeds" / "seed-2" / "model.int8.onnx").exists()
    again = seeds_protocol(base, [1, 2], tmp_path / "seeds", log=logs.append)
    assert logs[-2:] == [f"reusing {tmp_path / 'seeds' / 'seed-1'}",
                         f"reusing {tmp_path / 'seeds' / 'seed-2'}"]
    assert again["summary"] == result["summary"]
    # A run made before an option existed is still that run while the option is at its
    # default; set it, and the run is made again (here: a one-layer student).
    metrics_path = tmp_path / "seeds" / "seed-1" / "metrics.json"
    metrics = json.loads(metrics_path.read_text())
    del metrics["config"]["keep_layers"]
    metrics_path.write_text(json.dumps(metrics))
    seeds_protocol(base, [1], tmp_path / "seeds", log=logs.append)
    assert logs[-1] == f"reusing {tmp_path / 'seeds' / 'seed-1'}"
    shallow = base.model_copy(update={"keep_layers": 1})
    seeds_protocol(shallow, [1], tmp_path / "seeds", log=logs.append)
    assert logs[-1] == f"training {tmp_path / 'seeds' / 'seed-1'}"
    config = json.loads((tmp_path / "seeds" / "seed-1" / "config.json").read_text())
    assert config["num_hidden_layers"] == 1

    source = tmp_path / "Sentences_75Agree.txt"
    source.write_text("\n".join(f"{t}@{y}" for t, y in TOY * 2), encoding="latin-1")
    part = grouped_cv(base, 3, tmp_path / "cv", source=source, only=[1], log=logs.append)
    assert [r["fold"] for r in part["runs"]] == [1]
    assert not (tmp_path / "cv" / "cv.json").exists()  # written once every fold is done
    cv = grouped_cv(base, 3, tmp_path / "cv", source=source, log=logs.append)
    assert f"reusing {tmp_path / 'cv' / 'fold-1' / 'model'}" in logs
    assert json.loads((tmp_path / "cv" / "cv.json").read_text())["summary"] == cv["summary"]
    sizes = [r["test_size"] for r in cv["runs"]]
    assert sum(sizes) == 2 * len(TOY) and len(sizes) == 3
    assert cv["groups"] == len({near_duplicate_key(t) for t, _ in TOY})
    for k in range(3):  # no near-duplicate on both sides of any fold
        test = (tmp_path / "cv" / f"fold-{k}" / "test.csv").read_text().splitlines()[1:]
        train = (tmp_path / "cv" / f"fold-{k}" / "train.csv").read_text().splitlines()[1:]
        keys = {near_duplicate_key(line.rsplit(",", 1)[0]) for line in test}
        assert keys.isdisjoint(near_duplicate_key(line.rsplit(",", 1)[0]) for line in train)


@pytest.mark.parametrize(("total", "keep", "kept"), [
    (6, 6, [0, 1, 2, 3, 4, 5]), (6, 4, [0, 2, 3, 5]), (6, 3, [0, 2, 5]), (6, 2, [0, 5]),
    (6, 1, [5]), (12, 6, [0, 2, 4, 7, 9, 11])])
def test_kept_layers_are_evenly_spaced(total: int, keep: int, kept: list[int]) -> None:
    from model.train import kept_layer_indices

    assert kept_layer_indices(total, keep) == kept


def test_keep_layers_drops_encoder_layers_in_place(tiny_model_dir: Path) -> None:
    torch = pytest.importorskip("torch", reason="training needs the train extra")
    from transformers import AutoModelForSequenceClassification

    from model.train import keep_layers

    model = AutoModelForSequenceClassification.from_pretrained(tiny_model_dir, num_labels=3)
    layers = list(model.base_model.encoder.layer)
    assert keep_layers(model, 1) == [len(layers) - 1]
    assert list(model.base_model.encoder.layer) == [layers[-1]]
    assert model.config.num_hidden_layers == 1
    ids = torch.tensor([[1, 5, 6, 2]])
    assert model(input_ids=ids).logits.shape == (1, 3)
    with pytest.raises(ValueError, match="cannot keep"):
        keep_layers(model, 2)



def _soft(texts: list[str], sources: list[str], gold: list[str | None]) -> object:
    import numpy as np

    from model.distill import SoftLabels

    n = len(texts)
    probs = np.column_stack([np.arange(n) / n, np.ones(n) * 0.5, 0.5 - np.arange(n) / n])
    return SoftLabels(texts, sources, gold, probs,
                      {"augment_per_sentence": 3, "augment_seed": 0, "split_seed": 42})


def test_a_held_sentence_leaves_with_its_near_duplicates_and_its_variants() -> None:
    from model.augment import augment, variant_origins
    from model.distill import without_sentences

    pb = ["Operating profit rose 12 % to EUR 3.1 mn .", "Net sales fell 5 % to EUR 80 mn .",
          "The board meets on Monday ."]
    extra = ["Operating profit rose 40 % to EUR 9.9 mn ."]  # pb[0] once numbers are masked
    made = augment([*pb, *extra], seed=0, per_sentence=3)
    other = ["Operating profit rose 7 % to EUR 1.2 mn .", "Shares fell after the report"]
    texts = [*pb, *extra, *made, *other]
    sources = (["phrasebank_train"] * 3 + ["phrasebank_extra"] + ["augmented"] * len(made)
               + ["headlines_train", "synthetic"])
    soft = _soft(texts, sources, ["positive", "negative", "neutral", "positive",
                                  *[None] * len(made), "positive", "negative"])
    kept, dropped = without_sentences(soft, {pb[0]})  # type: ignore[arg-type]

    held = near_duplicate_key(pb[0])
    origins = variant_origins([*pb, *extra], seed=0, per_sentence=3)
    gone = set(texts) - set(kept.texts)
    assert {pb[0], extra[0], other[0]} <= gone  # other[0]: a headline equal once masked
    from_held = {v for v in made if any(near_duplicate_key(o) == held for o in origins[v])}
    # Some variants differ from the held sentence even once masked (a direction swapped):
    # only tracing them to their sentence catches those.
    assert any(near_duplicate_key(v) != held for v in from_held)
    assert gone == {pb[0], extra[0], other[0], *from_held}
    assert dropped == {"phrasebank_train": 1, "phrasebank_extra": 1, "headlines_train": 1,
                       "augmented": len(from_held)}
    assert set(pb[1:]) <= set(kept.texts) and other[1] in kept.texts
    for i, text in enumerate(kept.texts):  # each row keeps its own probabilities and label
        j = texts.index(text)
        assert list(kept.probs[i]) == list(soft.probs[j])  # type: ignore[attr-defined]
        assert kept.gold[i] == soft.gold[j] and kept.sources[i] == sources[j]  # type: ignore[attr-defined]

    stray = _soft([*texts, "Operating profit soared"], [*sources, "augmented"],
                  [*soft.gold, None])  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="cannot be traced"):
        without_sentences(stray, {pb[0]})  # type: ignore[arg-type]


def test_variant_origins_replays_augment() -> None:
    from model.augment import augment, variant_origins

    texts = [f"Company {c} profit rose {n} % and sales fell {n + 3} %"
             for c, n in zip("ABCDEFGH", range(10, 90, 10), strict=True)]
    made = augment(texts, seed=5, per_sentence=3)
    origins = variant_origins(texts, seed=5, per_sentence=3)
    assert made and set(made) <= set(origins)
    for v in made:  # each variant traced to the one sentence with its company's name
        assert origins[v] == {t for t in texts if t.split()[1] == v.split()[1]}
    assert not set(augment(texts, seed=6, per_sentence=3)) <= set(origins)


def test_distill_cv_holds_each_fold_out_of_the_soft_labels(tiny_model_dir: Path,
                                                          tmp_path: Path) -> None:
    pytest.importorskip("torch", reason="training needs the train extra")
    from model.augment import augment
    from model.data import load_training_data
    from model.distill import (
        TransferSet,
        read_soft_labels,
        teacher_probabilities,
        write_soft_labels,
    )
    from model.protocol import distill_cv
    from tests.support.tiny_model import toy_distill_config

    cfg = toy_distill_config(tiny_model_dir, tmp_path, epochs=1)
    tr_x, tr_y = load_training_data(cfg)["train"]
    made = [v for v in augment(tr_x, seed=0, per_sentence=2) if v not in tr_x]
    ts = TransferSet([*tr_x, *made], ["phrasebank_train"] * len(tr_x) + ["augmented"] * len(made),
                     [*tr_y, *[None] * len(made)])
    write_soft_labels(cfg.soft_labels, ts, teacher_probabilities(tiny_model_dir, ts.texts,
                                                                 progress=False),
                      {"split_seed": 42, "augment_per_sentence": 2, "augment_seed": 0})
    logs: list[str] = []
    cv = distill_cv(cfg, 2, tmp_path / "cv", log=logs.append)

    assert cv["protocol"] == "distill_kfold" and cv["sentences"] == len(tr_x)
    assert sum(r["test_size"] for r in cv["runs"]) == len(tr_x)
    tested: list[str] = []
    for k in range(2):
        fold = tmp_path / "cv" / f"fold-{k}"
        test = [line.rsplit(",", 1)[0] for line in
                (fold / "test.csv").read_text().splitlines()[1:]]
        tested += test
        soft = read_soft_labels(fold / "soft_labels.csv")
        keys = {near_duplicate_key(t) for t in test}
        assert keys.isdisjoint(near_duplicate_key(t) for t in soft.texts)
        metrics = json.loads((fold / "model" / "metrics.json").read_text())
        assert metrics["train_size"] == len(soft.texts) < len(ts)
        assert metrics["test"]["n"] == len(test)
        assert soft.provenance["cv"]["fold"] == k
    assert sorted(tested) == sorted(tr_x)
    runs = [json.loads((tmp_path / "cv" / f"fold-{k}" / "model" / "metrics.json").read_text())
            for k in range(2)]
    assert cv["pooled_test_accuracy"] == pytest.approx(
        sum(m["test"]["accuracy"] * m["test"]["n"] for m in runs) / len(tr_x), abs=1e-4)
    assert json.loads((tmp_path / "cv" / "cv.json").read_text())["runs"] == cv["runs"]
    distill_cv(cfg, 2, tmp_path / "cv", log=logs.append)
    assert logs[-1] == f"reusing {tmp_path / 'cv' / 'fold-1' / 'model'}"

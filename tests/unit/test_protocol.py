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


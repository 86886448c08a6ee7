"""The serving graph's speed levers, on the tiny BERT built in the test session: attention
really fused, the slow SkipLayerNormalization kernel kept out (offline and at load), and the
last layer computing only the [CLS] row, each with the same logits as the plain graph."""

from __future__ import annotations

import collections
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import numpy_helper

from core.adapters.onnx_classifier import SLOW_FUSIONS, OnnxClassifier
from model.export import ONNX_FP32, cls_only_last_layer, drop_attention_mask, fuse_graph

pytest.importorskip("onnxruntime.transformers", reason="the optimizer ships with onnxruntime")

IDS = np.array([[2, 5, 9, 11, 7, 3], [2, 8, 6, 3, 0, 0]], dtype=np.int64)


def ops(model: onnx.ModelProto) -> collections.Counter[str]:
    return collections.Counter(n.op_type for n in model.graph.node)


def logits(model: onnx.ModelProto | Path) -> np.ndarray:
    data = model.SerializeToString() if isinstance(model, onnx.ModelProto) else str(model)
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    feed = {"input_ids": IDS, "attention_mask": (IDS != 0).astype(np.int64),
            "token_type_ids": np.zeros_like(IDS)}
    names = {i.name for i in session.get_inputs()}
    return session.run(["logits"], {k: v for k, v in feed.items() if k in names})[0]


@pytest.fixture(scope="module")
def fused(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("fused") / "fused.onnx"
    # The optimizer reads heads and width from config.json beside the source graph.
    src = out.parent / ONNX_FP32
    src.write_bytes((tiny_model_dir / ONNX_FP32).read_bytes())
    (out.parent / "config.json").write_text((tiny_model_dir / "config.json").read_text())
    fuse_graph(src, out)
    return out


def test_attention_is_fused_once_per_layer_and_skip_layer_norm_is_not(
        fused: Path, tiny_model_dir: Path) -> None:
    layers = int(__import__("json").loads(
        (tiny_model_dir / "config.json").read_text())["num_hidden_layers"])
    counts = ops(onnx.load(str(fused)))
    assert counts["Attention"] == layers, counts
    assert counts["SkipLayerNormalization"] == 0, counts
    assert counts["Softmax"] == 0 and counts["Transpose"] == 0, counts
    assert counts["Gelu"] == layers and counts["BiasGelu"] == 0, counts
    np.testing.assert_allclose(logits(fused), logits(tiny_model_dir / ONNX_FP32), atol=1e-4)


def test_cls_only_last_layer_keeps_the_logits(fused: Path) -> None:
    graph = onnx.load(str(fused))
    before = logits(graph)
    assert cls_only_last_layer(graph)
    assert ops(graph)["Slice"] >= 2
    onnx.checker.check_model(graph)
    np.testing.assert_allclose(logits(graph), before, atol=1e-5)


def _row_logits(model: onnx.ModelProto | Path) -> np.ndarray:
    """Each row of IDS alone, unpadded (as the classifier runs them)."""
    data = model.SerializeToString() if isinstance(model, onnx.ModelProto) else str(model)
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    names = {i.name for i in session.get_inputs()}
    out = []
    for row in IDS:
        ids = row[row != 0][None, :]
        feed = {"input_ids": ids, "attention_mask": np.ones_like(ids),
                "token_type_ids": np.zeros_like(ids)}
        out.append(session.run(["logits"], {k: v for k, v in feed.items() if k in names})[0])
    return np.vstack(out)


@pytest.mark.parametrize("graph", ["fused", "int8 with mask"])
def test_drop_attention_mask_keeps_one_rows_logits(fused: Path, tmp_path: Path,
                                                  tiny_model_dir: Path, graph: str) -> None:
    if graph == "fused":
        model = onnx.load(str(fused))
    else:
        from model.export import quantize_int8

        folder = tmp_path / "m"
        __import__("shutil").copytree(tiny_model_dir, folder)
        quantize_int8(folder, mask_free=False)
        model = onnx.load(str(folder / "model.int8.onnx"))
    assert "attention_mask" in {i.name for i in model.graph.input}
    before = _row_logits(model)
    assert drop_attention_mask(model)
    onnx.checker.check_model(model)
    assert "attention_mask" not in {i.name for i in model.graph.input}
    assert ops(model)["ReduceSum"] == 0  # the mask's own work is gone with it
    np.testing.assert_array_equal(_row_logits(model), before)
    # The mask did matter to a padded batch: the rewrite is for single rows only.
    assert np.abs(logits(model)[1] - before[1]).max() > 1e-4


def test_an_unfused_graph_keeps_its_mask(tiny_model_dir: Path) -> None:
    model = onnx.load(str(tiny_model_dir / ONNX_FP32))  # the mask is added to the scores
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    assert not drop_attention_mask(model)
    assert model == copy


def test_a_graph_pooled_over_other_positions_is_left_alone(fused: Path) -> None:
    model = onnx.load(str(fused))
    nodes = list(model.graph.node)
    last_norm = [n for n in nodes if n.op_type == "LayerNormalization"][-1]
    (gather,) = [n for n in nodes if last_norm.output[0] in n.input]
    assert gather.op_type == "Gather"
    # The head now reads position 1: the last layer's other rows are needed after all.
    one = numpy_helper.from_array(np.array(1, dtype=np.int64), "pool_position_1")
    model.graph.initializer.append(one)
    gather.input[1] = "pool_position_1"
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    assert not cls_only_last_layer(model)
    assert model == copy


def test_a_graph_that_outputs_every_position_is_left_alone(fused: Path) -> None:
    model = onnx.load(str(fused))
    last_norm = [n for n in model.graph.node if n.op_type == "LayerNormalization"][-1]
    model.graph.output.append(onnx.helper.make_tensor_value_info(
        last_norm.output[0], onnx.TensorProto.FLOAT, None))
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    assert not cls_only_last_layer(model)
    assert model == copy


def test_the_release_graph_has_the_levers() -> None:
    from core.names import RELEASE_MODEL_DIR

    counts = ops(onnx.load(str(RELEASE_MODEL_DIR / "model.int8.onnx")))
    assert counts["QAttention"] == 6, counts
    assert counts["SkipLayerNormalization"] == 0, counts
    assert counts["Gelu"] == 6 and counts["BiasGelu"] == 0, counts
    assert counts["Slice"] >= 2, counts
    inputs = {i.name for i in onnx.load(str(RELEASE_MODEL_DIR / "model.int8.onnx")).graph.input}
    assert inputs == {"input_ids", "token_type_ids"}, inputs  # mask-free: one row per run


def _optimized_ops(model: Path, tmp: Path, disabled: list[str]) -> collections.Counter[str]:
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.optimized_model_filepath = str(tmp)
    opts.log_severity_level = 3  # (a warning that a saved optimized graph is CPU-specific)
    ort.InferenceSession(str(model), sess_options=opts, providers=["CPUExecutionProvider"],
                         disabled_optimizers=disabled)
    return ops(onnx.load(str(tmp)))


def test_the_classifier_keeps_onnxruntime_from_fusing_skip_layer_norm_at_load(
        tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    int8 = tiny_model_dir / "model.int8.onnx"  # plain Add + LayerNormalization nodes
    assert ops(onnx.load(str(int8)))["SkipLayerNormalization"] == 0
    # Control: left alone, onnxruntime fuses them when it loads the graph.
    assert _optimized_ops(int8, tmp_path / "default.onnx", [])["SkipLayerNormalization"] > 0
    ours = _optimized_ops(int8, tmp_path / "ours.onnx", list(SLOW_FUSIONS))
    assert ours["SkipLayerNormalization"] == 0
    # The feed-forward bias stays out of the Gelu at load as well: onnxruntime folds it into
    # the int8 product before it (no Add left for it: only the residual and embedding adds).
    layers = ops(onnx.load(str(int8)))["QAttention"]
    assert ours["Gelu"] == layers and ours["BiasGelu"] == 0, ours
    assert ours["Add"] == ops(onnx.load(str(int8)))["LayerNormalization"] + 1, ours
    # ...and the classifier's sessions are built with exactly those fusions off.
    seen: list[list[str]] = []
    real = ort.InferenceSession

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(list(kwargs.get("disabled_optimizers") or []))
        return real(*args, **kwargs)

    monkeypatch.setattr(ort, "InferenceSession", spy)
    OnnxClassifier(tiny_model_dir)
    assert seen and all(s == list(SLOW_FUSIONS) for s in seen)


def test_the_quantization_comparison_exports_every_variant(tiny_model_dir: Path) -> None:
    from model.evaluate import compare_quantization

    result = compare_quantization(tiny_model_dir)
    graphs = [r["graph"] for r in result["rows"]]
    assert graphs[0] == "fp32" and len(graphs) == 4
    assert all(0 <= r["accuracy"] <= 1 for r in result["rows"])
    # 8-bit tables make the file smaller than fp32 tables (the one thing that must hold
    # whatever the tiny model's accuracy).
    by = {r["graph"]: r for r in result["rows"]}
    assert by["int8, 8-bit embeddings"]["size_mb"] <= by["int8, fp32 embeddings"]["size_mb"]


def test_the_embedding_cost_over_seeds_is_each_seeds_own(tiny_model_dir: Path,
                                                          tmp_path: Path) -> None:
    import shutil

    from model.evaluate import compare_quantization

    seeds = tmp_path / "seeds"
    for name in ("seed-1", "seed-2"):
        shutil.copytree(tiny_model_dir, seeds / name)
    single = compare_quantization(tiny_model_dir)
    result = compare_quantization(tiny_model_dir, seeds_dir=seeds)
    over = result["embedding_cost_over_seeds"]
    # Two copies of the same weights: each seed's cost is this model's, and so is the mean.
    assert over["per_seed"] == {"seed-1": single["embedding_cost_points"],
                                "seed-2": single["embedding_cost_points"]}
    assert over["mean_points"] == single["embedding_cost_points"]
    assert "Over the 2 seeds" in result["note"] and "unfinished" not in over
    # a seed still training (no export in its folder yet) is listed, not measured
    (seeds / "seed-3" / "run").mkdir(parents=True)
    over = compare_quantization(tiny_model_dir, seeds_dir=seeds)["embedding_cost_over_seeds"]
    assert set(over["per_seed"]) == {"seed-1", "seed-2"} and over["unfinished"] == ["seed-3"]
    with pytest.raises(ValueError, match="no seed"):
        compare_quantization(tiny_model_dir, seeds_dir=tmp_path / "empty")

"""Export a fine-tuned model folder: ONNX fp32, int8 dynamic quantization, labels, version."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from core.names import (
    LABELS,
    LABELS_FILE,
    MODEL_FILE,
    MODEL_FP32_FILE,
    TOKENIZER_FILE,
    VERSION_FILE,
)

ONNX_FP32 = MODEL_FP32_FILE
ONNX_INT8 = MODEL_FILE
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")


def export_onnx(model: Any, out_dir: Path, *, opset: int = 17) -> Path:
    """Trace a Hugging Face sequence classifier to ONNX with dynamic batch and length."""
    import warnings

    import torch

    model = model.eval()
    # Eager attention traces to the MatMul/Softmax pattern onnxruntime's transformer optimizer
    # fuses into one Attention node (the SDPA trace is left unfused); the same math.
    if hasattr(model, "set_attn_implementation"):
        model.set_attn_implementation("eager")
    ids = torch.tensor([[101, 2023, 2003, 1037, 3231, 102, 0, 0], [101, 2023, 102, 0, 0, 0, 0, 0]])
    ids = ids.clamp(max=model.config.vocab_size - 1)
    mask = (ids != 0).long()
    types = torch.zeros_like(ids)
    axes = {name: {0: "batch", 1: "sequence"} for name in INPUT_NAMES}
    axes["logits"] = {0: "batch"}
    path = out_dir / ONNX_FP32
    # The TorchScript exporter is chosen on purpose: it needs no onnxscript and its graphs
    # quantize cleanly; the warnings it raises about itself are noise here.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (ids, mask, types), str(path), input_names=list(INPUT_NAMES),
                          output_names=["logits"], dynamic_axes=axes, opset_version=opset,
                          dynamo=False)
    return path


ONNX_FUSED = "model.fused.onnx"


def fuse_graph(src: Path, dst: Path) -> dict[str, int]:
    """onnxruntime's transformer optimizer (offline): one Attention node per layer (Q, K and V
    in one matrix) and Gelu fusion on the fp32 graph.

    - Heads and width come from the model's config.json next to `src`: the optimizer cannot
      read them from this graph ("Failed to detect num_heads"), and without them it silently
      fuses no attention at all (a dozen Reshape/Transpose/MatMul nodes per layer stay).
    - Residual adds and LayerNormalization stay separate nodes: onnxruntime's CPU
      SkipLayerNormalization kernel measured 80 us against 20 us for Add + LayerNormalization
      on one 31-token headline, and 12 of them made a quarter of the model's time. The
      classifier also turns off the same fusion at load (SLOW_FUSIONS).
    - The feed-forward bias stays an Add before a plain (erf) Gelu instead of one BiasGelu:
      onnxruntime then folds that Add into the int8 product before it (a bias input) and its
      Gelu kernel is faster than BiasGelu's (270 -> 164 us a headline, the same logits;
      paired A/B over the 690 test sentences: 4.5-5% less model time). At load onnxruntime
      folds the bias into the product first, so it never fuses a BiasGelu back.
    - The embedding lookups stay plain Gathers so they can be stored as 8-bit."""
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    config_path = src.parent / "config.json"
    if not config_path.exists():
        from core.errors import ModelNotFoundError

        raise ModelNotFoundError(f"{src.parent} has no config.json: the graph fusion needs the "
                                 "model's heads and width (export from a trained folder)")
    config = json.loads(config_path.read_text())
    opts = FusionOptions("bert")
    opts.enable_embed_layer_norm = False
    opts.enable_skip_layer_norm = False
    opts.enable_bias_gelu = False
    optimized = optimize_model(str(src), model_type="bert",
                               num_heads=int(config["num_attention_heads"]),
                               hidden_size=int(config["hidden_size"]),
                               optimization_options=opts, opt_level=1, use_gpu=False)
    optimized.save_model_to_file(str(dst))
    return {k: v for k, v in optimized.get_fused_operator_statistics().items() if v}


def cls_only_last_layer(model: Any) -> bool:
    """Rewrite a fused BERT-style graph so its last layer computes only the [CLS] position.

    The classifier head reads one vector, the last layer's output at position 0 (a Gather of
    index 0: BertPooler), so that layer's output projection, feed-forward block and layer
    norms over the other positions are work thrown away: about an eighth of the model's
    multiply-adds for MiniLM-L6. The last Attention still reads every position (keys and
    values need them); its output and the residual it is added to are sliced to position 0,
    and everything after runs on one row. The logits are the same (fp32: to rounding).

    Returns False, leaving the graph untouched, when the pattern is not exactly that (a
    model pooled over all positions must keep them)."""
    import numpy as np
    from onnx import helper, numpy_helper

    graph = model.graph
    nodes = list(graph.node)
    consumers: dict[str, list[Any]] = {}
    for node in nodes:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    attentions = [n for n in nodes if n.op_type == "Attention"]
    if not attentions:
        return False
    last = attentions[-1]
    start = nodes.index(last)
    context, hidden_in = last.output[0], last.input[0]
    out_proj = consumers.get(context, [])
    residual = [n for n in consumers.get(hidden_in, [])
                if n is not last and n.op_type == "Add" and nodes.index(n) > start]
    if len(out_proj) != 1 or out_proj[0].op_type != "MatMul" or len(residual) != 1:
        return False
    # Where the encoder ends: the output of the graph's last LayerNormalization, read only by
    # a Gather of position 0 on the sequence axis.
    norms = [n for n in nodes[start:] if n.op_type == "LayerNormalization"]
    if not norms:
        return False
    if norms[-1].output[0] in {o.name for o in graph.output}:
        return False  # every position's hidden state is an output of the graph
    readers = consumers.get(norms[-1].output[0], [])
    constants = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    for node in nodes:
        if node.op_type == "Constant" and node.attribute:
            constants[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    axis = {a.name: a.i for r in readers for a in r.attribute}
    if (len(readers) != 1 or readers[0].op_type != "Gather" or axis.get("axis") != 1
            or readers[0].input[1] not in constants
            or np.asarray(constants[readers[0].input[1]]).reshape(-1).tolist() != [0]):
        return False
    for name, value in (("cls_slice_start", 0), ("cls_slice_end", 1), ("cls_slice_axis", 1)):
        graph.initializer.append(numpy_helper.from_array(np.array([value], dtype=np.int64),
                                                         name))
    sliced_context, sliced_hidden = context + "_cls", hidden_in + "_cls"
    slices = [helper.make_node("Slice", [src, "cls_slice_start", "cls_slice_end",
                                         "cls_slice_axis"], [dst], name=dst + "_slice")
              for src, dst in ((context, sliced_context), (hidden_in, sliced_hidden))]
    for i, name in enumerate(out_proj[0].input):
        if name == context:
            out_proj[0].input[i] = sliced_context
    for i, name in enumerate(residual[0].input):
        if name == hidden_in:
            residual[0].input[i] = sliced_hidden
    # Topological order: the slices right after the last Attention.
    del graph.node[:]
    graph.node.extend([*nodes[:start + 1], *slices, *nodes[start + 1:]])
    return True


#: The input of each fused attention node that carries the mask.
_MASK_INPUT = {"Attention": 3, "QAttention": 5}


def drop_attention_mask(model: Any) -> bool:
    """Rewrite a fused graph to read no attention mask: for one unpadded sentence per run.

    The classifier runs every text in a model run of its own (OnnxClassifier), so the mask
    is all ones and the work deriving it (a Cast and a ReduceSum feeding every attention
    node) and the masking inside each attention node are thrown away: without the mask
    input onnxruntime's attention attends to every position, the same as an all-ones mask
    (identical logits on the canonical test). The `attention_mask` input leaves the graph,
    so a padded batch cannot be fed to it by mistake (the classifier refuses one).

    Returns False, leaving the graph untouched, when the mask reaches anything but the
    attention nodes' mask inputs (an unfused graph adds it to the scores itself)."""
    import onnx

    graph = model.graph
    if "attention_mask" not in {i.name for i in graph.input}:
        return False
    edited = onnx.ModelProto()
    edited.CopyFrom(model)
    g = edited.graph
    for node in g.node:
        slot = _MASK_INPUT.get(node.op_type)
        if node.domain == "com.microsoft" and slot is not None and len(node.input) > slot:
            node.input[slot] = ""
    # Prune what no longer feeds anything (the mask's Cast and ReduceSum), to a fixed point.
    outputs = {o.name for o in g.output}
    while True:
        read = {name for node in g.node for name in node.input} | outputs
        dead = [n for n in g.node if not any(o in read for o in n.output)]
        if not dead:
            break
        for node in dead:
            g.node.remove(node)
    if "attention_mask" in {name for node in g.node for name in node.input}:
        return False
    (mask_input,) = [i for i in g.input if i.name == "attention_mask"]
    g.input.remove(mask_input)
    used = {name for node in g.node for name in node.input}
    kept = [t for t in g.initializer if t.name in used]
    del g.initializer[:]
    g.initializer.extend(kept)
    model.CopyFrom(edited)
    return True


def quantize_int8(out_dir: Path, *, embeddings: bool = True, fused: bool = True,
                  per_channel: bool = True, mask_free: bool = True) -> Path:
    """Dynamic int8 quantization of the weights (activations stay fp32, quantized per call).

    - `fused`: from the fused graph (fuse_graph): one Attention per layer instead of a dozen
      nodes, about 10% faster per headline on 2 cores.
    - `per_channel`: one scale per output column instead of one per matrix. The fused Q, K and
      V weights share a matrix, and one scale for all three cost 0.4 point; per column, the
      int8 graph matched or beat fp32 on the canonical test (model card, "Export").
    - `embeddings`: the embedding lookups (Gather on the word, position and type tables) are
      stored as 8-bit too, which is most of the file: 30,522 x 384 floats for MiniLM.
    - `mask_free` (with `fused`): the graph reads no attention mask (drop_attention_mask), for
      the classifier's one unpadded sentence per run: identical logits, 1-4% less model time
      (paired A/Bs; the VM's noise is of that size)."""
    import logging

    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    dst = out_dir / ONNX_INT8
    src = out_dir / ONNX_FP32
    ops = ["MatMul", "Gemm", *(["Attention"] if fused else []),
           *(["Gather"] if embeddings else [])]
    # onnxruntime logs (on the root logger) a suggestion to pre-process on every call.
    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.ERROR))
    try:
        if fused:
            import onnx

            src = out_dir / ONNX_FUSED
            fuse_graph(out_dir / ONNX_FP32, src)
            graph = onnx.load(str(src))
            if cls_only_last_layer(graph):
                onnx.save(graph, str(src))
        # Fused nodes are in the com.microsoft domain, where shape inference cannot type
        # every tensor: the default says they are float.
        quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8,
                         per_channel=per_channel, op_types_to_quantize=ops,
                         extra_options={"DefaultTensorType": TensorProto.FLOAT})
        if fused and mask_free:
            import onnx

            graph = onnx.load(str(dst))
            if drop_attention_mask(graph):
                onnx.save(graph, str(dst))
    finally:
        root.setLevel(level)
        if fused:
            (out_dir / ONNX_FUSED).unlink(missing_ok=True)
    return dst


def reexport(source: Path, out: Path) -> Path:
    """The ONNX graphs of a trained folder's weights, exported afresh with this module's
    current export (fp32 + int8) into `out` (which may be the folder itself), with its
    tokenizer, labels (calibrated temperature included) and headline holdout; metrics are
    left to the caller."""
    import shutil

    from transformers import AutoModelForSequenceClassification

    out.mkdir(parents=True, exist_ok=True)
    model = AutoModelForSequenceClassification.from_pretrained(str(source))
    for name in ("config.json", "model.safetensors", TOKENIZER_FILE, "tokenizer_config.json",
                 LABELS_FILE, "validation_headlines.csv"):
        if (source / name).exists() and source.resolve() != out.resolve():
            shutil.copy2(source / name, out / name)
    export_onnx(model, out)
    quantize_int8(out)
    write_model_version(out)
    return out


def write_labels(out_dir: Path, *, id2label: dict[int, str], max_length: int,
                 temperature: float = 1.0, base_model: str = "") -> dict:
    labels = [id2label[i] for i in range(len(id2label))]
    assert sorted(labels) == sorted(LABELS), labels
    meta = {"labels": labels, "max_length": max_length, "temperature": temperature,
            "base_model": base_model}
    (out_dir / LABELS_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def write_model_version(out_dir: Path) -> str:
    """Content hash of what serves: the int8 graph, the tokenizer and labels.json (and the
    entity head and the event layer, where the folder has them)."""
    from core.names import OPTIONAL_SERVING_FILES

    h = hashlib.sha256()
    for name in (ONNX_INT8, TOKENIZER_FILE, LABELS_FILE,
                 *(f for f in OPTIONAL_SERVING_FILES if (out_dir / f).exists())):
        h.update(name.encode())
        with (out_dir / name).open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    version = h.hexdigest()[:16]
    (out_dir / VERSION_FILE).write_text(version + "\n")
    return version


SAGEMAKER_FILES = ("config.json", "model.safetensors", TOKENIZER_FILE, "tokenizer_config.json",
                   "special_tokens_map.json", "vocab.txt", LABELS_FILE, VERSION_FILE)


def export_sagemaker(model_dir: Path, out_dir: Path) -> Path:
    """model.tar.gz in the Hugging Face inference toolkit layout (weights + code/inference.py;
    with the folder's event layer, the layer and the tagger's code too)."""
    import tarfile

    from core.adapters.event_layer import LAYER_FILE

    out_dir.mkdir(parents=True, exist_ok=True)
    missing = [n for n in ("config.json", "model.safetensors", LABELS_FILE)
               if not (model_dir / n).exists()]
    if missing:
        from core.errors import ModelNotFoundError

        raise ModelNotFoundError(f"{model_dir} lacks {', '.join(missing)}: run `newsig model "
                                 "train` first")
    inference = Path(__file__).resolve().parent / "sagemaker" / "inference.py"
    target = out_dir / "model.tar.gz"
    tmp = target.with_suffix(".tmp")
    with tarfile.open(tmp, "w:gz") as tar:
        for name in SAGEMAKER_FILES:
            if (model_dir / name).exists():
                tar.add(model_dir / name, arcname=name)
        tar.add(inference, arcname="code/inference.py")
        layer = model_dir / LAYER_FILE
        if layer.exists():  # the event layer, and the tagger it reads (stdlib only)
            import core

            tar.add(layer, arcname=LAYER_FILE)
            package = Path(core.__file__).resolve().parent
            for name in ("__init__.py", "names.py", "events.py"):
                tar.add(package / name, arcname=f"code/core/{name}")
    tmp.replace(target)
    return target

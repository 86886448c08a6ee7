"""SageMaker: inference.py called as the HF toolkit would, and the endpoint adapter under
botocore's Stubber (no AWS reached)."""

from __future__ import annotations

import importlib.util
import io
import json
import tarfile
from pathlib import Path

import boto3
import numpy as np
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from core.adapters.onnx_classifier import OnnxClassifier
from core.adapters.sagemaker_classifier import SageMakerClassifier
from core.errors import ClassifierError, ClassifierUnavailableError
from model.export import export_sagemaker

TEXTS = ["shares rose on record profit", "profit fell to a loss", "board meets monday"]


@pytest.fixture(scope="module")
def unpacked(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sm")
    artifact = export_sagemaker(tiny_model_dir, out)
    with tarfile.open(artifact) as tar:
        names = set(tar.getnames())
        tar.extractall(out / "model", filter="data")
    assert {"code/inference.py", "config.json", "model.safetensors", "tokenizer.json",
            "labels.json", "model_version"} <= names
    assert not any(n.endswith(".onnx") for n in names)
    return out / "model"


@pytest.fixture(scope="module")
def inference(unpacked: Path):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("sm_inference", unpacked / "code" /
                                                  "inference.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def serve(inference, model, body: object) -> dict:  # type: ignore[no-untyped-def]
    data = inference.input_fn(json.dumps(body), "application/json")
    return json.loads(inference.output_fn(inference.predict_fn(data, model), "application/json"))


def test_inference_serves_the_classify_json(inference, unpacked: Path,  # type: ignore[no-untyped-def]
                                            tiny_model_dir: Path) -> None:
    model = inference.model_fn(str(unpacked))
    out = serve(inference, model, {"headlines": TEXTS})
    preds = out["predictions"]
    assert [p["text"] for p in preds] == TEXTS
    assert [p["label"] for p in preds] == ["positive", "negative", "neutral"]
    onnx = OnnxClassifier(tiny_model_dir, model_file="model.onnx").classify(TEXTS)
    for p, o in zip(preds, onnx, strict=True):
        assert set(p) == {"text", "label", "probabilities", "score", "model_version"}
        np.testing.assert_allclose(list(p["probabilities"].values()),
                                   o.probabilities.as_list(), atol=1e-4)
        assert p["score"] == pytest.approx(p["probabilities"]["positive"]
                                           - p["probabilities"]["negative"])
        assert p["model_version"] == o.model_version
    for body in ({"inputs": TEXTS[0]}, {"query": {"headline": TEXTS[0]}},
                 {"headline": TEXTS[0]}, {"inputs": TEXTS}):
        first = serve(inference, model, body)["predictions"][0]
        assert first["label"] == "positive"


@pytest.mark.parametrize("body", [{}, {"headline": ""}, {"headlines": []},
                                  {"headlines": ["x"] * 65}, {"query": "x"},
                                  {"headline": "a", "inputs": "b"}, ["not", "an", "object"]])
def test_inference_rejects_bad_bodies(inference, body: object) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError):
        inference.input_fn(json.dumps(body), "application/json")
    with pytest.raises(ValueError, match="content type"):
        inference.input_fn("x", "text/csv")


def stubbed(response_body: dict | None = None, error: tuple[str, int] | None = None,
            texts: list[str] = TEXTS) -> tuple[SageMakerClassifier, Stubber]:
    client = boto3.client("sagemaker-runtime", region_name="us-east-1")
    stub = Stubber(client)
    expected = {"EndpointName": "newsig", "ContentType": "application/json",
                "Accept": "application/json", "Body": json.dumps({"headlines": texts})}
    if error:
        stub.add_client_error("invoke_endpoint", service_error_code=error[0],
                              http_status_code=error[1], expected_params=expected)
    else:
        raw = json.dumps(response_body).encode()
        stub.add_response("invoke_endpoint", {
            "Body": StreamingBody(io.BytesIO(raw), len(raw)),
            "ContentType": "application/json"}, expected)
    stub.activate()
    return SageMakerClassifier("newsig", client=client), stub


def test_sagemaker_classifier_parses_endpoint_json() -> None:
    body = {"predictions": [{"text": t, "label": "neutral", "probabilities": {
        "negative": 0.1, "neutral": 0.6, "positive": 0.3}, "score": 0.2,
        "model_version": "abc123"} for t in TEXTS]}
    clf, stub = stubbed(body)
    preds = clf.classify(TEXTS)
    stub.assert_no_pending_responses()
    assert [p.label.value for p in preds] == ["neutral"] * 3
    assert preds[0].score == pytest.approx(0.2)
    assert clf.model_version == "abc123"


def test_sagemaker_classifier_batches_at_most_64() -> None:
    client = boto3.client("sagemaker-runtime", region_name="us-east-1")
    stub = Stubber(client)
    texts = [f"headline {i}" for i in range(100)]
    for part in (texts[:64], texts[64:]):
        raw = json.dumps({"predictions": [{"probabilities": {
            "negative": 0.2, "neutral": 0.2, "positive": 0.6}} for _ in part]}).encode()
        stub.add_response("invoke_endpoint", {"Body": StreamingBody(io.BytesIO(raw), len(raw))},
                          {"EndpointName": "e", "ContentType": "application/json",
                           "Accept": "application/json",
                           "Body": json.dumps({"headlines": part})})
    stub.activate()
    preds = SageMakerClassifier("e", client=client, batch_size=500).classify(texts)
    assert len(preds) == 100 and all(p.label.value == "positive" for p in preds)
    stub.assert_no_pending_responses()


@pytest.mark.parametrize(("code", "status", "kind"), [
    ("ModelError", 424, ClassifierError),
    ("ThrottlingException", 400, ClassifierUnavailableError),
    ("ServiceUnavailable", 503, ClassifierUnavailableError),
    ("InternalFailure", 500, ClassifierUnavailableError),
    ("ValidationError", 400, ClassifierError),
])
def test_sagemaker_errors_become_core_errors(code: str, status: int, kind: type) -> None:
    clf, _ = stubbed(error=(code, status))
    with pytest.raises(kind) as info:
        clf.classify(TEXTS)
    assert type(info.value) is kind and code in str(info.value)


def test_sagemaker_wrong_body_is_a_classifier_error() -> None:
    clf, _ = stubbed({"predictions": []})
    with pytest.raises(ClassifierError, match="0 predictions for 3"):
        clf.classify(TEXTS)


def test_an_endpoint_with_an_event_layer_applies_it(tiny_model_dir: Path,
                                                     tmp_path: Path) -> None:
    """A folder with an event layer packs the layer and the tagger; inference.py applies the
    same formula as the in-process adapter, and the packed tagger imports with the standard
    library alone (the container has no news-signals)."""
    import shutil
    import subprocess
    import sys

    from core.adapters.event_layer import EventLayer

    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    layer = EventLayer({"bankruptcy": (9.0, -9.0, -9.0)})
    layer.save(folder)
    artifact = export_sagemaker(folder, tmp_path / "out")
    with tarfile.open(artifact) as tar:
        names = set(tar.getnames())
        tar.extractall(tmp_path / "unpacked", filter="data")
    unpacked = tmp_path / "unpacked"
    assert {"event_layer.json", "code/core/events.py", "code/core/names.py"} <= names
    probe = ("import sys; sys.path.insert(0, sys.argv[1]); from core.events import tag; "
             "print(tag('Acme files for Chapter 11 bankruptcy'))")
    out = subprocess.run([sys.executable, "-S", "-I", "-c", probe, str(unpacked / "code")],
                         capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "['bankruptcy']"

    spec = importlib.util.spec_from_file_location("sm_inference_layer",
                                                  unpacked / "code" / "inference.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.model_fn(str(unpacked))
    texts = ["Acme files for Chapter 11 bankruptcy", "board meets monday"]
    served = serve(module, model, {"headlines": texts})["predictions"]
    model["event_layer"] = None
    plain = serve(module, model, {"headlines": texts})["predictions"]
    assert served[1]["probabilities"] == plain[1]["probabilities"]
    assert served[0]["label"] == "negative"
    expected = layer.adjust(texts[:1], np.array([[plain[0]["probabilities"][k] for k in
                                                  ("negative", "neutral", "positive")]]))[0]
    got = [served[0]["probabilities"][k] for k in ("negative", "neutral", "positive")]
    assert np.allclose(got, expected, atol=1e-9)

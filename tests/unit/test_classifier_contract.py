"""The Classifier contract. Every classifier adapter runs this same suite: the in-process ONNX
model (int8 and fp32 graphs) and the SageMaker endpoint adapter, whose runtime client is
answered by the real inference.py (model_fn/input_fn/predict_fn/output_fn) on the same tiny
model, so no AWS is reached and no answer is made up."""

from __future__ import annotations

import importlib.util
import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.adapters.onnx_classifier import OnnxClassifier
from core.adapters.sagemaker_classifier import SageMakerClassifier
from core.errors import InvalidInputError
from core.models import Sentiment
from core.names import MAX_HEADLINES_PER_REQUEST
from core.ports import Classifier
from model.export import export_sagemaker
from tests.support.tiny_model import PROBES


class InferenceRuntime:
    """A sagemaker-runtime client whose InvokeEndpoint runs inference.py in-process."""

    def __init__(self, model_dir: Path, tmp: Path) -> None:
        with tarfile.open(export_sagemaker(model_dir, tmp)) as tar:
            tar.extractall(tmp / "model", filter="data")
        spec = importlib.util.spec_from_file_location("contract_inference",
                                                      tmp / "model" / "code" / "inference.py")
        assert spec and spec.loader
        self.inference = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(self.inference)
        self.model = self.inference.model_fn(str(tmp / "model"))
        self.requests: list[int] = []

    def invoke_endpoint(self, *, EndpointName: str, ContentType: str, Accept: str,
                        Body: str) -> dict[str, Any]:
        texts = self.inference.input_fn(Body, ContentType)
        self.requests.append(len(texts))
        out = self.inference.output_fn(self.inference.predict_fn(texts, self.model), Accept)
        return {"Body": io.BytesIO(out.encode()), "ContentType": Accept}


@pytest.fixture(scope="module")
def runtime(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> InferenceRuntime:
    return InferenceRuntime(tiny_model_dir, tmp_path_factory.mktemp("contract-sm"))


@pytest.fixture(params=["onnx-int8", "onnx-fp32", "sagemaker"])
def any_classifier(request: pytest.FixtureRequest, tiny_model_dir: Path) -> Iterator[Classifier]:
    if request.param == "sagemaker":
        yield SageMakerClassifier("contract", client=request.getfixturevalue("runtime"),
                                  batch_size=8)
    else:
        graph = "model.int8.onnx" if request.param == "onnx-int8" else "model.onnx"
        yield OnnxClassifier(tiny_model_dir, model_file=graph)


def test_is_a_classifier(any_classifier: Classifier) -> None:
    assert isinstance(any_classifier, Classifier)


def test_empty_input_gives_no_predictions(any_classifier: Classifier) -> None:
    assert any_classifier.classify([]) == []


def test_one_prediction_per_text_in_order_with_the_expected_labels(
        any_classifier: Classifier) -> None:
    texts = [t for t, _ in PROBES]
    preds = any_classifier.classify(texts)
    assert [p.label.value for p in preds] == [label for _, label in PROBES]
    for p in preds:
        values = p.probabilities.as_list()
        assert sum(values) == pytest.approx(1.0, abs=1e-6)
        assert p.score == pytest.approx(p.probabilities.positive - p.probabilities.negative)
        assert p.label.value == ("negative", "neutral", "positive")[values.index(max(values))]
        assert p.model_version == any_classifier.model_version != ""


def test_more_texts_than_a_batch_or_a_request_keep_their_order(
        any_classifier: Classifier) -> None:
    texts = [t for t, _ in PROBES] * 8  # 192: several batches, over one endpoint request
    assert len(texts) > MAX_HEADLINES_PER_REQUEST
    one_by_one = {t: any_classifier.classify([t])[0] for t, _ in PROBES}
    together = any_classifier.classify(texts)
    assert len(together) == len(texts)
    # int8 graphs quantize activations per call, with one scale over the whole batch tensor
    # (padding included), so the same text's probabilities move a little with the texts it is
    # batched with (1.7e-4 seen on the tiny model); fp32 only by float rounding.
    tol = 1e-3 if getattr(any_classifier, "model_file", "") == "model.int8.onnx" else 1e-4
    # The probes span all three labels, so a text answered with another label's prediction
    # fails the label check whatever the tolerance.
    assert {p.label for p in one_by_one.values()} == set(Sentiment)
    for text, p in zip(texts, together, strict=True):
        assert p.label == one_by_one[text].label
        assert p.probabilities.as_list() == pytest.approx(one_by_one[text].probabilities.as_list(),
                                                          abs=tol)


@pytest.mark.parametrize("bad", [["fine", "   "], ["", "x"], "one string, not a list"])
def test_empty_texts_and_a_bare_string_are_refused(any_classifier: Classifier,
                                                   bad: Any) -> None:
    with pytest.raises(InvalidInputError):
        any_classifier.classify(bad)


def test_the_endpoint_is_never_sent_more_than_it_takes(runtime: InferenceRuntime) -> None:
    clf = SageMakerClassifier("contract", client=runtime, batch_size=500)
    runtime.requests.clear()
    assert len(clf.classify(["profit rose to a record"] * 150)) == 150
    assert max(runtime.requests) <= MAX_HEADLINES_PER_REQUEST


def test_the_served_limits_are_core_limits(runtime: InferenceRuntime) -> None:
    # inference.py runs in AWS's container without this package, so it keeps its own copy.
    from core.names import MAX_HEADLINE_CHARS

    assert runtime.inference.MAX_HEADLINES == MAX_HEADLINES_PER_REQUEST
    assert runtime.inference.MAX_CHARS == MAX_HEADLINE_CHARS
    assert json.loads(runtime.inference.output_fn(
        runtime.inference.predict_fn(["board meets monday"], runtime.model),
        "application/json"))["predictions"][0]["label"] == "neutral"

"""Classifier backed by a SageMaker endpoint serving model/sagemaker/inference.py."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from core.errors import ClassifierError, ClassifierUnavailableError, InvalidInputError
from core.models import Prediction, Probabilities
from core.names import MAX_HEADLINE_CHARS, MAX_HEADLINES_PER_REQUEST

UNAVAILABLE = {"ThrottlingException", "ServiceUnavailable", "InternalFailure",
               "InternalServerError", "ServiceUnavailableException", "ModelNotReadyException",
               "TooManyRequestsException"}


class SageMakerClassifier:
    def __init__(self, endpoint: str, *, client: Any, batch_size: int = 32) -> None:
        self.client = client
        self.endpoint = endpoint
        # The endpoint takes 1-MAX_HEADLINES_PER_REQUEST headlines per request.
        self.batch_size = max(1, min(batch_size, MAX_HEADLINES_PER_REQUEST))
        self._model_version = f"sagemaker:{endpoint}"

    @property
    def model_version(self) -> str:
        """The endpoint model's version, once a response has told it."""
        return self._model_version

    def _invoke(self, texts: list[str]) -> list[Prediction]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            resp = self.client.invoke_endpoint(
                EndpointName=self.endpoint, ContentType="application/json",
                Accept="application/json", Body=json.dumps({"headlines": texts}))
            body = json.loads(resp["Body"].read())
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            msg = f"SageMaker endpoint {self.endpoint}: {code}: {exc}"
            if code in UNAVAILABLE or status == 429 or (status >= 500 and code != "ModelError"):
                raise ClassifierUnavailableError(msg) from exc
            raise ClassifierError(msg) from exc
        except BotoCoreError as exc:  # timeouts, connection errors
            raise ClassifierUnavailableError(
                f"SageMaker endpoint {self.endpoint}: {exc}") from exc
        except (ValueError, KeyError) as exc:
            raise ClassifierError(f"SageMaker endpoint {self.endpoint} returned a body that "
                                  f"is not the classify JSON: {exc}") from exc
        try:
            items = body["predictions"]
            if len(items) != len(texts):
                raise ValueError(f"{len(items)} predictions for {len(texts)} texts")
            out = []
            for item in items:
                probs = Probabilities(**item["probabilities"])
                version = str(item.get("model_version") or self._model_version)
                out.append(Prediction.from_probabilities(probs.as_list(), version))
                self._model_version = version
            return out
        except (KeyError, TypeError, ValueError) as exc:
            raise ClassifierError(f"SageMaker endpoint {self.endpoint} returned an unexpected "
                                  f"body: {exc}") from exc

    def classify(self, texts: Sequence[str]) -> list[Prediction]:
        if isinstance(texts, str):
            raise InvalidInputError("classify takes a sequence of texts, not one string")
        for i, t in enumerate(texts):
            if not isinstance(t, str) or not t.strip():
                raise InvalidInputError(f"text {i} is empty", field=f"texts[{i}]")
        out: list[Prediction] = []
        for start in range(0, len(texts), self.batch_size):
            out += self._invoke([t[:MAX_HEADLINE_CHARS]
                                 for t in texts[start:start + self.batch_size]])
        return out

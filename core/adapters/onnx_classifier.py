"""In-process ONNX Runtime classifier: tokenizers + onnxruntime, no torch."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from core.adapters.entity_head import HEAD_FILE, EntityHead, clause_span, target_window
from core.adapters.event_layer import EventLayer
from core.concurrency import expected_parallel_calls
from core.errors import ClassifierError, InvalidInputError, ModelNotFoundError
from core.models import Prediction
from core.names import LABELS, LABELS_FILE, MODEL_FILE, TOKENIZER_FILE, VERSION_FILE

MODEL_FILES = (TOKENIZER_FILE, LABELS_FILE)
Row = TypeVar("Row")
Out = TypeVar("Out")


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = logits.astype(np.float64) / max(temperature, 1e-6)
    z -= z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def read_model_meta(model_dir: Path) -> dict:
    """labels.json: {"labels": [...model output order...], "max_length": int, "temperature": f}."""
    path = model_dir / LABELS_FILE
    try:
        meta = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ModelNotFoundError(f"{path} is missing: train a model with `newsig model train`"
                                 ) from exc
    except json.JSONDecodeError as exc:
        raise ModelNotFoundError(f"{path} is not valid JSON: {exc}") from exc
    labels = meta.get("labels")
    if not isinstance(labels, list) or sorted(labels) != sorted(LABELS):
        raise ModelNotFoundError(f"{path}: labels must be a permutation of {list(LABELS)}")
    return meta


def read_model_version(model_dir: Path) -> str:
    path = model_dir / VERSION_FILE
    return path.read_text().strip() if path.exists() else "unversioned"


#: onnxruntime graph fusions turned off at load because they make this model slower on CPU:
#: SkipLayerNormalization (residual add + LayerNorm in one kernel) measured 80 us per call
#: against 20 us for the two plain nodes on a 31-token headline (onnxruntime 1.32, AVX-512),
#: 12 calls per headline. Turning it off gave the same predictions on all 690 canonical test
#: sentences and cut the model call from 3.0 to 2.2-2.6 ms (model card, "Serving speed").
SLOW_FUSIONS = ("SkipLayerNormFusion",)


def make_session(model_path: str | Path, threads: int, *, profile_prefix: str | None = None,
                 spin: bool = True) -> Any:
    """An onnxruntime CPU session as the classifier runs it (all graph optimizations but
    SLOW_FUSIONS, `threads` intra-op threads); with `profile_prefix`, onnxruntime's profiler
    on, its JSON written under that prefix when the session's profiling ends."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    if not spin:  # idle workers sleep at once instead of spinning on the cores
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if profile_prefix is not None:
        opts.enable_profiling = True
        opts.profile_file_prefix = profile_prefix
    return ort.InferenceSession(str(model_path), sess_options=opts,
                                providers=["CPUExecutionProvider"],
                                disabled_optimizers=list(SLOW_FUSIONS))


class OnnxClassifier:
    """Classifies each text in a model run of its own; calibrated probabilities in LABELS order.

    One row per run, never a padded batch: the int8 graph quantizes its activations per call
    with one scale for the whole input tensor, so in a batch a headline's probabilities (and
    2% of the canonical test's labels, measured) depended on the other headlines and the
    padding in it. A headline now gets the same answer alone, in a request of 64, in an
    ingest pass or in a micro-batch. Many texts are spread over the cores instead (one
    thread each), which is also faster than padded batches of 32 on these short sentences
    (650 against 470 sentences/s on 2 cores)."""

    def __init__(self, model_dir: str | Path, *, model_file: str = MODEL_FILE,
                 threads: int = 0, max_length: int | None = None, spin: bool = True,
                 event_layer: bool = True) -> None:
        from tokenizers import Tokenizer

        self.model_dir = Path(model_dir)
        self.model_file = model_file
        model_path = self.model_dir / model_file
        for name in (model_file, *MODEL_FILES):
            if not (self.model_dir / name).exists():
                raise ModelNotFoundError(
                    f"model folder {self.model_dir} has no {name}: run `newsig model train` "
                    f"or set NEWSIG_MODEL_DIR")
        meta = read_model_meta(self.model_dir)
        self._order = [meta["labels"].index(label) for label in LABELS]
        self.temperature = float(meta.get("temperature", 1.0))
        self.max_length = int(max_length or meta.get("max_length", 128))
        self._model_version = read_model_version(self.model_dir)

        self.tokenizer = Tokenizer.from_file(str(self.model_dir / TOKENIZER_FILE))
        self.tokenizer.enable_truncation(max_length=self.max_length)
        self.tokenizer.no_padding()
        pad = self.tokenizer.token_to_id("[PAD]")
        self._pad_id = 0 if pad is None else pad

        # Threads by load: with `threads` unset, a call that runs alone gets every core
        # (intra-op parallelism cuts a lone headline's latency) and calls that overlap get one
        # thread each (parallel requests, not parallel operators, serve the most per second).
        # "Alone": no other call in this classifier, and the caller expects none
        # (core.concurrency: the server counts the requests queued for its model pool).
        # Two sessions over the same file; `threads` > 0 pins one session to that count.
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (
            os.cpu_count() or 1)
        widths = [threads] if threads else sorted({cores, 1}, reverse=True)
        try:
            self._sessions = [make_session(model_path, n, spin=spin) for n in widths]
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
            raise ModelNotFoundError(f"cannot load {model_path}: {exc}") from exc
        self.session = self._sessions[0]
        # Many texts in a call that runs alone: one worker per core, each running rows on
        # the one-thread session (onnxruntime sessions take concurrent runs).
        self._row_workers = 1 if threads else cores
        self._pool: ThreadPoolExecutor | None = None
        self._in_flight = 0
        self._count_lock = threading.Lock()
        self._inputs = {i.name for i in self.session.get_inputs()}
        self._lock = threading.Lock()  # tokenizer truncation state is shared
        # The entity head, where the folder has one and the graph outputs its layer.
        self.entity_head = EntityHead.load(self.model_dir)
        # The event layer, where the folder has one (core.adapters.event_layer); `event_layer`
        # False serves the model's own probabilities (for fitting one).
        self.event_layer = EventLayer.load(self.model_dir) if event_layer else None
        outputs = {o.name for o in self.session.get_outputs()}
        if self.entity_head is not None and not set(self.entity_head.hidden_outputs) <= outputs:
            raise ModelNotFoundError(
                f"{self.model_dir / HEAD_FILE} reads {self.entity_head.hidden_outputs}, which "
                f"{model_file} does not output (all): export the model with `newsig model "
                "entity-head`")

    @property
    def model_version(self) -> str:
        return self._model_version

    @property
    def session_threads(self) -> list[int]:
        """Intra-op threads of each session: [cores, 1] when chosen by load."""
        return [int(s.get_session_options().intra_op_num_threads) for s in self._sessions]

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text (truncated to max_length, unpadded)."""
        with self._lock:
            if len(texts) == 1:  # encode_batch would hand one text to rayon's thread pool
                return [self.tokenizer.encode(texts[0]).ids]
            return [e.ids for e in self.tokenizer.encode_batch(list(texts))]

    def feed(self, ids: list[list[int]]) -> dict[str, np.ndarray]:
        """The model's inputs for token id lists: right-padded, with the attention mask where
        the graph reads one (the release's graph reads none: one row per run)."""
        width = max(len(x) for x in ids)
        with_mask = "attention_mask" in self._inputs
        if not with_mask and any(len(seq) != width for seq in ids):
            # A mask-free graph (model.export.drop_attention_mask) would attend to the pads.
            raise ValueError("this model graph reads no attention mask: feed it one unpadded "
                             "sentence per run")
        input_ids = np.full((len(ids), width), self._pad_id, dtype=np.int64)
        for row, seq in enumerate(ids):
            input_ids[row, :len(seq)] = seq
        feed = {"input_ids": input_ids}
        if with_mask:
            lengths = np.array([len(seq) for seq in ids])[:, None]
            feed["attention_mask"] = (np.arange(width) < lengths).astype(np.int64)
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.zeros_like(input_ids)
        return feed

    def _logit_row(self, session: Any, ids: list[int]) -> np.ndarray:
        try:
            return session.run(["logits"], self.feed([ids]))[0][0]
        except Exception as exc:
            raise ClassifierError(f"ONNX model failed: {exc}") from exc

    def _spread(self, rows: Sequence[Row], one: Callable[[Any, Row], Out], *,
                size: Callable[[Row], int] | None = None) -> list[Out]:
        """`one(session, row)` for each row, each in a model run of its own: a lone row of a
        call that runs alone gets every core; many rows of a call that runs alone are spread
        over one worker per core (one thread each), dealt round-robin in `size` order so every
        worker gets a like share; overlapping calls get one thread each."""
        with self._count_lock:
            self._in_flight += 1
            alone = self._in_flight == 1 and expected_parallel_calls.get() <= 1
        try:
            narrow = self._sessions[-1]
            if len(rows) == 1 or not alone or self._row_workers == 1:
                session = self._sessions[0] if alone and len(rows) == 1 else narrow
                return [one(session, row) for row in rows]
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._row_workers,
                                                thread_name_prefix="newsig-onnx-rows")
            order = sorted(range(len(rows)), key=lambda i: size(rows[i])) if size else list(
                range(len(rows)))
            shares = [order[k::self._row_workers] for k in range(self._row_workers)]
            parts = [self._pool.submit(lambda idx: [one(narrow, rows[i]) for i in idx], share)
                     for share in shares]
            out: list[Any] = [None] * len(rows)
            for share, part in zip(shares, parts, strict=True):
                for i, result in zip(share, part.result(), strict=True):
                    out[i] = result
            return out
        finally:
            with self._count_lock:
                self._in_flight -= 1

    def _run(self, encoded: list[list[int]]) -> np.ndarray:
        """Logits of each token-id list, each in a model run of its own."""
        return np.stack(self._spread(encoded, self._logit_row, size=len))

    def classify(self, texts: Sequence[str]) -> list[Prediction]:
        if isinstance(texts, str):
            raise InvalidInputError("classify takes a sequence of texts, not one string")
        if not texts:
            return []
        for i, t in enumerate(texts):
            if not isinstance(t, str) or not t.strip():
                raise InvalidInputError(f"text {i} is empty", field=f"texts[{i}]")
        probs = softmax(self._run(self.encode(texts)), self.temperature)[:, self._order]
        if self.event_layer is not None:
            probs = self.event_layer.adjust(texts, probs)
        return [Prediction.from_probabilities(tuple(row), self._model_version) for row in probs]

    # -- the sentiment toward each company (core.ports.TargetedClassifier) -------------------
    @property
    def targeted(self) -> bool:
        return self.entity_head is not None

    def _states(self, text: str, session: Any = None
                ) -> tuple[np.ndarray, list[np.ndarray], list[tuple[int, int]]]:
        """Logits, the head's layers (each tokens x width) and token offsets of one text."""
        assert self.entity_head is not None
        with self._lock:
            enc = self.tokenizer.encode(text)
        try:
            logits, *hidden = (session or self._sessions[-1]).run(
                ["logits", *self.entity_head.hidden_outputs], self.feed([enc.ids]))
        except Exception as exc:
            raise ClassifierError(f"ONNX model failed: {exc}") from exc
        return logits[0], [h[0] for h in hidden], list(enc.offsets)

    def _one_target(self, session: Any, text: str, spans: Sequence[tuple[int, int]]
                    ) -> tuple[Prediction, list[Prediction]]:
        head = self.entity_head
        assert head is not None
        logits, hidden, offsets = self._states(text, session)
        probs = softmax(logits[None, :], self.temperature)[:, self._order]
        if self.event_layer is not None:
            probs = self.event_layer.adjust([text], probs)
        probs = probs[0]
        prediction = Prediction.from_probabilities(tuple(probs), self._model_version)
        targets = []
        first = min(spans) if spans else (0, 0)
        runs: dict[str, np.ndarray] = {}  # clause -> logits: one run per clause
        # Each target is read in the sentence around it, as the head was cross-validated
        # (docs/entity-sentiment.md): a headline is its own sentence (no further run); in a
        # passage, each sentence holding targets is one run, shared by its targets.
        windows = {(0, len(text)): (logits, hidden, offsets)}
        for start, end in spans:
            left, right = target_window(text, start, end)
            if (left, right) not in windows:
                windows[(left, right)] = self._states(text[left:right], session)
            scored = text[left:right]
            text_logits, h, off = windows[(left, right)]
            x = head.features(h, off, start - left, end - left)
            if x is None:
                targets.append(prediction)
                continue
            if head.clause:
                x = np.concatenate([x, self.clause_logits(
                    scored, start - left, end - left, text_logits,
                    (first[0] - left, first[1] - left) if len(spans) > 1 else None,
                    session, runs)])
            p = head.probabilities(x[None, :])
            if self.event_layer is not None and len(spans) == 1:
                # One company: the subject the taxonomy's polarities are about.
                p = self.event_layer.adjust([text], p)
            p = p[0]
            targets.append(Prediction.from_probabilities(tuple(p), self._model_version))
        return prediction, targets

    def clause_logits(self, text: str, start: int, end: int, text_logits: np.ndarray,
                      first: tuple[int, int] | None, session: Any = None,
                      runs: dict[str, np.ndarray] | None = None) -> np.ndarray:
        """The entity head's last six features: the logits (LABELS order) of the text and of
        the target's clause (docs/entity-sentiment.md, third rule). `first`: the span of the
        text's first target when it has several (None: one target). The clause is run only
        when it is not the whole text and does not hold the first target, once per clause
        (`runs`), so n targets cost at most n - 1 more runs."""
        left, right = clause_span(text, start, end)
        clause = text_logits
        holds_first = first is not None and left <= first[0] and first[1] <= right
        if first is not None and not holds_first and (left, right) != (0, len(text)):
            key = text[left:right]
            if runs is not None and key in runs:
                clause = runs[key]
            else:
                clause = self._states(key, session)[0]
                if runs is not None:
                    runs[key] = clause
        return np.concatenate([text_logits[self._order], clause[self._order]])

    def classify_targets(self, items: Sequence[tuple[str, Sequence[tuple[int, int]]]]
                         ) -> list[tuple[Prediction, list[Prediction]]]:
        """Each text's prediction and the sentiment toward each [start, end) span in it, from
        one model run per text (a span past the model's window: one more run, on the
        sentence around it), spread over the cores like `classify`. Without an entity head
        every span takes its text's prediction."""
        if self.entity_head is None:
            return [(p, [p] * len(spans)) for p, (_, spans) in
                    zip(self.classify([t for t, _ in items]), items, strict=True)]
        for i, (text, _) in enumerate(items):
            if not isinstance(text, str) or not text.strip():
                raise InvalidInputError(f"text {i} is empty", field=f"texts[{i}]")
        return self._spread(list(items), lambda session, item: self._one_target(
            session, *item), size=lambda item: len(item[0]))

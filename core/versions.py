"""Scores by model version: rescoring stored signals, coverage, diffs and the active version.

- `rescore`: scores the stored signals a version has not scored, oldest first, a batch at a
  time (read, one model run per headline spread over the cores, one write). The store is the
  checkpoint: a signal is either scored by the version or not, and each batch is written in one
  transaction (SQLite) or as whole items (DynamoDB), so a run killed at any point and run again
  finishes the job with nothing doubled or missed, and a second run finds nothing to do.
- `version_table`: every version with its counts and coverage, and which one is active.
- `diff`: two versions on the signals both scored: label flips by source, ticker and event.
- `activate`: switch the active version; refused while its coverage is incomplete unless
  forced, and logged in the store.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime
from itertools import pairwise
from typing import Any

from pydantic import BaseModel, ConfigDict

from core.errors import InvalidInputError, StoreError
from core.models import Entity, Prediction, Signal, utcnow
from core.ports import Classifier, TargetedClassifier, VersionedStore
from core.retry import RetryPolicy
from core.timeutil import to_iso


class RescoreJob(BaseModel):
    """One shard of a rescore fanned out over SQS (infra/constructs/rescore.py): a time
    window, and the version the worker's model must have (a worker deployed with another model
    refuses the job instead of scoring with the wrong one)."""

    model_config = ConfigDict(extra="forbid")

    model_version: str
    since: datetime | None = None
    until: datetime | None = None
    source: str | None = None
    ticker: str | None = None


def plan_jobs(version: str, start: datetime, end: datetime, shards: int, *,
              source: str | None = None, ticker: str | None = None) -> list[RescoreJob]:
    """`shards` consecutive windows covering [start, end) (the first open below, the last
    open above, so nothing at the edges is left out)."""
    shards = max(1, shards)
    step = (end - start) / shards
    edges = [start + step * i for i in range(1, shards)]
    bounds = [None, *edges, None]
    return [RescoreJob(model_version=version, since=lo, until=hi, source=source, ticker=ticker)
            for lo, hi in pairwise(bounds)]


class RescoreResult(BaseModel):
    model_version: str
    todo: int
    scored: int
    seconds: float
    rate_per_s: float
    complete: bool
    error: str | None = None


def rescored(signal: Signal, p: Prediction, per_entity: list[Prediction], version: str,
             at: datetime) -> Signal:
    """The signal carrying version `version`'s score (its entities each with theirs)."""
    entities = [Entity.of(e, q) for e, q in zip(signal.entities, per_entity, strict=False)]
    return signal.model_copy(update={
        "label": p.label, "probabilities": p.probabilities, "score": p.score,
        "model_version": version, "scored_at": at, "tier": p.tier, "entities": entities})


def score_batch(classifier: Classifier, signals: list[Signal]
                ) -> list[tuple[Prediction, list[Prediction]]]:
    """One model run per headline: its prediction and, with an entity head, the sentiment
    toward each stored entity (their spans); else each entity takes the headline's."""
    if isinstance(classifier, TargetedClassifier) and classifier.targeted and \
            any(s.entities for s in signals):
        return classifier.classify_targets([(s.title, [e.span for e in s.entities])
                                            for s in signals])
    return [(p, [p] * len(s.entities))
            for p, s in zip(classifier.classify([s.title for s in signals]), signals,
                            strict=True)]


def rescore(store: VersionedStore, classifier: Classifier, *, source: str | None = None,
            ticker: str | None = None, since: datetime | None = None,
            until: datetime | None = None, batch: int = 256, progress: bool = True,
            retry: RetryPolicy | None = None,
            clock: Callable[[], datetime] = utcnow,
            deadline: Callable[[], bool] | None = None) -> RescoreResult:
    """Score what `classifier`'s version has not scored in range; stops early (complete:
    false) when `deadline()` says time is up, e.g. a Lambda's remaining time."""
    from tqdm import tqdm

    version = classifier.model_version
    retry = retry or RetryPolicy()
    filters: dict[str, Any] = {"source": source, "ticker": ticker, "since": since,
                               "until": until}
    todo = store.missing(version, **filters)
    scored, after, error = 0, None, None
    started = time.perf_counter()
    with tqdm(total=todo, desc=f"rescore {version}", unit="signal", disable=not progress,
              smoothing=0.1) as bar:
        while deadline is None or not deadline():
            try:
                work = retry.call(lambda a=after: store.unscored(  # type: ignore[misc]
                    version, **filters, after=a, limit=batch))
                if not work:
                    break
                results = score_batch(classifier, work)
                at = clock()
                rows = [rescored(s, p, per, version, at)
                        for s, (p, per) in zip(work, results, strict=True)]
                retry.call(lambda r=rows: store.put_scores(r))  # type: ignore[misc]
            except StoreError as exc:
                error = (f"store failed after {scored} of {todo} signals were scored: {exc}; "
                         "run the same command again to finish (nothing is lost or doubled)")
                break
            scored += len(work)
            last = work[-1]
            after = (to_iso(last.first_seen_at), last.signal_id)
            bar.update(len(work))
    seconds = time.perf_counter() - started
    if error is None and deadline is not None and scored < todo:
        error = f"stopped at the deadline after {scored} of {todo}: run again to continue"
    return RescoreResult(model_version=version, todo=todo, scored=scored,
                         seconds=round(seconds, 3),
                         rate_per_s=round(scored / seconds, 1) if seconds > 0 else 0.0,
                         complete=error is None and scored >= todo, error=error)


def version_table(store: VersionedStore, serving: str | None = None) -> list[dict[str, Any]]:
    total, rows = store.versions()
    active = store.active_version()
    return [{**r, "coverage": round(r["scored"] / total, 6) if total else 0.0,
             "signals": total, "active": r["version"] == active,
             **({"serving": r["version"] == serving} if serving else {})} for r in rows]


def activate(store: VersionedStore, version: str, *, force: bool = False) -> dict[str, Any]:
    table = {r["version"]: r for r in version_table(store)}
    if version not in table:
        raise InvalidInputError(f"unknown model version {version!r}: no stored signal has a "
                                f"score by it (known: {', '.join(table) or 'none'})")
    coverage = table[version]["coverage"]
    if coverage < 1.0 and not force:
        missing = table[version]["signals"] - table[version]["scored"]
        raise InvalidInputError(f"{version} has scored {coverage:.2%} of the stored signals "
                                f"({missing} missing): run `newsig rescore` with that model "
                                "first, or pass --force")
    previous = store.active_version()
    store.set_active_version(version, coverage=coverage, forced=force and coverage < 1.0)
    return {"active": version, "previous": previous, "coverage": coverage,
            "forced": force and coverage < 1.0}


def paired(store: VersionedStore, a: str, b: str, *, page: int = 500,
           **filters: Any) -> Iterable[tuple[Signal, Signal]]:
    """(score by a, score by b) of every signal in range that both versions scored."""
    from core.ports import SignalStore

    assert isinstance(store, SignalStore)
    cursor = None
    while True:
        result = store.query(limit=page, cursor=cursor, model_version=a, **filters)
        other = store.scores([s.signal_id for s in result.items], b)
        yield from ((s, other[s.signal_id]) for s in result.items if s.signal_id in other)
        cursor = result.next_cursor
        if not cursor:
            return


def diff(pairs: Iterable[tuple[Signal, Signal]]) -> dict[str, Any]:
    """Two versions' scores of the same signals: flips overall and by source, ticker and
    event kind (largest first), the mean score shift, and each version's label mix."""
    n = 0
    flips: Counter[tuple[str, str]] = Counter()
    by: dict[str, Counter[str]] = {"source": Counter(), "ticker": Counter(), "event": Counter()}
    totals: dict[str, Counter[str]] = {"source": Counter(), "ticker": Counter(),
                                       "event": Counter()}
    mix_a: Counter[str] = Counter()
    mix_b: Counter[str] = Counter()
    shift = 0.0
    for a, b in pairs:
        n += 1
        mix_a[a.label.value] += 1
        mix_b[b.label.value] += 1
        shift += b.score - a.score
        flipped = a.label != b.label
        if flipped:
            flips[(a.label.value, b.label.value)] += 1
        for key, values in (("source", [a.source_id]), ("ticker", a.tickers),
                            ("event", a.events)):
            for v in values:
                totals[key][v] += 1
                if flipped:
                    by[key][v] += 1

    def top(key: str) -> list[dict[str, Any]]:
        return [{key: k, "flips": c, "signals": totals[key][k],
                 "flip_rate": round(c / totals[key][k], 4)}
                for k, c in by[key].most_common(20)]

    flipped_total = sum(flips.values())
    return {"signals": n, "flipped": flipped_total,
            "flip_rate": round(flipped_total / n, 4) if n else 0.0,
            "mean_score_shift": round(shift / n, 4) if n else 0.0,
            "flips": {f"{a}->{b}": c for (a, b), c in flips.most_common()},
            "label_mix": {"a": dict(mix_a), "b": dict(mix_b)},
            "by_source": top("source"), "by_ticker": top("ticker"), "by_event": top("event")}

"""DynamoDB signal store (single table; see README "DynamoDB table design").

- SIG#<signal_id> / SIG holds the signal (`doc`, JSON) and the keys of two GSIs:
  by_source (SRC#<source>, <first_seen_at>#<id>) and by_time (ALL, <first_seen_at>#<id>).
- TKR#<ticker> / <first_seen_at>#<id> is a copy of the signal for ticker queries.
- LINK#<link_key> / LINK marks a canonical link as seen (GUID changes).
- STORY#<story_id> / FIRST and / SRC#<source> hold a story's earliest sighting.
- FEED / <feed_id> holds per-feed polling state.

A signal and its ticker copies are written in one transaction conditioned on the signal not
existing, so it is written at most once and its copies exist iff it does. This adapter retries
nothing itself: botocore retries throttled and failed calls (standard mode, configured in
core.wiring), a throttled transaction cancellation becomes StoreUnavailableError for the use
case's retry policy (core.retry), and only keys a batch read left unprocessed are asked for
again (a bounded number of rounds). Backend errors become core.errors types here.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from core.adapters.common import fold_buckets, unique_batch
from core.cursor import decode_cursor, encode_cursor, query_fingerprint
from core.errors import InvalidInputError, ItemRejectedError, StoreError, StoreUnavailableError
from core.models import FeedState, PutResult, Signal, SignalPage, SummaryBucket
from core.names import (
    GSI_BY_SOURCE,
    GSI_BY_SOURCE_PK,
    GSI_BY_SOURCE_SK,
    GSI_BY_TIME,
    GSI_BY_TIME_PK,
    GSI_BY_TIME_SK,
    KEY_ALERT,
    KEY_ALL,
    KEY_FEED,
    KEY_LINK,
    KEY_META,
    KEY_SIGNAL,
    KEY_SOURCE,
    KEY_STORY,
    KEY_TICKER,
    KEY_VERSION,
    SORT_ALERT,
    SORT_LINK,
    SORT_SCORE,
    SORT_SIGNAL,
    TABLE_PARTITION_KEY,
    TABLE_SORT_KEY,
    TABLE_TTL_ATTRIBUTE,
)
from core.text import normalise_ticker
from core.timeutil import from_iso, to_iso

PK, SK = TABLE_PARTITION_KEY, TABLE_SORT_KEY
ALL = KEY_ALL
TRANSIENT = {"ProvisionedThroughputExceededException", "ThrottlingException",
             "RequestLimitExceeded", "InternalServerError", "ServiceUnavailable",
             "TransactionInProgressException", "LimitExceededException"}
_TRANSIENT_CANCEL = {"ThrottlingError", "ProvisionedThroughputExceeded", "TransactionConflict",
                     "RequestLimitExceeded"}
T = TypeVar("T")
log = logging.getLogger("newsig.dynamodb")
#: <first_seen_at ISO>#<signal_id>: the sort key of every time-ordered item.
_TIME_KEY = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z#[\w-]{1,128}")


def _until_as_of(until: datetime | None, as_of: datetime | None) -> datetime | None:
    """`until` (exclusive) narrowed to first sightings at or before `as_of`."""
    if as_of is None:
        return until
    edge = as_of + timedelta(microseconds=1)
    return min(until, edge) if until else edge


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _time_key(signal: Signal) -> str:
    return f"{to_iso(signal.first_seen_at)}#{signal.signal_id}"


class DynamoDBSignalStore:
    def __init__(self, table: str, *, client: Any, ttl_days: float | None = None,
                 unprocessed_rounds: int = 5, base_delay: float = 0.05,
                 workers: int = 8) -> None:
        self.client = client
        self.table = table
        self.ttl_days = ttl_days
        self.unprocessed_rounds = unprocessed_rounds
        self.base_delay = base_delay
        self.workers = workers

    # -- errors and retries -------------------------------------------------------------
    @contextmanager
    def _translate(self, what: str) -> Iterator[None]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            msg = f"DynamoDB {what} on {self.table}: {code}: {exc}"
            if code in TRANSIENT:
                raise StoreUnavailableError(msg) from exc
            raise StoreError(msg) from exc
        except BotoCoreError as exc:  # connection errors, timeouts
            raise StoreUnavailableError(f"DynamoDB {what} on {self.table}: {exc}") from exc

    def _sleep(self, attempt: int) -> None:
        time.sleep(self.base_delay * (2 ** attempt) * (0.5 + random.random() / 2))

    def _call(self, call: Callable[[], T], what: str) -> T:
        with self._translate(what):
            return call()

    # -- items --------------------------------------------------------------------------
    def _ttl(self, signal: Signal) -> dict[str, dict[str, str]]:
        if not self.ttl_days:
            return {}
        expires = int(signal.first_seen_at.timestamp() + self.ttl_days * 86400)
        return {TABLE_TTL_ATTRIBUTE: {"N": str(expires)}}

    def _signal_items(self, signal: Signal) -> list[dict[str, Any]]:
        doc = signal.model_dump_json()
        tk = _time_key(signal)
        common = {"doc": _s(doc), "source_id": _s(signal.source_id),
                  "story_id": _s(signal.story_id), **self._ttl(signal),
                  **({"events": {"SS": sorted(signal.events)}} if signal.events else {})}
        items = [{PK: _s(f"{KEY_SIGNAL}{signal.signal_id}"), SK: _s(SORT_SIGNAL),
                  GSI_BY_SOURCE_PK: _s(f"{KEY_SOURCE}{signal.source_id}"), GSI_BY_SOURCE_SK: _s(tk),
                  GSI_BY_TIME_PK: _s(ALL), GSI_BY_TIME_SK: _s(tk), **common}]
        # A ticker's copy carries the company's role and the sentiment toward it (a rater is
        # never among the tickers); signals without entities carry the headline's.
        for t in signal.tickers:
            e = signal.entity(t)
            extra = ({"role": _s(e.role.value), "label": _s(e.label.value),
                      "score": {"N": repr(e.score)}} if e else {})
            items.append({PK: _s(f"{KEY_TICKER}{t}"), SK: _s(tk), **common, **extra})
        link_key = signal.link_key
        if link_key:
            items.append({PK: _s(f"{KEY_LINK}{link_key}"), SK: _s(SORT_LINK),
                          "signal_id": _s(signal.signal_id), **self._ttl(signal)})
        return items

    def _put_one(self, signal: Signal) -> bool:
        """True if written, False if it existed already."""
        from botocore.exceptions import ClientError

        items = self._signal_items(signal)
        ops: list[dict[str, Any]] = [{"Put": {
            "TableName": self.table, "Item": items[0],
            "ConditionExpression": "attribute_not_exists(#pk)",
            "ExpressionAttributeNames": {"#pk": PK}}}]
        ops += [{"Put": {"TableName": self.table, "Item": item}} for item in items[1:]]
        try:
            self.client.transact_write_items(TransactItems=ops)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
            if code == "TransactionCanceledException" and reasons[:1] == [
                    "ConditionalCheckFailed"]:
                return False
            if code == "ValidationException" or (code == "TransactionCanceledException" and
                                                 "ValidationError" in reasons):
                raise ItemRejectedError(f"DynamoDB cannot hold this signal: "
                                        f"{exc.response.get('Error', {}).get('Message', code)}"
                                        ) from exc
            if code == "TransactionCanceledException" and set(reasons) & _TRANSIENT_CANCEL:
                # botocore does not retry cancellations: the use case's policy will.
                raise StoreUnavailableError(f"DynamoDB write on {self.table} cancelled: "
                                            f"{reasons}") from exc
            with self._translate("write"):
                raise
        except Exception as exc:
            with self._translate("write"):
                raise exc
        self._mark_story(signal)
        return True

    def _mark_story(self, signal: Signal) -> None:
        """Record the story's earliest sighting (overall and per source); never fails a write."""
        from botocore.exceptions import ClientError

        tk = _time_key(signal)
        for sk in ("FIRST", f"{KEY_SOURCE}{signal.source_id}"):
            try:
                self.client.put_item(
                    TableName=self.table,
                    Item={PK: _s(f"{KEY_STORY}{signal.story_id}"), SK: _s(sk), "time_key": _s(tk),
                          "signal_id": _s(signal.signal_id), **self._ttl(signal)},
                    ConditionExpression="attribute_not_exists(#pk) OR time_key > :tk",
                    ExpressionAttributeNames={"#pk": PK},
                    ExpressionAttributeValues={":tk": _s(tk)})
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    continue  # a missing marker only means "treat as first sighting"

    # -- SignalStore --------------------------------------------------------------------
    def put_many(self, signals: Iterable[Signal]) -> PutResult:
        """Each signal in one conditional transaction: an existing one is counted as a
        duplicate, not re-read first (the use case has deduplicated already)."""
        batch, repeats = unique_batch(signals)
        if not batch:
            return PutResult(written=0, duplicates=repeats)

        def attempt(signal: Signal) -> bool | StoreError:
            try:
                return self._put_one(signal)
            except StoreError as exc:
                return exc

        with ThreadPoolExecutor(max_workers=max(1, min(self.workers, len(batch)))) as ex:
            outcomes = list(ex.map(attempt, batch))
        rejected = {s.signal_id: str(o) for s, o in zip(batch, outcomes, strict=True)
                    if isinstance(o, ItemRejectedError)}
        errors = [o for o in outcomes if isinstance(o, StoreError)
                  and not isinstance(o, ItemRejectedError)]
        written = sum(1 for o in outcomes if o is True)
        per_source = Counter(s.source_id for s, o in zip(batch, outcomes, strict=True)
                             if o is True)
        for source, n in per_source.items():  # an atomic increment, never read-modify-write
            self._add_counter(source, "signals_written", n)
        per_version = Counter(s.model_version for s, o in zip(batch, outcomes, strict=True)
                              if o is True)
        for version, n in per_version.items():  # coverage counters: never fail the write
            try:
                self._count_version(version, n, first=True)
            except StoreError as exc:
                log.warning("version counter for %s not updated by %d: %s", version, n, exc)
        return PutResult(
            written=written, duplicates=sum(1 for o in outcomes if o is False) + repeats,
            failed=[s.signal_id for s, o in zip(batch, outcomes, strict=True)
                    if isinstance(o, StoreError) and not isinstance(o, ItemRejectedError)],
            error=str(errors[0]) if errors else None,
            retryable=all(isinstance(e, StoreUnavailableError) for e in errors),
            rejected=rejected)

    def _batch_get(self, keys: list[dict[str, Any]], projection: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for i in range(0, len(keys), 100):
            request: dict[str, Any] = {self.table: {
                "Keys": keys[i:i + 100], "ProjectionExpression": projection,
                "ExpressionAttributeNames": {"#pk": PK, "#sk": SK}}}
            for attempt in range(self.unprocessed_rounds + 1):
                resp = self._call(lambda r=request: self.client.batch_get_item(  # type: ignore[misc]
                    RequestItems=r), "batch read")
                found += resp.get("Responses", {}).get(self.table, [])
                request = resp.get("UnprocessedKeys") or {}
                if not request:
                    break
                if attempt == self.unprocessed_rounds:
                    raise StoreUnavailableError(
                        f"DynamoDB batch read on {self.table}: keys still unprocessed after "
                        f"{self.unprocessed_rounds} rounds")
                self._sleep(attempt)
        return found

    def existing_ids(self, signal_ids: Iterable[str]) -> set[str]:
        ids = list(dict.fromkeys(signal_ids))
        keys = [{PK: _s(f"{KEY_SIGNAL}{i}"), SK: _s(SORT_SIGNAL)} for i in ids]
        return {item[PK]["S"].removeprefix(KEY_SIGNAL)
                for item in self._batch_get(keys, "#pk, #sk")}

    def existing_link_keys(self, link_keys: Iterable[str]) -> set[str]:
        keys = [{PK: _s(f"{KEY_LINK}{k}"), SK: _s(SORT_LINK)}
                for k in dict.fromkeys(link_keys) if k]
        return {item[PK]["S"].removeprefix(KEY_LINK)
                for item in self._batch_get(keys, "#pk, #sk")}

    def get(self, signal_id: str) -> Signal | None:
        resp = self._call(lambda: self.client.get_item(
            TableName=self.table, Key={PK: _s(f"{KEY_SIGNAL}{signal_id}"),
                                       SK: _s(SORT_SIGNAL)}), "read")
        item = resp.get("Item")
        return Signal.model_validate_json(item["doc"]["S"]) if item else None

    def _query_spec(self, source: str | None, ticker: str | None, since: datetime | None,
                    until: datetime | None, role: str | None = None, event: str | None = None
                    ) -> tuple[dict[str, Any], list[str]]:
        if ticker:
            index, pk_name, sk_name = None, PK, SK
            pk_value = f"{KEY_TICKER}{normalise_ticker(ticker)}"
        elif source:
            index, pk_name, sk_name = GSI_BY_SOURCE, GSI_BY_SOURCE_PK, GSI_BY_SOURCE_SK
            pk_value = f"{KEY_SOURCE}{source}"
        else:
            index, pk_name, sk_name = GSI_BY_TIME, GSI_BY_TIME_PK, GSI_BY_TIME_SK
            pk_value = ALL
        names = {"#p": pk_name}
        if since or until:
            names["#s"] = sk_name
        values: dict[str, Any] = {":p": _s(pk_value)}
        cond = "#p = :p"
        if since and until:
            cond += " AND #s BETWEEN :lo AND :hi"
            values.update({":lo": _s(to_iso(since)), ":hi": _s(to_iso(until))})
        elif since:
            cond += " AND #s >= :lo"
            values[":lo"] = _s(to_iso(since))
        elif until:
            cond += " AND #s < :hi"
            values[":hi"] = _s(to_iso(until))
        spec: dict[str, Any] = {"TableName": self.table, "KeyConditionExpression": cond,
                                "ExpressionAttributeNames": names,
                                "ExpressionAttributeValues": values, "ScanIndexForward": False}
        if index:
            spec["IndexName"] = index
        filters = []
        if ticker and source:
            filters.append("source_id = :src")
            values[":src"] = _s(source)
        if ticker and role:
            filters.append("#role = :role")
            names["#role"] = "role"
            values[":role"] = _s(role)
        if event:
            filters.append("contains(#ev, :ev)")
            names["#ev"] = "events"
            values[":ev"] = _s(event)
        if filters:
            spec["FilterExpression"] = " AND ".join(filters)
        key_names = [PK, SK] + ([pk_name, sk_name] if index else [])
        return spec, key_names

    def _start_key(self, cursor: str, spec: dict[str, Any], key_names: list[str],
                   fingerprint: str) -> dict[str, Any]:
        """The ExclusiveStartKey a cursor stands for, checked against this very query (keys,
        partition, key shapes) before DynamoDB sees it: anything else is a 422, never a 500."""
        fields = decode_cursor(cursor, key_names, query=fingerprint)
        pk_attr = spec["ExpressionAttributeNames"]["#p"]
        pk_value = spec["ExpressionAttributeValues"][":p"]["S"]
        time_attr = SK if pk_attr == PK else {GSI_BY_SOURCE_PK: GSI_BY_SOURCE_SK,
                                              GSI_BY_TIME_PK: GSI_BY_TIME_SK}[pk_attr]
        time_key = fields[time_attr]
        ok = fields[pk_attr] == pk_value and _TIME_KEY.fullmatch(time_key) is not None
        if ok and pk_attr != PK:  # an index: the table key must be that signal's
            ok = (fields[PK] == f"{KEY_SIGNAL}{time_key.rpartition('#')[2]}"
                  and fields[SK] == SORT_SIGNAL)
        if not ok:
            raise InvalidInputError("cursor is not one this service issued for this query",
                                    field="cursor")
        return {k: _s(v) for k, v in fields.items()}

    def _first_sightings(self, items: list[dict[str, Any]], source: str | None) -> set[str]:
        """signal_ids among items that are their story's earliest sighting."""
        sk = f"{KEY_SOURCE}{source}" if source else "FIRST"
        stories = {item["story_id"]["S"] for item in items}
        if not stories:
            return set()
        keys = [{PK: _s(f"{KEY_STORY}{st}"), SK: _s(sk)} for st in stories]
        markers = {m[PK]["S"].removeprefix(KEY_STORY): m["signal_id"]["S"]
                   for m in self._batch_get(keys, "#pk, #sk, signal_id")}
        out = set()
        for item in items:
            sig = Signal.model_validate_json(item["doc"]["S"])
            marker = markers.get(item["story_id"]["S"])
            if marker is None or marker == sig.signal_id:
                out.add(sig.signal_id)
        return out

    def query(self, *, source: str | None = None, ticker: str | None = None,
              since: datetime | None = None, until: datetime | None = None,
              limit: int = 100, cursor: str | None = None,
              distinct_story: bool = False, role: str | None = None,
              event: str | None = None, model_version: str | None = None,
              as_of: datetime | None = None) -> SignalPage:
        limit = max(1, min(int(limit), 1000))
        until = _until_as_of(until, as_of)
        spec, key_names = self._query_spec(source, ticker, since, until, role, event)
        fingerprint = query_fingerprint("ddb", source, ticker, since, until, distinct_story,
                                        *([role] if role else []), *([event] if event else []),
                                        *([f"v={model_version}"] if model_version else []),
                                        *([f"as_of={to_iso(as_of)}"] if as_of else []))
        start = self._start_key(cursor, spec, key_names, fingerprint) if cursor else None
        items: list[dict[str, Any]] = []
        more = False
        while True:
            request = dict(spec, Limit=limit + 1 - len(items) if not distinct_story
                           else max(limit, 25))
            if start:
                request["ExclusiveStartKey"] = start
            resp = self._call(lambda r=request: self.client.query(**r),  # type: ignore[misc]
                              "query")
            page = resp.get("Items", [])
            if distinct_story:
                keep = self._first_sightings(page, source)
                page = [i for i in page
                        if Signal.model_validate_json(i["doc"]["S"]).signal_id in keep]
            items += page
            start = resp.get("LastEvaluatedKey")
            if len(items) > limit:
                more = True
                break
            if not start:
                break
        more = more or len(items) > limit
        items = items[:limit]
        next_cursor = None
        if (more or start) and items:
            last = items[-1]
            next_cursor = encode_cursor({k: last[k]["S"] for k in key_names},
                                        query=fingerprint)
            if not more:  # stopped exactly at a page end: is there anything after it?
                probe = dict(spec, Limit=1, ExclusiveStartKey={k: last[k] for k in key_names})
                if not self._call(lambda: self.client.query(**probe), "query").get("Items"):
                    next_cursor = None
        signals = [Signal.model_validate_json(i["doc"]["S"]) for i in items]
        if model_version:  # a page may hold fewer items: those without a score are left out
            scores = self._scores_for(signals, model_version, first_only=as_of is not None)
            signals = [scores[s.signal_id] for s in signals if s.signal_id in scores]
        return SignalPage(items=signals, next_cursor=next_cursor)

    def latest(self, n: int = 20) -> list[Signal]:
        return self.query(limit=n).items

    def summary(self, *, source: str | None = None, ticker: str | None = None,
                since: datetime | None = None, until: datetime | None = None,
                bucket_seconds: int = 3600, role: str | None = None,
                event: str | None = None, model_version: str | None = None,
                as_of: datetime | None = None) -> list[SummaryBucket]:
        bucket_seconds = max(1, int(bucket_seconds))
        spec, _ = self._query_spec(source, ticker, since, _until_as_of(until, as_of), role,
                                   event)
        acc: dict[tuple[int, str], list[float]] = {}
        start = None
        while True:
            request = dict(spec, ProjectionExpression="doc")
            request["ExpressionAttributeNames"] = dict(spec["ExpressionAttributeNames"])
            if start:
                request["ExclusiveStartKey"] = start
            resp = self._call(lambda r=request: self.client.query(**r),  # type: ignore[misc]
                              "query")
            page = [Signal.model_validate_json(i["doc"]["S"]) for i in resp.get("Items", [])]
            if model_version:  # that version's scores only: never two versions averaged
                scores = self._scores_for(page, model_version, first_only=as_of is not None)
                page = [scores[s.signal_id] for s in page if s.signal_id in scores]
            for sig in page:
                epoch = int(sig.first_seen_at.timestamp()) // bucket_seconds * bucket_seconds
                # With a ticker: the sentiment toward that company, else the headline's.
                entity = sig.entity(normalise_ticker(ticker)) if ticker else None
                label = entity.label.value if entity else sig.label.value
                slot = acc.setdefault((epoch, label), [0, 0.0])
                slot[0] += 1
                slot[1] += entity.score if entity else sig.score
            start = resp.get("LastEvaluatedKey")
            if not start:
                break
        return fold_buckets((k[0], k[1], int(v[0]), v[1]) for k, v in sorted(acc.items()))

    # -- scores by model version (core.ports.VersionedStore) ------------------------------
    # A later score is an item SIG#<id> / SCORE#<version> holding the whole signal with that
    # score (the SIG item keeps the first); VER / <version> counts what each version scored
    # (`first`: first scores); META / ACTIVE names the active version, META / LOG#<at> logs
    # each switch.
    def _scores_for(self, signals: list[Signal], version: str, *, first_only: bool = False
                    ) -> dict[str, Signal]:
        found = {s.signal_id: s for s in signals if s.model_version == version}
        need = [s.signal_id for s in signals if s.model_version != version]
        if need and not first_only:
            keys = [{PK: _s(f"{KEY_SIGNAL}{sid}"), SK: _s(f"{SORT_SCORE}{version}")}
                    for sid in need]
            for item in self._batch_get(keys, "#pk, #sk, doc"):
                sig = Signal.model_validate_json(item["doc"]["S"])
                found[sig.signal_id] = sig
        return found

    def scores(self, signal_ids: Iterable[str], version: str) -> dict[str, Signal]:
        """Each signal's score by `version` (its first, or a later one), where it has one."""
        ids = list(dict.fromkeys(signal_ids))
        keys = [{PK: _s(f"{KEY_SIGNAL}{i}"), SK: _s(sk)} for i in ids
                for sk in (SORT_SIGNAL, f"{SORT_SCORE}{version}")]
        found: dict[str, Signal] = {}
        for item in self._batch_get(keys, "#pk, #sk, doc"):
            sig = Signal.model_validate_json(item["doc"]["S"])
            if sig.model_version == version:
                found[sig.signal_id] = sig
        return found

    def _count_version(self, version: str, n: int, *, first: bool = False) -> None:
        if n <= 0:
            return
        expr = "ADD scored :n" + (", first_scores :n" if first else "") + \
            " SET last_at = :at, first_at = if_not_exists(first_at, :at)"
        self._call(lambda: self.client.update_item(
            TableName=self.table, Key={PK: _s(KEY_VERSION), SK: _s(version)},
            UpdateExpression=expr, ExpressionAttributeValues={
                ":n": {"N": str(n)}, ":at": _s(to_iso(datetime.now(UTC)))}), "write")

    def _range(self, source: str | None, ticker: str | None, since: datetime | None,
               until: datetime | None, role: str | None = None, event: str | None = None,
               *, forward: bool = False, start: dict[str, Any] | None = None
               ) -> Iterator[tuple[list[Signal], dict[str, Any] | None]]:
        """Every signal in a range, page by page, with each page's last evaluated key."""
        spec, _ = self._query_spec(source, ticker, since, until, role, event)
        spec = dict(spec, ScanIndexForward=forward)
        while True:
            request = dict(spec, **({"ExclusiveStartKey": start} if start else {}))
            resp = self._call(lambda r=request: self.client.query(**r),  # type: ignore[misc]
                              "query")
            start = resp.get("LastEvaluatedKey")
            yield [Signal.model_validate_json(i["doc"]["S"]) for i in resp.get("Items", [])], \
                start
            if not start:
                return

    def missing(self, model_version: str, *, source: str | None = None,
                ticker: str | None = None, since: datetime | None = None,
                until: datetime | None = None, role: str | None = None,
                event: str | None = None, as_of: datetime | None = None) -> int:
        """Reads the whole range (and the version's score items): a count costs a pass."""
        n = 0
        for page, _ in self._range(source, ticker, since, _until_as_of(until, as_of), role,
                                   event):
            n += len(page) - len(self._scores_for(page, model_version,
                                                  first_only=as_of is not None))
        return n

    def unscored(self, model_version: str, *, source: str | None = None,
                 ticker: str | None = None, since: datetime | None = None,
                 until: datetime | None = None, after: tuple[str, str] | None = None,
                 limit: int = 256) -> list[Signal]:
        lo = since
        if after:  # resume at that signal (inclusive of its instant; ids after it)
            lo = max(since, from_iso(after[0])) if since else from_iso(after[0])
        out: list[Signal] = []
        for page, _ in self._range(source, ticker, lo, until, forward=True):
            if after:
                page = [s for s in page if (to_iso(s.first_seen_at), s.signal_id) > after]
            have = self._scores_for(page, model_version)
            out += [s for s in page if s.signal_id not in have]
            if len(out) >= limit:
                break
        return out[:limit]

    def put_scores(self, scored: Iterable[Signal]) -> int:
        """BatchWriteItem, 25 at a time; unprocessed items (throttling) are retried with
        backoff. Returns how many were new. The SIG item (the first score) is never
        touched."""
        batch = list(scored)
        # Only scores not there yet are written and counted (a rerun counts nothing twice).
        keys = [{PK: _s(f"{KEY_SIGNAL}{x.signal_id}"), SK: _s(f"{SORT_SCORE}{x.model_version}")}
                for x in batch]
        present = {(i[PK]["S"], i[SK]["S"]) for i in self._batch_get(keys, "#pk, #sk")}
        batch = [x for x in batch if (f"{KEY_SIGNAL}{x.signal_id}",
                                      f"{SORT_SCORE}{x.model_version}") not in present]
        requests = [{"PutRequest": {"Item": {
            PK: _s(f"{KEY_SIGNAL}{x.signal_id}"), SK: _s(f"{SORT_SCORE}{x.model_version}"),
            "doc": _s(x.model_dump_json()), **self._ttl(x)}}} for x in batch]
        for i in range(0, len(requests), 25):
            todo = requests[i:i + 25]
            attempt = 0
            while todo:
                resp = self._call(lambda t=todo: self.client.batch_write_item(  # type: ignore[misc]
                    RequestItems={self.table: t}), "write")
                todo = resp.get("UnprocessedItems", {}).get(self.table, [])
                if todo:
                    attempt += 1
                    if attempt > 8:
                        raise StoreUnavailableError(f"DynamoDB kept {len(todo)} score writes "
                                                    f"unprocessed on {self.table}")
                    self._sleep(attempt)
        for version, n in Counter(x.model_version for x in batch).items():
            self._count_version(version, n)
        return len(batch)

    def versions(self) -> tuple[int, list[dict[str, Any]]]:
        resp = self._call(lambda: self.client.query(
            TableName=self.table, KeyConditionExpression="#pk = :v",
            ExpressionAttributeNames={"#pk": PK},
            ExpressionAttributeValues={":v": _s(KEY_VERSION)}), "query")
        rows = [{"version": i[SK]["S"], "scored": int(i.get("scored", {}).get("N", "0")),
                 "first_scores": int(i.get("first_scores", {}).get("N", "0")),
                 "first_scored_at": i.get("first_at", {}).get("S"),
                 "last_scored_at": i.get("last_at", {}).get("S")}
                for i in resp.get("Items", [])]
        rows.sort(key=lambda r: r["first_scored_at"] or "")
        return sum(r["first_scores"] for r in rows), rows

    def active_version(self) -> str | None:
        item = self._call(lambda: self.client.get_item(
            TableName=self.table, Key={PK: _s(KEY_META), SK: _s("ACTIVE")}), "read").get("Item")
        if item:
            return str(item["version"]["S"])
        _, rows = self.versions()
        return max(rows, key=lambda r: (r["scored"], r["version"]))["version"] if rows else None

    def set_active_version(self, version: str, *, coverage: float, forced: bool) -> None:
        previous = self._call(lambda: self.client.get_item(
            TableName=self.table, Key={PK: _s(KEY_META), SK: _s("ACTIVE")}), "read").get("Item")
        at = to_iso(datetime.now(UTC))
        self._call(lambda: self.client.put_item(TableName=self.table, Item={
            PK: _s(KEY_META), SK: _s("ACTIVE"), "version": _s(version)}), "write")
        self._call(lambda: self.client.put_item(TableName=self.table, Item={
            PK: _s(KEY_META), SK: _s(f"LOG#{at}"), "version": _s(version),
            "coverage": {"N": repr(coverage)}, "forced": {"BOOL": forced},
            **({"previous": previous["version"]} if previous else {})}), "write")

    def version_log(self) -> list[dict[str, Any]]:
        resp = self._call(lambda: self.client.query(
            TableName=self.table, KeyConditionExpression="#pk = :m AND begins_with(#sk, :l)",
            ExpressionAttributeNames={"#pk": PK, "#sk": SK},
            ExpressionAttributeValues={":m": _s(KEY_META), ":l": _s("LOG#")}), "query")
        return [{"at": i[SK]["S"].removeprefix("LOG#"), "version": i["version"]["S"],
                 "previous": i.get("previous", {}).get("S"),
                 "coverage": float(i["coverage"]["N"]), "forced": i["forced"]["BOOL"]}
                for i in resp.get("Items", [])]

    def get_feed_states(self) -> dict[str, FeedState]:
        states: dict[str, FeedState] = {}
        start = None
        while True:
            request: dict[str, Any] = {
                "TableName": self.table, "KeyConditionExpression": "#pk = :f",
                "ExpressionAttributeNames": {"#pk": PK},
                "ExpressionAttributeValues": {":f": _s(KEY_FEED)}}
            if start:
                request["ExclusiveStartKey"] = start
            resp = self._call(lambda r=request: self.client.query(**r),  # type: ignore[misc]
                              "query")
            for item in resp.get("Items", []):
                feed_id = item[SK]["S"]
                st = (FeedState.model_validate_json(item["doc"]["S"]) if "doc" in item
                      else FeedState(feed_id=feed_id))
                states[feed_id] = st.model_copy(update={
                    "items_seen": int(item.get("items_seen", {}).get("N", 0)),
                    "signals_written": int(item.get("signals_written", {}).get("N", 0))})
            start = resp.get("LastEvaluatedKey")
            if not start:
                return states

    def put_feed_state(self, state: FeedState) -> None:
        """The state document; counters only start from it (if_not_exists), then change by
        ADD alone."""
        self._call(lambda: self.client.update_item(
            TableName=self.table, Key={PK: _s(KEY_FEED), SK: _s(state.feed_id)},
            UpdateExpression="SET doc = :doc, items_seen = if_not_exists(items_seen, :i), "
                             "signals_written = if_not_exists(signals_written, :w)",
            ExpressionAttributeValues={":doc": _s(state.model_dump_json()),
                                       ":i": {"N": str(state.items_seen)},
                                       ":w": {"N": str(state.signals_written)}}), "write")

    def _add_counter(self, feed_id: str, name: str, n: int) -> None:
        self._call(lambda: self.client.update_item(
            TableName=self.table, Key={PK: _s(KEY_FEED), SK: _s(feed_id)},
            UpdateExpression="ADD #c :n", ExpressionAttributeNames={"#c": name},
            ExpressionAttributeValues={":n": {"N": str(n)}}), "write")

    def add_items_seen(self, feed_id: str, n: int) -> None:
        if n > 0:
            self._add_counter(feed_id, "items_seen", n)

    def health(self) -> dict[str, object]:
        resp = self._call(lambda: self.client.describe_table(TableName=self.table),
                              "describe")
        table = resp["Table"]
        return {"backend": "dynamodb", "table": self.table, "status": table.get("TableStatus"),
                "approximate_items": table.get("ItemCount"),
                "ok": table.get("TableStatus") == "ACTIVE"}

    def close(self) -> None:
        pass


class DynamoDBCooldown:
    """core.alerts.Cooldown in the signals table: an ALERT#<ticker>#<direction> item written
    only if absent or expired, with the table's TTL at the cooldown's end, so concurrent
    stream consumers alert once."""

    def __init__(self, store: DynamoDBSignalStore) -> None:
        self.store = store

    def claim(self, ticker: str, direction: str, now: datetime, until: datetime,
              alert: Any) -> bool:
        from botocore.exceptions import ClientError

        with self.store._translate("alert cooldown write"):
            try:
                self.store.client.put_item(
                    TableName=self.store.table,
                    Item={PK: _s(f"{KEY_ALERT}{ticker}#{direction}"), SK: _s(SORT_ALERT),
                          "doc": _s(alert.model_dump_json()),
                          TABLE_TTL_ATTRIBUTE: {"N": str(int(until.timestamp()))}},
                    ConditionExpression="attribute_not_exists(#pk) OR #ttl < :now",
                    ExpressionAttributeNames={"#pk": PK, "#ttl": TABLE_TTL_ATTRIBUTE},
                    ExpressionAttributeValues={":now": {"N": str(int(now.timestamp()))}})
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == \
                        "ConditionalCheckFailedException":
                    return False  # alerted within the cooldown
                raise
        return True

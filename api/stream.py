"""The live signal stream: one shared poller per process, every signal to every client once.

The store's log (core.ports.SignalLog: SQLite row ids, handed out in commit order) gives each
stored signal a position. One poller per process reads what was stored after the last
position it saw, whole bursts included (pages of 1,000 until none is left), and keeps the
newest RING_SIZE signals in memory. Each client holds only its own position: it takes what
follows from that ring, or straight from the store when it is further behind (a reconnect,
a slow reader), so no client ever skips or repeats a signal, and fifty idle clients cost one
indexed query per poll.

SSE events carry `id: <position>`. A client that reconnects with `Last-Event-ID` (the header
EventSource sends by itself, or `?last_event_id=`) resumes right after that event: the replay
window is the last REPLAY_WINDOW positions; a client further behind gets one `gap` event
saying where it resumes, then the stream."""

from __future__ import annotations

import asyncio
import bisect
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, ConfigDict, Field

from core.models import Sentiment, Signal, utcnow
from core.ports import SignalLog, SignalStore

if TYPE_CHECKING:
    from starlette.requests import Request

RING_SIZE = 20_000
REPLAY_WINDOW = 100_000
PAGE = 1000
KEEPALIVE_S = 15.0


class StreamFilter(BaseModel):
    """Which signals a client wants (all of them by default)."""

    # Other query parameters pass: `api_key` (EventSource cannot send headers) is the
    # guard's, and `poll` belonged to the per-client poller this stream replaced.
    model_config = ConfigDict(extra="ignore")

    ticker: Annotated[str | None, Field(max_length=16, description="only this ticker")] = None
    source: Annotated[str | None, Field(max_length=128, description="only this feed")] = None
    label: Annotated[Sentiment | None, Field(description="only this label")] = None
    min_abs_score: Annotated[float, Field(ge=0, le=1, description="only |score| >= this")] = 0.0

    def matches(self, s: Signal) -> bool:
        return ((self.ticker is None or self.ticker.upper() in s.tickers)
                and (self.source is None or s.source_id == self.source)
                and (self.label is None or s.label == self.label)
                and abs(s.score) >= self.min_abs_score)


def sse(seq: int, signal: Signal) -> str:
    return f"id: {seq}\nevent: signal\ndata: {signal.model_dump_json()}\n\n"


class SignalHub:
    """The shared poller and its ring of recent signals (positions ascending)."""

    def __init__(self, log: SignalLog, *, poll: float = 0.25, ring_size: int = RING_SIZE,
                 run_blocking: Callable[..., Awaitable] | None = None) -> None:
        from starlette.concurrency import run_in_threadpool

        self.log = log
        self.poll = poll
        self.ring_size = ring_size
        self._run = run_blocking or run_in_threadpool
        self._seqs: list[int] = []
        self._signals: list[Signal] = []
        self._head: int | None = None  # the last position the poller has read
        self._clients = 0
        self._task: asyncio.Task | None = None
        self._changed: asyncio.Condition | None = None
        self.polls = 0  # store reads by the poller (the benchmark and tests read it)

    @property
    def clients(self) -> int:
        return self._clients

    async def _poller(self) -> None:
        assert self._changed is not None
        while self._clients > 0:
            grew = False
            while True:
                assert self._head is not None
                batch = await self._run(self.log.signals_after, self._head, PAGE)
                self.polls += 1
                for seq, signal in batch:
                    self._seqs.append(seq)
                    self._signals.append(signal)
                if batch:
                    self._head = batch[-1][0]
                    grew = True
                if len(batch) < PAGE:
                    break
            if len(self._seqs) > 2 * self.ring_size:  # trimmed in bulk: amortised O(1)
                del self._seqs[:-self.ring_size], self._signals[:-self.ring_size]
            if grew:
                async with self._changed:
                    self._changed.notify_all()
            await asyncio.sleep(self.poll)

    async def _join(self) -> None:
        if self._changed is None:
            self._changed = asyncio.Condition()
        self._clients += 1
        if self._head is None:
            self._head = await self._run(self.log.last_seq)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._poller())

    def _after(self, cursor: int) -> list[tuple[int, Signal]] | None:
        """What follows `cursor` in the ring, or None if the ring does not reach back."""
        assert self._head is not None
        floor = (self._seqs[0] - 1) if self._seqs else self._head
        if cursor < floor:
            return None
        i = bisect.bisect_right(self._seqs, cursor)
        return list(zip(self._seqs[i:i + PAGE], self._signals[i:i + PAGE], strict=True))

    async def position(self) -> int:
        """The store's newest position: where a new client's stream starts. The route reads
        it before the response opens, so a signal stored once a client sees the stream open
        (EventSource's `open`, which fires on the headers) always comes after it."""
        return int(await self._run(self.log.last_seq))

    async def events(self, flt: StreamFilter, last_event_id: int | None,
                     is_disconnected: Callable[[], Awaitable[bool]], *,
                     start: int | None = None) -> AsyncIterator[str]:
        await self._join()
        try:
            newest = await self.position() if start is None else start
            cursor = newest if last_event_id is None else last_event_id
            yield f"retry: 2000\n: connected at {cursor}\n\n"
            if newest - cursor > REPLAY_WINDOW:
                resumed = newest - REPLAY_WINDOW
                yield ("event: gap\ndata: " + json.dumps(
                    {"last_event_id": cursor, "resumed_after": resumed,
                     "replay_window": REPLAY_WINDOW}) + "\n\n")
                cursor = resumed
            idle = 0.0
            while not await is_disconnected():
                items = self._after(cursor)
                if items is None:  # behind the ring: straight from the store
                    items = await self._run(self.log.signals_after, cursor, PAGE)
                if items:
                    idle = 0.0
                    out = []
                    for seq, signal in items:
                        cursor = seq
                        if flt.matches(signal):
                            out.append(sse(seq, signal))
                    if out:
                        yield "".join(out)
                    continue
                assert self._changed is not None
                try:
                    async with self._changed:
                        await asyncio.wait_for(self._changed.wait(), timeout=1.0)
                except TimeoutError:
                    idle += 1.0
                    if idle >= KEEPALIVE_S:
                        idle = 0.0
                        yield ": keep-alive\n\n"
        finally:
            self._clients -= 1


# -- stores without a signal log (DynamoDB) ----------------------------------------------
async def signal_events(store: SignalStore, request: Request, poll: float,
                        flt: StreamFilter) -> AsyncIterator[str]:
    """For stores without a signal log (DynamoDB): polls the newest 500 signals of the last
    10 minutes per client and pushes the unseen ones; a burst larger than that is not all
    delivered, and there is no resume. SQLite stores stream through api/stream.py.
    What is already stored is read here, before the response opens (as the hub's start)."""
    from starlette.concurrency import run_in_threadpool

    lookback = timedelta(minutes=10)

    def recent() -> list[Signal]:
        return store.query(since=utcnow() - lookback, limit=500).items

    sent: dict[str, None] = dict.fromkeys(s.signal_id for s in await run_in_threadpool(recent))
    return _signal_event_stream(recent, sent, request, poll, flt)


async def _signal_event_stream(recent: Callable[[], list[Signal]], sent: dict[str, None],
                               request: Request, poll: float, flt: StreamFilter
                               ) -> AsyncIterator[str]:
    from starlette.concurrency import run_in_threadpool

    yield "retry: 2000\n: connected\n\n"
    idle = 0.0
    while not await request.is_disconnected():
        await asyncio.sleep(poll)
        fresh = [s for s in await run_in_threadpool(recent) if s.signal_id not in sent]
        for sig in reversed(fresh):  # oldest first
            sent[sig.signal_id] = None
            if flt.matches(sig):
                yield f"event: signal\ndata: {sig.model_dump_json()}\n\n"
        while len(sent) > 5000:
            sent.pop(next(iter(sent)))
        idle = 0.0 if fresh else idle + poll
        if idle >= 15:
            idle = 0.0
            yield ": keep-alive\n\n"

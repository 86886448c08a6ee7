"""The live stream under a real uvicorn: every signal stored after a client connects reaches
it exactly once, in store order, however large the burst; a client that reconnects with
Last-Event-ID after a server restart mid-burst misses nothing and gets nothing twice; one
shared poller serves many clients; filters; `newsig watch` on top of it."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import api.stream as stream_module
from api.app import Services, create_app
from api.watch import after_connected, iter_sse, watch
from core.adapters.sqlite_store import SQLiteSignalStore
from tests.support.builders import make_signal
from tests.support.live_server import live_uvicorn

BURST = 1500


class Reader:
    """An SSE client in a thread: (id, title) of every `signal` event, in arrival order."""

    def __init__(self, base: str, *, params: dict[str, Any] | None = None,
                 last_event_id: str | None = None, want: int = BURST) -> None:
        self.events: list[tuple[int, str]] = []
        self.connected = threading.Event()
        self.done = threading.Event()
        self.error: BaseException | None = None
        headers = {"last-event-id": last_event_id} if last_event_id else {}
        self.thread = threading.Thread(target=self._run, args=(base, params or {}, headers,
                                                               want), daemon=True)
        self.thread.start()
        assert self.connected.wait(10), "stream did not open"

    def _run(self, base: str, params: dict[str, Any], headers: dict[str, str],
             want: int) -> None:
        try:
            with httpx.stream("GET", f"{base}/signals/stream", params=params, headers=headers,
                              timeout=httpx.Timeout(10, read=30)) as resp:
                assert resp.status_code == 200
                for ev in after_connected(resp.iter_lines(), self.connected.set):
                    if ev.event == "signal":
                        assert ev.id is not None
                        self.events.append((int(ev.id), json.loads(ev.data)["title"]))
                        if len(self.events) >= want:
                            break
        except (httpx.TransportError, httpx.HTTPError) as exc:
            self.error = exc  # the server went away (a restart)
        finally:
            self.connected.set()
            self.done.set()


def write_burst(store: SQLiteSignalStore, start: int, stop: int, batch: int = 100) -> None:
    for i in range(start, stop, batch):
        store.put_many([make_signal(n) for n in range(i, min(i + batch, stop))])


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteSignalStore]:
    s = SQLiteSignalStore(tmp_path / "stream.db")
    yield s
    s.close()


def serve(store: SQLiteSignalStore) -> tuple[Any, Services]:
    services = Services(store)
    return live_uvicorn(create_app(services)), services


def test_a_burst_of_1500_reaches_a_connected_client_once_each_in_order(
        store: SQLiteSignalStore) -> None:
    write_burst(store, 10_000, 10_050)  # stored before the client connects: not sent
    server, _ = serve(store)
    with server as base:
        reader = Reader(base)
        write_burst(store, 0, BURST)
        assert reader.done.wait(60), f"only {len(reader.events)} of {BURST} arrived"
    ids = [i for i, _ in reader.events]
    assert len(ids) == BURST and ids == sorted(ids) and len(set(ids)) == BURST
    assert {t for _, t in reader.events} == {f"Headline number {n}" for n in range(BURST)}


def test_reconnecting_with_last_event_id_after_a_restart_mid_burst(
        store: SQLiteSignalStore) -> None:
    server, _ = serve(store)
    with server as base:
        reader = Reader(base)
        write_burst(store, 0, 500)
        deadline = time.monotonic() + 30
        while len(reader.events) < 500 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(reader.events) == 500
    # The server is down: the stream ended; writes go on meanwhile.
    assert reader.done.wait(15)
    write_burst(store, 500, BURST)
    last = str(reader.events[-1][0])
    server, _ = serve(store)
    with server as base:
        again = Reader(base, last_event_id=last, want=BURST - 500)
        assert again.done.wait(60), f"{len(again.events)} after the restart"
    everything = reader.events + again.events
    ids = [i for i, _ in everything]
    assert ids == sorted(ids) and len(set(ids)) == BURST == len(ids)
    assert {t for _, t in everything} == {f"Headline number {n}" for n in range(BURST)}


def test_a_client_too_far_behind_is_told_where_it_resumes(
        store: SQLiteSignalStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream_module, "REPLAY_WINDOW", 100)
    write_burst(store, 0, 300)
    server, _ = serve(store)
    with server as base, httpx.stream("GET", f"{base}/signals/stream",
                                      headers={"last-event-id": "5"}, timeout=10) as resp:
        events = []
        for ev in iter_sse(resp.iter_lines()):
            events.append(ev)
            if ev.event == "signal":
                break
    assert events[0].event == "gap"
    gap = json.loads(events[0].data)
    assert gap == {"last_event_id": 5, "resumed_after": 200, "replay_window": 100}
    assert events[1].id == "201"


def test_bad_last_event_id_is_422(store: SQLiteSignalStore) -> None:
    server, _ = serve(store)
    with server as base:
        r = httpx.get(f"{base}/signals/stream", headers={"last-event-id": "abc"}, timeout=5)
        assert r.status_code == 422 and "Last-Event-ID" in r.text
        r = httpx.get(f"{base}/signals/stream", params={"min_abs_score": 2}, timeout=5)
        assert r.status_code == 422 and "min_abs_score" in r.text


def test_filters(store: SQLiteSignalStore) -> None:
    server, _ = serve(store)
    with server as base:
        only_x = Reader(base, params={"ticker": "x"}, want=2)
        strong_negative = Reader(base, params={"label": "negative", "min_abs_score": 0.5},
                                 want=1)
        store.put_many([make_signal(1, tickers=["X"]), make_signal(2, tickers=["Y"]),
                        make_signal(3, probs=(0.8, 0.1, 0.1)),  # negative, score -0.7
                        make_signal(4, probs=(0.4, 0.3, 0.3)),  # negative, score -0.1
                        make_signal(5, tickers=["X", "Y"])])
        assert only_x.done.wait(15) and strong_negative.done.wait(15)
    assert [t for _, t in only_x.events] == ["Headline number 1", "Headline number 5"]
    assert [t for _, t in strong_negative.events] == ["Headline number 3"]


def test_fifty_clients_share_one_poller(store: SQLiteSignalStore) -> None:
    server, services = serve(store)
    with server as base:
        readers = [Reader(base, want=10) for _ in range(50)]
        hub = services.hub
        assert hub is not None and hub.clients == 50
        polls = hub.polls
        time.sleep(1.0)
        # One poller at 0.25 s: a handful of store reads a second, not fifty clients' worth.
        assert hub.polls - polls <= 8
        write_burst(store, 0, 10, batch=10)
        assert all(r.done.wait(20) for r in readers)
    assert all(len(r.events) == 10 for r in readers)


def test_newsig_watch_prints_and_resumes(store: SQLiteSignalStore) -> None:
    server, _ = serve(store)
    with server as base:
        out, err = io.StringIO(), io.StringIO()
        threading.Timer(0.5, write_burst, args=(store, 0, 5)).start()
        assert watch(base, filters={}, max_events=3, out=out, err=err) == 0
        first = [json.loads(line) for line in out.getvalue().splitlines()]
        assert [s["title"] for s in first] == [f"Headline number {n}" for n in range(3)]
        # Resume after the third: exactly the two that follow, as a table.
        table = io.StringIO()
        ids = [str(i) for i, _ in store.signals_after(0, 10)]
        assert watch(base, filters={}, last_event_id=ids[2], max_events=2, out=table,
                     err=err, fmt="table") == 0
        rows = table.getvalue().splitlines()
        assert len(rows) == 2 and rows[0].endswith("Headline number 3")
        assert "positive" in rows[0]


def test_sqlite_is_a_signal_log_and_dynamodb_is_not(store: SQLiteSignalStore) -> None:
    from core.adapters.dynamodb_store import DynamoDBSignalStore
    from core.ports import SignalLog

    assert isinstance(store, SignalLog)
    assert not isinstance(DynamoDBSignalStore("t", client=object()), SignalLog)
    assert store.last_seq() == 0 and store.signals_after(0) == []
    write_burst(store, 0, 25)
    page = store.signals_after(0, 10)
    assert [s.title for _, s in page] == [f"Headline number {n}" for n in range(10)]
    rest = store.signals_after(page[-1][0], 100)
    assert len(rest) == 15 and rest[-1][0] == store.last_seq()
    store.put_many([make_signal(3)])  # a duplicate writes nothing: no new position
    assert store.signals_after(rest[-1][0]) == []


def test_bench_stream_prints_its_figures(tiny_model_dir: Path) -> None:
    from api.bench.stream import bench_stream

    result = bench_stream(tiny_model_dir, clients=3, recent=200, burst=120,
                          health_requests=30, runs=1)
    assert result["events_per_client"] == {"min": 120, "max": 120}
    assert result["duplicates_per_client_max"] == 0
    assert result["health_p50_ms_no_clients"] > 0 and result["health_p50_ms_with_clients"] > 0


def test_newsig_watch_exits_cleanly_on_ctrl_c(monkeypatch: pytest.MonkeyPatch) -> None:
    import api.watch
    from api.cli import main

    def interrupted(*args: Any, **kwargs: Any) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(api.watch, "watch", interrupted)
    assert main(["watch", "--url", "http://127.0.0.1:9"]) == 0


def test_a_signal_stored_as_the_stream_opens_is_delivered(store: SQLiteSignalStore) -> None:
    """EventSource reports `open` on the response headers (the dashboard then says "live");
    a signal stored at that moment must reach the client: the stream's start is fixed before
    the headers go out, not after. The signal is stored inside `send` of the headers, so the
    test does not depend on timing."""
    import asyncio

    app = create_app(Services(store))
    got: list[str] = []
    done = asyncio.Event()

    async def receive() -> dict[str, Any]:
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            assert message["status"] == 200
            store.put_many([make_signal(7, title="Stored as the stream opened")])
        elif message["type"] == "http.response.body":
            got.append(message.get("body", b"").decode())
            if "event: signal" in "".join(got):
                done.set()

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "GET", "scheme": "http", "path": "/signals/stream", "raw_path":
             b"/signals/stream", "query_string": b"", "root_path": "",
             "headers": [(b"host", b"test")], "client": ("127.0.0.1", 1),
             "server": ("127.0.0.1", 80)}

    async def main() -> None:
        async with asyncio.timeout(10):
            await asyncio.gather(app(scope, receive, send), done.wait())

    asyncio.run(main())
    assert "Stored as the stream opened" in "".join(got)

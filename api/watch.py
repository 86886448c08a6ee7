"""`newsig watch`: tail the live signal stream (GET /signals/stream) from a terminal.

JSON lines (one signal per line) or a compact table; the same filters as the stream. When the
connection drops (a server restart), it reconnects with `Last-Event-ID`, so nothing stored
meanwhile is missed or printed twice; Ctrl-C exits cleanly."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TextIO

import httpx


@dataclass(frozen=True)
class SSEEvent:
    id: str | None
    event: str
    data: str


def iter_sse(lines: Iterable[str]) -> Iterator[SSEEvent]:
    """Server-sent events from a stream's lines (the WHATWG parsing rules, minus `retry`)."""
    event, last_id = "message", None
    data: list[str] = []
    for line in lines:
        if line == "":
            if data:
                yield SSEEvent(last_id, event, "\n".join(data))
            event, data = "message", []
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "event":
            event = value
        elif field == "data":
            data.append(value)
        elif field == "id" and "\0" not in value:
            last_id = value


def after_connected(lines: Iterator[str], on_connected: Callable[[], None]
                    ) -> Iterator[SSEEvent]:
    """The events of a /signals/stream response that follow its `: connected` comment;
    `on_connected` is called when that comment arrives (the stream's position is fixed)."""
    for line in lines:
        if line.startswith(": connected"):
            on_connected()
            break
    yield from iter_sse(lines)


class WatchError(Exception):
    """The server refused the stream (a 4xx): retrying would not help."""


def format_table(signal: dict[str, Any]) -> str:
    when = str(signal.get("first_seen_at", ""))[:19].replace("T", " ")
    tickers = ",".join(signal.get("tickers") or []) or "-"
    return (f"{when}  {signal['label']:<8} {signal['score']:+.2f}  {tickers:<14.14} "
            f"{signal['source_id']:<16.16} {signal['title']}")


def watch(base_url: str, *, filters: dict[str, Any], api_key: str | None = None,
          fmt: str = "json", last_event_id: str | None = None, max_events: int | None = None,
          out: TextIO = sys.stdout, err: TextIO = sys.stderr, max_backoff: float = 10.0,
          reconnect: bool = True) -> int:
    """Print signals as they arrive; returns after `max_events` (or never). Raises
    WatchError on a 4xx."""
    params = {k: v for k, v in filters.items() if v not in (None, "")}
    headers = {"accept": "text/event-stream"}
    if api_key:
        headers["x-api-key"] = api_key
    seen, backoff = 0, 0.5
    timeout = httpx.Timeout(10.0, read=60.0)  # the server sends a keep-alive every 15 s
    while True:
        if last_event_id is not None:
            headers["last-event-id"] = last_event_id
        try:
            with httpx.stream("GET", f"{base_url.rstrip('/')}/signals/stream", params=params,
                              headers=headers, timeout=timeout) as resp:
                if 400 <= resp.status_code < 500:
                    raise WatchError(f"{resp.status_code}: {resp.read().decode()[:300]}")
                resp.raise_for_status()
                backoff = 0.5
                for ev in iter_sse(resp.iter_lines()):
                    if ev.event == "gap":
                        err.write(f"newsig watch: missed signals, resumed: {ev.data}\n")
                        continue
                    if ev.event != "signal":
                        continue
                    last_event_id = ev.id
                    if fmt == "table":
                        out.write(format_table(json.loads(ev.data)) + "\n")
                    else:
                        out.write(ev.data + "\n")
                    out.flush()
                    seen += 1
                    if max_events is not None and seen >= max_events:
                        return 0
        except (httpx.TransportError, httpx.HTTPStatusError) as exc:
            if not reconnect:
                raise
            err.write(f"newsig watch: {exc.__class__.__name__}: {exc}; reconnecting in "
                      f"{backoff:.1f} s (after event {last_event_id})\n")
        time.sleep(backoff)
        backoff = min(backoff * 2, max_backoff)

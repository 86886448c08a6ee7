"""HTTP fetch of one feed: timeout, redirect limit, streamed size cap, wall-clock deadline."""

from __future__ import annotations

import time

import httpx

USER_AGENT = "news-signals/0.1 (+https://github.com/news-signals/news-signals)"
ACCEPT = ("application/rss+xml, application/atom+xml, application/xml;q=0.9, "
          "text/xml;q=0.9, */*;q=0.1")
MAX_REDIRECTS = 5


class FetchError(Exception):
    """A feed could not be fetched; the message is the per-feed reason users see."""


def make_client(timeout: float) -> httpx.Client:
    return httpx.Client(
        timeout=httpx.Timeout(timeout),
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
        headers={"User-Agent": USER_AGENT, "Accept": ACCEPT},
    )


def fetch_feed(client: httpx.Client, url: str, *, max_bytes: int, timeout: float) -> bytes:
    """The feed body, or FetchError naming why not (status, timeout, size, network)."""
    deadline = time.monotonic() + timeout
    try:
        with client.stream("GET", url) as resp:
            if resp.status_code >= 400:
                raise FetchError(f"HTTP {resp.status_code} {resp.reason_phrase}".strip())
            declared = resp.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise FetchError(f"body of {int(declared)} bytes exceeds the {max_bytes}-byte cap")
            chunks: list[bytes] = []
            size = 0
            for chunk in resp.iter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise FetchError(f"body exceeds the {max_bytes}-byte cap")
                if time.monotonic() > deadline:
                    raise FetchError(f"timed out after {timeout:g}s (body still arriving)")
                chunks.append(chunk)
            return b"".join(chunks)
    except httpx.TooManyRedirects as exc:
        raise FetchError(f"too many redirects (more than {MAX_REDIRECTS})") from exc
    except httpx.TimeoutException as exc:
        raise FetchError(f"timed out after {timeout:g}s ({type(exc).__name__})") from exc
    except httpx.ConnectError as exc:
        raise FetchError(f"connection failed: {exc or type(exc).__name__}") from exc
    except httpx.HTTPError as exc:
        raise FetchError(f"{type(exc).__name__}: {exc}") from exc

"""HTTP fetch of one feed: conditional GET, timeout, redirect limit, streamed size cap."""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from ingest.netguard import (
    BlockedAddress,
    FetchPolicy,
    GuardedBackend,
    reset_policy,
    url_host_kind,
    use_policy,
)

USER_AGENT = "news-signals/0.1 (+https://github.com/news-signals/news-signals)"
ACCEPT = ("application/rss+xml, application/atom+xml, application/xml;q=0.9, "
          "text/xml;q=0.9, */*;q=0.1")
MAX_REDIRECTS = 5


class FetchError(Exception):
    """A feed could not be fetched; the message is the per-feed reason users see."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class FetchResult:
    status: int
    body: bytes
    content_type: str
    etag: str | None
    last_modified: str | None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def make_client(timeout: float, *, max_connections: int = 64) -> httpx.Client:
    """A client whose connections obey the fetch policy (ingest.netguard): one deadline per
    feed, and no connection to addresses the policy refuses, redirects included."""
    limits = httpx.Limits(max_connections=max_connections,
                          max_keepalive_connections=max_connections)
    transport = httpx.HTTPTransport(limits=limits, retries=0)
    pool = getattr(transport, "_pool", None)
    if pool is None or not hasattr(pool, "_network_backend"):  # pragma: no cover
        raise RuntimeError("httpx/httpcore changed: cannot install the feed network guard")
    pool._network_backend = GuardedBackend()
    return httpx.Client(
        timeout=httpx.Timeout(timeout),
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
        headers={"User-Agent": USER_AGENT, "Accept": ACCEPT},
        transport=transport,
    )


def policy_for(url: str, timeout: float, *, allow_private: bool = False) -> FetchPolicy:
    """Loopback and private addresses are reachable only if the configured URL itself is
    one (or `allow_private`); link-local and metadata addresses never."""
    kind = url_host_kind(urlsplit(url).hostname or "")
    return FetchPolicy(deadline=time.monotonic() + timeout,
                       allow_loopback=allow_private or kind == "loopback",
                       allow_private=allow_private or kind in ("loopback", "private"))


def fetch_feed(client: httpx.Client, url: str, *, max_bytes: int, timeout: float,
               etag: str | None = None, last_modified: str | None = None,
               allow_private: bool = False) -> FetchResult:
    """The feed body (or a 304), or FetchError naming why not. `timeout` bounds the whole
    fetch: connecting, TLS, headers and body together."""
    policy = policy_for(url, timeout, allow_private=allow_private)
    token = use_policy(policy)
    try:
        return _fetch(client, url, max_bytes=max_bytes, timeout=timeout, etag=etag,
                      last_modified=last_modified, deadline=policy.deadline)
    finally:
        reset_policy(token)


def _fetch(client: httpx.Client, url: str, *, max_bytes: int, timeout: float,
           etag: str | None, last_modified: str | None, deadline: float) -> FetchResult:
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        with client.stream("GET", url, headers=headers) as resp:
            if resp.status_code >= 400:
                raise FetchError(f"HTTP {resp.status_code} {resp.reason_phrase}".strip(),
                                 resp.status_code)
            new_etag = resp.headers.get("etag") or etag
            new_modified = resp.headers.get("last-modified") or last_modified
            content_type = resp.headers.get("content-type", "")
            if resp.status_code == 304:
                return FetchResult(304, b"", content_type, new_etag, new_modified)
            declared = resp.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise FetchError(f"body of {int(declared)} bytes exceeds the {max_bytes}-byte "
                                 "cap", resp.status_code)
            chunks: list[bytes] = []
            size = 0
            for chunk in resp.iter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise FetchError(f"body exceeds the {max_bytes}-byte cap", resp.status_code)
                if time.monotonic() > deadline:
                    raise FetchError(f"timed out after {timeout:g}s (body still arriving)")
                chunks.append(chunk)
            return FetchResult(resp.status_code, b"".join(chunks), content_type, new_etag,
                               new_modified)
    except httpx.TooManyRedirects as exc:
        raise FetchError(f"too many redirects (more than {MAX_REDIRECTS})") from exc
    except httpx.TimeoutException as exc:
        raise FetchError(f"timed out after {timeout:g}s ({type(exc).__name__})") from exc
    except httpx.ConnectError as exc:
        if isinstance(exc.__cause__, BlockedAddress) or "refused to connect to" in str(exc):
            raise FetchError(f"blocked: {exc}") from exc
        raise FetchError(f"connection failed: {exc or type(exc).__name__}") from exc
    except httpx.RemoteProtocolError as exc:
        raise FetchError(f"connection broke off: {exc}") from exc
    except httpx.HTTPError as exc:
        raise FetchError(f"{type(exc).__name__}: {exc}") from exc

"""Where a feed fetch may connect, and for how long: enforced under httpx, at the socket.

A fetch runs under a `FetchPolicy` (a context variable set by `ingest.fetch.fetch_feed`):

- **one deadline** for the whole fetch: every connect, TLS handshake, write and read gets
  at most the time left, so a server that trickles its headers a byte at a time is cut off
  on time like one that trickles its body;
- **address checks** on every connection, redirects included: the host is resolved here and
  the connection made to the checked address (no second lookup to rebind). Link-local and
  cloud metadata addresses (169.254.0.0/16 - 169.254.169.254 is instance metadata, and the
  Lambda runtime API lives on 127.0.0.1:9001 - fe80::/10, fd00:ec2::254), unspecified and
  multicast addresses are always refused; loopback and private addresses only when the
  configured feed URL itself points at one, or when a setting allows them.
"""

from __future__ import annotations

import contextvars
import ipaddress
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpcore

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254"),
             ipaddress.ip_address("100.100.100.200")}


class BlockedAddress(httpcore.ConnectError):
    """A connection to an address the policy refuses."""


@dataclass(frozen=True)
class FetchPolicy:
    deadline: float
    allow_loopback: bool = False
    allow_private: bool = False

    def remaining(self) -> float:
        return self.deadline - time.monotonic()


_POLICY: contextvars.ContextVar[FetchPolicy | None] = contextvars.ContextVar(
    "newsig_fetch_policy", default=None)


def current_policy() -> FetchPolicy | None:
    return _POLICY.get()


def use_policy(policy: FetchPolicy) -> contextvars.Token[FetchPolicy | None]:
    return _POLICY.set(policy)


def reset_policy(token: contextvars.Token[FetchPolicy | None]) -> None:
    _POLICY.reset(token)


def address_kind(ip: IPAddress) -> str:
    """'blocked', 'loopback', 'private' or 'public'."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if (ip in _METADATA or ip.is_link_local or ip.is_multicast or ip.is_unspecified
            or ip.is_reserved):
        return "blocked"
    if ip.is_loopback:
        return "loopback"
    if ip.is_private or not ip.is_global:
        return "private"
    return "public"


def url_host_kind(host: str) -> str:
    """The kind of the configured feed URL's host, as written (a literal or a name)."""
    try:
        return address_kind(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return "loopback" if host.lower() in ("localhost", "localhost.localdomain") else \
            "public"


def check_address(ip: IPAddress, policy: FetchPolicy) -> None:
    kind = address_kind(ip)
    if kind == "blocked" or (kind == "loopback" and not policy.allow_loopback) or (
            kind == "private" and not policy.allow_private):
        raise BlockedAddress(f"refused to connect to {ip} ({kind} address)")


def _clamp(timeout: float | None, policy: FetchPolicy | None, what: str) -> float | None:
    if policy is None:
        return timeout
    left = policy.remaining()
    if left <= 0:
        raise httpcore.ReadTimeout(f"feed deadline passed ({what})")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _clamp(timeout, current_policy(), "read"))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _clamp(timeout, current_policy(), "write"))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(ssl_context, server_hostname,
                                      _clamp(timeout, current_policy(), "TLS handshake"))
        return _DeadlineStream(inner)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class GuardedBackend(httpcore.SyncBackend):
    """httpcore's socket backend, with the policy's deadline and address checks."""

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        policy = current_policy()
        if policy is None:  # not a feed fetch: plain behaviour
            return super().connect_tcp(host, port, timeout, local_address, socket_options)
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        addresses = list(dict.fromkeys(ipaddress.ip_address(i[4][0]) for i in infos))
        for ip in addresses:
            check_address(ip, policy)
        last: Exception | None = None
        for ip in addresses:
            try:
                stream = super().connect_tcp(str(ip), port, _clamp(timeout, policy, "connect"),
                                             local_address, socket_options)
                return _DeadlineStream(stream)
            except httpcore.ConnectError as exc:
                last = exc
        raise last or httpcore.ConnectError(f"no address for {host}")

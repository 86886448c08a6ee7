"""A local RSS/Atom server on 127.0.0.1 for `newsig bench ingest` and the test suite.

Routes are set in code; each can delay, fail with a status, redirect, and answer conditional
GETs (ETag / Last-Modified -> 304) the way well-behaved feed hosts do.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    content_type: str = "application/rss+xml; charset=utf-8"
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    conditional: bool = False  # send ETag + Last-Modified, answer 304 when they match
    location: str | None = None  # redirect target (status 301/302/307/308)
    chunked: bool = False  # stream with Transfer-Encoding: chunked (no Content-Length)
    trickle_headers: float = 0.0  # seconds between header lines (a slow-loris server)

    @property
    def etag(self) -> str:
        return '"' + hashlib.sha256(self.body).hexdigest()[:16] + '"'


class FeedServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: dict[str, int] = {}
        self.not_modified: dict[str, int] = {}
        self._lock = threading.Lock()
        self.started_at = formatdate(time.time(), usegmt=True)
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server._handle(self)

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.httpd.request_queue_size = 256
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def _handle(self, req: BaseHTTPRequestHandler) -> None:
        path = req.path.split("?")[0]
        with self._lock:
            self.hits[path] = self.hits.get(path, 0) + 1
        route = self.routes.get(path)
        try:
            if route is None:
                self._send(req, 404, b"not found", "text/plain", {})
                return
            if route.delay:
                time.sleep(route.delay)
            headers = dict(route.headers)
            if route.location:
                headers["Location"] = route.location
            if route.conditional and route.status == 200:
                headers["ETag"] = route.etag
                headers["Last-Modified"] = self.started_at
                if req.headers.get("If-None-Match") == route.etag:
                    with self._lock:
                        self.not_modified[path] = self.not_modified.get(path, 0) + 1
                    self._send(req, 304, b"", None, headers)
                    return
            if route.chunked:
                self._send_chunked(req, route)
                return
            if route.trickle_headers:
                self._send_trickled(req, route)
                return
            self._send(req, route.status, route.body, route.content_type, headers)
        except (BrokenPipeError, ConnectionResetError):
            pass

    @staticmethod
    def _send(req: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str | None,
              headers: dict[str, str]) -> None:
        req.send_response(status)
        if content_type:
            req.send_header("Content-Type", content_type)
        req.send_header("Content-Length", str(len(body)))
        for k, v in headers.items():
            req.send_header(k, v)
        req.end_headers()
        if body:
            req.wfile.write(body)

    @staticmethod
    def _send_trickled(req: BaseHTTPRequestHandler, route: Route) -> None:
        lines = [f"HTTP/1.1 {route.status} OK", f"Content-Type: {route.content_type}",
                 *(f"X-Slow-{i}: {'x' * 10}" for i in range(200)),
                 f"Content-Length: {len(route.body)}"]
        for line in lines:
            req.wfile.write(line.encode() + b"\r\n")
            req.wfile.flush()
            time.sleep(route.trickle_headers)
        req.wfile.write(b"\r\n" + route.body)

    @staticmethod
    def _send_chunked(req: BaseHTTPRequestHandler, route: Route) -> None:
        req.send_response(route.status)
        req.send_header("Content-Type", route.content_type)
        req.send_header("Transfer-Encoding", "chunked")
        req.end_headers()
        for i in range(0, len(route.body), 16384):
            part = route.body[i:i + 16384]
            req.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
        req.wfile.write(b"0\r\n\r\n")

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else host
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def start(self) -> FeedServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> FeedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def rss(items: list[dict[str, str]], *, title: str = "Test feed",
        encoding: str = "UTF-8") -> bytes:
    """An RSS 2.0 document; item values are inserted as given (escape them yourself)."""
    parts = [f"<?xml version='1.0' encoding='{encoding}'?><rss version='2.0'><channel>"
             f"<title>{escape(title)}</title><link>http://127.0.0.1/</link>"
             "<description>local feed</description>"]
    for it in items:
        parts.append("<item>" + "".join(f"<{k}>{v}</{k}>" for k, v in it.items()) + "</item>")
    parts.append("</channel></rss>")
    return "".join(parts).encode(encoding, errors="xmlcharrefreplace")


def atom(entries: list[dict[str, str]], *, title: str = "Test atom") -> bytes:
    parts = ["<?xml version='1.0' encoding='utf-8'?><feed xmlns='http://www.w3.org/2005/Atom'>"
             f"<title>{escape(title)}</title><id>urn:test:feed</id>"
             "<updated>2026-11-20T10:00:00Z</updated>"]
    for e in entries:
        parts.append(
            f"<entry><title type='html'>{e['title']}</title><id>{e['id']}</id>"
            f"<link href='{e.get('link', '')}'/><updated>{e.get('updated', '2026-11-20T10:00:00Z')}"
            f"</updated><summary>{e.get('summary', '')}</summary></entry>")
    parts.append("</feed>")
    return "".join(parts).encode("utf-8")

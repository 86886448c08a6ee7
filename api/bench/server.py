"""The one server fixture and port helper every benchmark uses: a real `newsig serve` on
127.0.0.1, started in a subprocess and stopped after."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def process_stats(pid: int) -> dict[str, float]:
    """Open file descriptors and resident memory of a process (Linux /proc)."""
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    rss_kb = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss_kb = int(line.split()[1])
    return {"fds": fds, "rss_mb": round(rss_kb / 1024, 1)}


@contextmanager
def running_server(model_dir: Path, env: dict[str, str] | None = None,
                   code_dir: Path | None = None, store_url: str | None = None
                   ) -> Iterator[tuple[str, float, int]]:
    """A real `newsig serve` (API only) on 127.0.0.1; yields (base URL, seconds from spawn to
    its first /classify answer, pid). `code_dir`: serve another checkout's code (a "before"
    run) with this interpreter."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="newsig-bench-http-") as tmp:
        started = time.perf_counter()
        args = ["serve", "--host", "127.0.0.1", "--port", str(port), "--no-ingest",
                "--store", store_url or f"sqlite:///{tmp}/bench.db",
                "--model-dir", str(model_dir)]
        extra = dict(env or {})
        if code_dir is not None:
            cmd = [sys.executable, "-c", "import sys; from api.cli import main; sys.exit(main())",
                   *args]
            extra["PYTHONPATH"] = str(code_dir)
        else:
            cmd = [str(Path(sys.executable).parent / "newsig"), *args]
        # The server's log goes to a file, never an unread pipe (a long run would fill it and
        # block the server); its tail explains a failed start.
        log_path = Path(tmp) / "serve.log"
        log_file = log_path.open("wb")
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log_file,
                                env={**os.environ, **extra},
                                cwd=str(code_dir) if code_dir else None)
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    r = httpx.post(f"{base}/classify", json={"headline": "Shares rose"},
                                   timeout=5)
                    if r.status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    err = log_path.read_bytes().decode(errors="replace")[-2000:]
                    raise RuntimeError(f"newsig serve did not start: {err}")
                time.sleep(0.02)
            yield base, time.perf_counter() - started, proc.pid
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log_file.close()

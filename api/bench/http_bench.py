"""`newsig bench classify --http`: one headline at a time over HTTP through a real
`newsig serve`, the original serving path timed in the same run, side by side.

- Cold start: from spawning `newsig serve` to its first `/classify` answer; and for the API
  Lambda handler in classifier=lambda mode (import + model load + first answer), in a fresh
  interpreter.
- Lone requests: each sentence of the canonical test sent alone on one keep-alive connection,
  every sentence once per run; p50/p90/p99 per run, medians over runs.
- Concurrency: `concurrency` clients at once, each on its own keep-alive connection;
  classifications/s and latency percentiles.
- The original path (DistilBERT-base, PyTorch eager fp32, batch 1, in-process: it had no HTTP
  cost counted) on the same sentences, in the same process run."""

from __future__ import annotations

import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from tqdm import tqdm

from api.bench.classify import OriginalServingPath, _percentiles
from api.bench.server import running_server
from core.machine import machine_info
from core.names import VERSION_FILE
from model.data import FPB_TEST, load_labelled_csv


def parse_server_timing(header: str) -> dict[str, float]:
    """`model;dur=2.1, route;dur=2.4` -> {"model": 2.1, "route": 2.4}."""
    out = {}
    for part in header.split(","):
        name, _, rest = part.strip().partition(";dur=")
        try:
            out[name] = float(rest)
        except ValueError:
            continue
    return out


class KeepAliveClient:
    """POST /classify on one persistent HTTP/1.1 connection (http.client: the lightest
    client in the standard library, so the figure is the server's, not a client's)."""

    def __init__(self, base: str) -> None:
        host, _, port = base.removeprefix("http://").partition(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=60)
        self.timings: dict[str, float] = {}

    def classify(self, text: str) -> bytes:
        self.conn.request("POST", "/classify", body=json.dumps({"headline": text}),
                          headers={"content-type": "application/json"})
        resp = self.conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"/classify answered {resp.status}: {body[:200]!r}")
        self.timings = parse_server_timing(resp.getheader("server-timing") or "")
        return body

    def close(self) -> None:
        self.conn.close()


def lone_requests(base: str, texts: list[str], *, runs: int) -> dict[str, Any]:
    """One sentence per request, one request at a time, on one keep-alive connection."""
    client = KeepAliveClient(base)
    try:
        for t in texts[:30]:
            client.classify(t)
        per_run = []
        for _ in tqdm(range(runs), desc="http lone", unit="run"):
            samples, model, route = [], [], []
            for t in texts:
                t0 = time.perf_counter()
                client.classify(t)
                samples.append((time.perf_counter() - t0) * 1000)
                if "model" in client.timings:  # (servers before Server-Timing send none)
                    model.append(client.timings["model"])
                    route.append(client.timings["route"])
            # Where the milliseconds go (medians): the model call (pool hop, tokenizer,
            # model) and the route as the server measured them; the rest is HTTP parsing,
            # validation, middleware and the client.
            per_run.append({**_percentiles(samples), **({
                "server_model_p50_ms": round(statistics.median(model), 3),
                "server_route_p50_ms": round(statistics.median(route), 3)} if model else {})})
    finally:
        client.close()
    return {k: round(statistics.median(r[k] for r in per_run), 3) for k in per_run[0]} | {
        "runs": runs, "sentences": len(texts), "per_run": per_run}


def concurrent_requests(base: str, texts: list[str], *, concurrency: int, runs: int
                        ) -> dict[str, Any]:
    """`concurrency` clients, each sending its share of the sentences one by one."""
    per_run = []
    for _ in tqdm(range(runs), desc=f"http c={concurrency}", unit="run"):
        samples: list[float] = []
        lock = threading.Lock()
        shares = [texts[i::concurrency] for i in range(concurrency)]

        def client_loop(share: list[str], samples: list[float] = samples,
                        lock: threading.Lock = lock) -> None:
            mine = []
            client = KeepAliveClient(base)
            try:
                for t in share:
                    t0 = time.perf_counter()
                    client.classify(t)
                    mine.append((time.perf_counter() - t0) * 1000)
            finally:
                client.close()
            with lock:
                samples.extend(mine)

        threads = [threading.Thread(target=client_loop, args=(s,)) for s in shares]
        t0 = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        wall = time.perf_counter() - t0
        per_run.append({"classifications_per_s": round(len(samples) / wall, 1),
                        **_percentiles(samples)})
    return {k: round(statistics.median(r[k] for r in per_run), 3) for k in per_run[0]} | {
        "concurrency": concurrency, "runs": runs, "per_run": per_run}


LAMBDA_COLD = r'''
import json, sys, time
t0 = time.perf_counter()
import api.lambda_handler as h
t1 = time.perf_counter()
event = {"resource": "/classify", "path": "/classify", "httpMethod": "POST",
         "headers": {"content-type": "application/json"},
         "multiValueHeaders": {"content-type": ["application/json"]},
         "queryStringParameters": None, "multiValueQueryStringParameters": None,
         "pathParameters": None, "stageVariables": None, "isBase64Encoded": False,
         "body": json.dumps({"headline": "Shares rose after the results"}),
         "requestContext": {"resourcePath": "/classify", "httpMethod": "POST",
                            "path": "/prod/classify", "stage": "prod", "requestId": "cold",
                            "identity": {"sourceIp": "127.0.0.1"}}}
resp = h.handler(event, None)
t2 = time.perf_counter()
resp2 = h.handler(event, None)
t3 = time.perf_counter()
assert resp["statusCode"] == 200 and resp2["statusCode"] == 200, resp
print(json.dumps({"import_s": t1 - t0, "first_answer_s": t2 - t0,
                  "warm_answer_ms": (t3 - t2) * 1000}))
'''


def lambda_cold_start(model_dir: Path, *, runs: int = 3) -> dict[str, Any]:
    """The API handler in classifier=lambda mode (the ONNX model inside the function), in a
    fresh interpreter each run: process start to first answer, and its parts."""
    rows = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="newsig-cold-") as tmp:
            env = {**os.environ, "NEWSIG_CLASSIFIER": "onnx",
                   "NEWSIG_MODEL_DIR": str(model_dir),
                   "NEWSIG_STORE_URL": f"sqlite:///{tmp}/cold.db",
                   "POWERTOOLS_METRICS_NAMESPACE": "NewsSignals"}
            t0 = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", LAMBDA_COLD], env=env,
                                 capture_output=True, text=True, timeout=120, check=True)
            wall = time.perf_counter() - t0
            inner = json.loads(out.stdout.strip().splitlines()[-1])
            rows.append({"process_to_first_answer_s": wall, **inner})
    return {k: round(statistics.median(r[k] for r in rows), 3) for k in rows[0]} | {
        "runs": runs}


def bench_http(model_dir: str | Path, *, runs: int = 3, input_csv: str | Path = FPB_TEST,
               concurrency: int = 16, baseline: bool = True,
               cold_runs: int = 3, env: dict[str, str] | None = None,
               before: Path | None = None) -> dict[str, Any]:
    """`before`: another checkout whose server is measured in the same run, interleaved run
    by run with this one (lone and concurrent), for before/after ratios."""
    model_dir = Path(model_dir).resolve()
    texts, _ = load_labelled_csv(input_csv)
    result: dict[str, Any] = {"benchmark": "classify-http", "model_dir": str(model_dir),
                              "model_version": (model_dir / VERSION_FILE).read_text().strip(),
                              "input": str(input_csv), "machine": machine_info(),
                              "server_env": env or {}}
    colds = []
    for _ in range(cold_runs):
        with running_server(model_dir, env) as (_base, cold, _pid):
            colds.append(cold)
    with ExitStack() as stack:
        servers = {"after": stack.enter_context(running_server(model_dir, env))[0]}
        if before is not None:
            # The other checkout serves its own release model: code and model as they were.
            servers["before"] = stack.enter_context(
                running_server(before / "model" / "release", env, code_dir=before))[0]
        lone: dict[str, list[dict[str, Any]]] = {k: [] for k in servers}
        conc: dict[str, list[dict[str, Any]]] = {k: [] for k in servers}
        # The original path runs in this process, one pass per run between the servers'
        # passes, so each run's ratio compares the two under the same machine conditions
        # (this VM's speed drifts by a third within an hour).
        original = OriginalServingPath(model_dir) if baseline else None
        if original is not None:
            original.warm_up(texts)
        original_runs: list[dict[str, float]] = []
        for _ in tqdm(range(runs), desc="http runs", unit="run"):
            for name, base in servers.items():
                lone[name].append(lone_requests(base, texts, runs=1))
                conc[name].append(concurrent_requests(base, texts, concurrency=concurrency,
                                                      runs=1))
            if original is not None:
                original_runs.append(original.run_pass(texts))

    def med(rows: list[dict[str, Any]]) -> dict[str, Any]:
        keys = [k for k, v in rows[0].items() if isinstance(v, float)]
        return {k: round(statistics.median(r[k] for r in rows), 3) for k in keys} | {
            "runs": len(rows), "per_run": [{k: r[k] for k in keys} for r in rows]}

    result["http_single"] = med(lone["after"]) | {"sentences": len(texts)}
    result["http_concurrent"] = med(conc["after"]) | {"concurrency": concurrency}
    if before is not None:
        result["before"] = {"code": str(before),
                            "model_version": (before / "model" / "release" / VERSION_FILE
                                              ).read_text().strip(),
                            "http_single": med(lone["before"]),
                            "http_concurrent": med(conc["before"])}
        result["after_vs_before"] = {
            "p50_ratio": round(result["before"]["http_single"]["p50_ms"]
                               / result["http_single"]["p50_ms"], 2),
            "throughput_ratio": round(
                result["http_concurrent"]["classifications_per_s"]
                / result["before"]["http_concurrent"]["classifications_per_s"], 2)}
    result["cold_start"] = {
        "serve_to_first_answer_s": round(statistics.median(colds), 3),
        "serve_runs_s": [round(c, 3) for c in colds],
        "lambda_handler": lambda_cold_start(model_dir, runs=cold_runs)}
    if original is not None:
        result["original_serving_path"] = original.summary(original_runs, len(texts))
        result["speedup_p50"] = round(result["original_serving_path"]["p50_ms"]
                                      / result["http_single"]["p50_ms"], 1)
        result["speedup_p50_per_run"] = [
            round(o["p50_ms"] / h["p50_ms"], 1) for o, h in zip(
                original_runs, result["http_single"]["per_run"], strict=True)]
        result["goals"] = {"speedup_p50_at_least": 10,
                           "met": result["speedup_p50"] >= 10}
    return result

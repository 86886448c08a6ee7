"""Versioned scores end to end: `newsig rescore` (resumable, idempotent), `newsig versions`
(list, diff, activate, log), `newsig signals --model-version/--as-of` and the API's queries,
on a store filled by a real ingest-like write of real classifier output."""

from __future__ import annotations

import json
import os
import signal as signals_
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from core.adapters.onnx_classifier import OnnxClassifier
from core.adapters.sqlite_store import SQLiteSignalStore
from core.models import Article, Signal
from tests.support.builders import T0
from tests.support.tiny_model import build_tiny_model

TITLES = ["profit rose to a record", "profit fell to a loss", "board meets monday",
          "shares rose on strong growth", "sales decline miss", "oil price report"]


@pytest.fixture(scope="module")
def second_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Another model version: the tiny model fitted with another seed."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-v2"), seed=7)


def fill(db: Path, model_dir: Path, n: int) -> list[Signal]:
    clf = OnnxClassifier(model_dir)
    arts = [Article(source_id=f"feed-{i % 3}", title=f"{TITLES[i % len(TITLES)]} {i}",
                    guid=f"g{i}", first_seen_at=T0 + timedelta(minutes=i)) for i in range(n)]
    sigs = [Signal.from_article(a, p, scored_at=a.first_seen_at)
            for a, p in zip(arts, clf.classify([a.title for a in arts]), strict=True)]
    store = SQLiteSignalStore(db)
    store.put_many(sigs)
    store.close()
    return sigs


def newsig(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "api.cli", *args], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "NEWSIG_TIER": "fast"})


def test_rescore_resumes_after_kill_and_versions_follow(tmp_path: Path, tiny_model_dir: Path,
                                                        second_model: Path) -> None:
    db = tmp_path / "signals.db"
    url = f"sqlite:///{db}"
    fill(db, tiny_model_dir, 3000)
    v1 = (tiny_model_dir / "model_version").read_text().strip()
    v2 = (second_model / "model_version").read_text().strip()
    assert v1 != v2
    # a rescore killed mid-run (kill -9) ...
    proc = subprocess.Popen([sys.executable, "-m", "api.cli", "rescore", "--store", url,
                             "--model-dir", str(second_model), "--batch", "50"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    store = SQLiteSignalStore(db)
    deadline = time.monotonic() + 120
    while store.missing(v2) == 3000 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signals_.SIGKILL)
    proc.wait()
    partial = 3000 - store.missing(v2)
    assert 0 < partial < 3000, partial
    # ... and run again finishes the job: nothing doubled, nothing missed
    done = newsig("rescore", "--store", url, "--model-dir", str(second_model))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["todo"] == result["scored"] == 3000 - partial and result["complete"]
    assert store.missing(v2) == 0
    _, rows = store.versions()
    assert {r["version"]: r["scored"] for r in rows} == {v1: 3000, v2: 3000}
    # the same scores as classifying afresh
    fresh = OnnxClassifier(second_model).classify([TITLES[0] + " 0"])[0]
    got = store.query(model_version=v2, until=T0 + timedelta(seconds=30)).items[0]
    assert got.label == fresh.label and abs(got.score - fresh.score) < 1e-9
    assert store.get(got.signal_id).model_version == v1  # type: ignore[union-attr]
    # idempotent: a second run does nothing
    again = json.loads(newsig("rescore", "--store", url, "--model-dir",
                              str(second_model)).stdout)
    assert again["todo"] == again["scored"] == 0
    store.close()


def test_versions_commands_and_queries(tmp_path: Path, tiny_model_dir: Path,
                                       second_model: Path) -> None:
    db = tmp_path / "signals.db"
    url = f"sqlite:///{db}"
    sigs = fill(db, tiny_model_dir, 60)
    v1 = (tiny_model_dir / "model_version").read_text().strip()
    v2 = (second_model / "model_version").read_text().strip()
    # only feed-0 rescored: coverage incomplete, activation refused unless forced
    assert newsig("rescore", "--store", url, "--model-dir", str(second_model),
                  "--source", "feed-0").returncode == 0
    rows = [json.loads(x) for x in newsig("versions", "--store", url).stdout.splitlines()]
    by = {r["version"]: r for r in rows}
    assert by[v1]["coverage"] == 1.0 and by[v1]["active"] and abs(by[v2]["coverage"] - 1 / 3) < 1e-4
    refused = newsig("versions", "activate", v2, "--store", url)
    assert refused.returncode == 2 and "--force" in refused.stderr
    # signals by version: the missing ones are left out and counted
    out = newsig("signals", "--store", url, "--model-version", v2, "--limit", "100")
    items = [json.loads(x) for x in out.stdout.splitlines()]
    assert len(items) == 20 and {i["model_version"] for i in items} == {v2}
    assert "40 signals in range have no score" in out.stderr
    unknown = newsig("signals", "--store", url, "--model-version", "nope")
    assert unknown.returncode == 2 and "unknown model_version 'nope'" in unknown.stderr
    as_of = (T0 + timedelta(minutes=9)).isoformat()
    then = [json.loads(x) for x in newsig("signals", "--store", url, "--as-of",
                                          as_of).stdout.splitlines()]
    assert len(then) == 10 and {i["model_version"] for i in then} == {v1}
    bad = newsig("signals", "--store", url, "--as-of", "yesterday")
    assert bad.returncode == 2
    # diff with a plot
    plot = tmp_path / "diff.png"
    d = newsig("versions", "diff", v1, v2, "--store", url, "--plot", str(plot))
    assert d.returncode == 0, d.stderr
    report = json.loads(d.stdout)
    assert report["signals"] == 20 and plot.stat().st_size > 1000
    assert {r["source"] for r in report["by_source"]} <= {"feed-0"}
    # finish, activate (logged), and the API follows the active version
    newsig("rescore", "--store", url, "--model-dir", str(second_model))
    assert newsig("versions", "activate", v2, "--store", url).returncode == 0
    log = [json.loads(x) for x in newsig("versions", "log", "--store", url).stdout.splitlines()]
    assert log[-1]["version"] == v2 and log[-1]["previous"] is None
    from api.app import create_app
    from api.deps import Services

    store = SQLiteSignalStore(db)
    app = create_app(Services(store, classifier=OnnxClassifier(tiny_model_dir)))
    with TestClient(app) as client:
        body = client.get("/signals", params={"limit": 5}).json()
        assert body["model_version"] == v2 and body["missing"] == 0
        assert {i["model_version"] for i in body["items"]} == {v2}
        old = client.get("/signals/summary", params={"model_version": v1, "bucket": "1d"}).json()
        assert old["model_version"] == v1 and sum(b["total"] for b in old["buckets"]) == 60
        r = client.get("/signals", params={"model_version": "v-unknown"})
        assert r.status_code == 422 and "v-unknown" in r.text
        r = client.get("/signals", params={"as_of": "not-a-time"})
        assert r.status_code == 422
        r = client.get("/signals", params={"as_of": sigs[4].first_seen_at.isoformat(),
                                           "model_version": v1})
        assert len(r.json()["items"]) == 5
    store.close()


def test_rescore_with_a_folder_that_is_not_a_model_writes_nothing(tmp_path: Path,
                                                                  tiny_model_dir: Path) -> None:
    db = tmp_path / "signals.db"
    fill(db, tiny_model_dir, 5)
    r = newsig("rescore", "--store", f"sqlite:///{db}", "--model-dir", str(tmp_path))
    assert r.returncode == 2 and "has no" in r.stderr
    _, rows = SQLiteSignalStore(db).versions()
    assert len(rows) == 1


def test_bench_rescore_prints_its_figures(tiny_model_dir: Path) -> None:
    from api.bench.rescore import bench_rescore

    r = bench_rescore(tiny_model_dir, signals=400, dynamodb_signals=40, runs=1,
                      classify_sample=200, progress=False)
    assert r["sqlite"]["scored"] == 400 and r["sqlite"]["second_run_scored"] == 0
    assert r["sqlite"]["ratio_to_classify"] > 0 and r["classify"]["median_per_s"] > 0
    assert r["dynamodb_moto"]["scored"] == r["dynamodb_moto"]["signals"] > 0
    assert {"query_first_score_ms", "query_model_version_ms", "query_as_of_ms"} <= set(
        r["queries"])

"""The `newsig` console script, run as a user would (subprocesses, real files, real server)."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.builders import ATOM_ENTRIES, RSS_ITEMS, write_csv
from tests.support.feed_server import FeedServer, Route, atom, rss

NEWSIG = str(Path(sys.executable).parent / "newsig")


def run(*args: str, cwd: Path | None = None, timeout: float = 120,
        stdin: str | None = None, env_extra: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NEWSIG_STORE_URL": "sqlite:///should-not-be-used.db",
           **(env_extra or {})}
    return subprocess.run([NEWSIG, *args], capture_output=True, text=True, timeout=timeout,
                          cwd=cwd, env=env, input=stdin)


def lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def feeds_file(feed_server: FeedServer, tmp_path: Path) -> Path:
    feed_server.routes["/rss.xml"] = Route(rss(RSS_ITEMS))
    feed_server.routes["/atom.xml"] = Route(atom(ATOM_ENTRIES))
    path = tmp_path / "feeds.toml"
    path.write_text(f'[[feeds]]\nid = "rss"\nurl = "{feed_server.url("/rss.xml")}"\n'
                    f'tickers = ["NOK"]\n\n[[feeds]]\nid = "atom"\n'
                    f'url = "{feed_server.url("/atom.xml")}"\n\n[[feeds]]\nid = "gone"\n'
                    f'url = "{feed_server.url("/gone.xml")}"\n')
    return path


def test_classify_texts(tiny_model_dir: Path) -> None:
    r = run("classify", "--model-dir", str(tiny_model_dir), "profit rose to a record",
            "profit fell to a loss")
    assert r.returncode == 0, r.stderr
    out = lines(r.stdout)
    assert [o["text"] for o in out] == ["profit rose to a record", "profit fell to a loss"]
    assert [o["label"] for o in out] == ["positive", "negative"]
    assert set(out[0]) == {"text", "label", "probabilities", "score", "model_version",
                           "entities", "events", "tier"}
    assert {o["tier"] for o in out} == {"fast"}  # no teacher: the fast tier answered


def test_classify_csv_with_multiline_fields_keeps_row_order(tiny_model_dir: Path,
                                                           tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    rows = [("1", "profit rose,\nto a record"), ("2", 'board "meets" monday'),
            ("3", "profit fell to a loss")]
    with src.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "headline"])
        w.writerows(rows)
    out = tmp_path / "out.jsonl"
    r = run("classify", "--model-dir", str(tiny_model_dir), "--input", str(src),
            "--text-column", "headline", "--output", str(out))
    assert r.returncode == 0, r.stderr
    got = lines(out.read_text())
    assert [g["text"] for g in got] == [t for _, t in rows]
    assert [g["label"] for g in got] == ["positive", "neutral", "negative"]


def test_classify_jsonl_and_txt(tiny_model_dir: Path, tmp_path: Path) -> None:
    jl = tmp_path / "in.jsonl"
    jl.write_text('{"text": "profit fell to a loss"}\n\n"board meets monday"\n')
    r = run("classify", "--model-dir", str(tiny_model_dir), "--input", str(jl))
    assert [o["text"] for o in lines(r.stdout)] == ["profit fell to a loss",
                                                    "board meets monday"]
    txt = tmp_path / "in.txt"
    txt.write_text("shares rose on record profit\n\nprofit fell to a loss\n")
    r = run("classify", "--model-dir", str(tiny_model_dir), "--input", str(txt))
    assert [o["label"] for o in lines(r.stdout)] == ["positive", "negative"]


def test_classify_bad_input_names_file_and_line(tiny_model_dir: Path, tmp_path: Path) -> None:
    src = tmp_path / "bad.csv"
    src.write_text('text\n"first ok"\n"multi\nline"\n""\nlast\n')
    r = run("classify", "--model-dir", str(tiny_model_dir), "--input", str(src))
    assert r.returncode == 2
    assert f"{src}:5: empty text" in r.stderr
    assert r.stdout == ""
    r = run("classify", "--model-dir", str(tiny_model_dir), "--input", str(src),
            "--text-column", "headline")
    assert r.returncode == 2 and "no column 'headline'" in r.stderr
    jl = tmp_path / "bad.jsonl"
    jl.write_text('{"text": "ok"}\n{broken\n')
    r = run("classify", "--model-dir", str(tiny_model_dir), "--input", str(jl))
    assert r.returncode == 2 and f"{jl}:2: invalid JSON" in r.stderr


def test_missing_model_is_a_clear_cli_error(tmp_path: Path) -> None:
    r = run("classify", "--model-dir", str(tmp_path / "none"), "hello")
    assert r.returncode == 2
    assert "newsig model train" in r.stderr
    assert "Traceback" not in r.stderr


def test_ingest_once_twice_then_query(tiny_model_dir: Path, feeds_file: Path,
                                      tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'db' / 'signals.db'}"
    args = ("ingest", "--once", "--feeds", str(feeds_file), "--store", store,
            "--model-dir", str(tiny_model_dir))
    first = run(*args)
    assert first.returncode == 0, first.stderr
    (summary,) = lines(first.stdout)
    assert summary["feeds_ok"] == 2
    assert [f["id"] for f in summary["feeds_failed"]] == ["gone"]
    assert "404" in summary["feeds_failed"][0]["reason"]
    assert (summary["entries_seen"], summary["signals_written"], summary["duplicates"]) == (
        6, 5, 1)
    (again,) = lines(run(*args).stdout)
    assert (again["signals_written"], again["duplicates"]) == (0, 6)

    r = run("signals", "--store", store)
    assert r.returncode == 0, r.stderr
    assert len(lines(r.stdout)) == 5
    nok = lines(run("signals", "--store", store, "--ticker", "NOK", "--limit", "2").stdout)
    assert len(nok) == 2 and all("NOK" in s["tickers"] for s in nok)
    atom_only = lines(run("signals", "--store", store, "--source", "atom").stdout)
    assert {s["source_id"] for s in atom_only} == {"atom"} and len(atom_only) == 2


def test_feeds_health_and_distinct_stories(tiny_model_dir: Path, feed_server: FeedServer,
                                           tmp_path: Path) -> None:
    story = [{"title": "Apple profit rose to a record", "guid": "x1", "link": "https://a/1"}]
    feed_server.routes["/one.xml"] = Route(rss(story))
    feed_server.routes["/two.xml"] = Route(rss([{**story[0], "guid": "y1",
                                                  "link": "https://b/1"}]))
    feeds = tmp_path / "feeds.toml"
    feeds.write_text(f'[[feeds]]\nid = "one"\nurl = "{feed_server.url("/one.xml")}"\n'
                     f'[[feeds]]\nid = "two"\nurl = "{feed_server.url("/two.xml")}"\n'
                     f'[[feeds]]\nid = "down"\nurl = "{feed_server.url("/down.xml")}"\n')
    names = tmp_path / "names.csv"
    names.write_text("name,ticker\nApple,APPL.X\n")
    store = f"sqlite:///{tmp_path / 's.db'}"
    r = run("ingest", "--once", "--feeds", str(feeds), "--store", store, "--model-dir",
            str(tiny_model_dir), "--tickers", str(names))
    assert r.returncode == 0, r.stderr
    health = {h["id"]: h for h in lines(run("feeds", "--feeds", str(feeds), "--store",
                                            store).stdout)}
    assert health["one"]["status"] == "ok" and health["one"]["signals_written"] == 1
    assert health["down"]["status"] == "failing" and "404" in health["down"]["last_error"]
    assert health["down"]["next_attempt_at"]
    assert len(lines(run("signals", "--store", store).stdout)) == 2
    distinct = lines(run("signals", "--store", store, "--distinct", "story").stdout)
    assert len(distinct) == 1 and distinct[0]["tickers"] == ["APPL.X"]


def test_bad_feeds_file_is_a_clear_cli_error(tiny_model_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "feeds.toml"
    bad.write_text('[[feeds]]\nurl = "http://127.0.0.1:9/x"\n')
    r = run("ingest", "--once", "--feeds", str(bad), "--store",
            f"sqlite:///{tmp_path / 's.db'}", "--model-dir", str(tiny_model_dir))
    assert r.returncode == 2
    assert f"{bad}, feed #1: id" in r.stderr


def test_model_evaluate(tiny_model_dir: Path, tmp_path: Path) -> None:
    src = tmp_path / "labelled.csv"
    src.write_text("text,label\nprofit rose to a record,positive\nprofit fell to a loss,"
                   "negative\nboard meets monday,neutral\nsales decline miss,positive\n")
    r = run("model", "evaluate", "--model-dir", str(tiny_model_dir), "--input", str(src))
    assert r.returncode == 0, r.stderr
    (m,) = lines(r.stdout)
    assert m["n"] == 4
    assert m["accuracy"] == pytest.approx(0.75)
    assert sum(map(sum, m["confusion_matrix"])) == 4
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\nfine,neutral\nweird,maybe\n")
    r = run("model", "evaluate", "--model-dir", str(tiny_model_dir), "--input", str(bad))
    assert r.returncode == 2 and f"{bad}:3: label 'maybe'" in r.stderr


def test_model_measure_rewrites_the_figures_and_keeps_the_record(tiny_model_dir: Path,
                                                                 tmp_path: Path) -> None:
    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    (folder / "metrics.json").write_text(json.dumps({
        "config": {"seed": 7}, "release": {"source": "x"}, "test": {"accuracy": 0.1}}))
    r = run("model", "measure", "--model-dir", str(folder))
    assert r.returncode == 0, r.stderr
    (out,) = lines(r.stdout)
    saved = json.loads((folder / "metrics.json").read_text())
    assert saved["config"] == {"seed": 7} and saved["release"] == {"source": "x"}
    for section in ("test", "test_fp32"):
        assert saved[section]["n"] == 690  # the canonical test
        assert out[f"{section}.accuracy"] == saved[section]["accuracy"] != 0.1
    # No holdout file in the folder (as in a release): the fixed holdout, from the data.
    assert saved["validation_headlines"]["n"] > 1000
    assert saved["measured"]["rows"] == "one sentence per model run"
    assert "export" not in saved
    # A release folder has no fp32 graph: its fp32 figures are kept as they were.
    (folder / "model.onnx").unlink()
    r = run("model", "measure", "--model-dir", str(folder))
    assert r.returncode == 0, r.stderr
    assert json.loads((folder / "metrics.json").read_text())["test_fp32"] == saved["test_fp32"]


def test_model_export_onnx_reexports_the_weights_mask_free(tiny_model_dir: Path,
                                                            tmp_path: Path) -> None:
    pytest.importorskip("torch", reason="re-export needs the train extra")
    import onnx

    out = tmp_path / "again"
    r = run("model", "export", "--onnx", str(out), "--model-dir", str(tiny_model_dir),
            timeout=300)
    assert r.returncode == 0, r.stderr
    inputs = {i.name for i in onnx.load(str(out / "model.int8.onnx")).graph.input}
    assert "attention_mask" not in inputs
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["export"]["graph"].endswith("no attention mask (one unpadded sentence a run)")
    # The same weights exported the same way: the same graph, so the same version.
    assert (out / "model_version").read_text() == (tiny_model_dir / "model_version").read_text()
    assert saved["test"]["model_version"] == (out / "model_version").read_text().strip()


def test_bench_classify_prints_json(tiny_model_dir: Path, tmp_path: Path) -> None:
    src = tmp_path / "sentences.csv"
    src.write_text("text,label\n" + "".join(f"profit rose {i},positive\n" for i in range(40)))
    out = tmp_path / "bench.json"
    r = run("bench", "classify", "--model-dir", str(tiny_model_dir), "--runs", "2",
            "--input", str(src), "--out", str(out))
    assert r.returncode == 0, r.stderr
    (result,) = lines(r.stdout)
    assert result == json.loads(out.read_text())
    assert result["single"]["p50_ms"] > 0
    assert result["single"]["p99_ms"] >= result["single"]["p50_ms"]
    assert result["batched"]["sentences_per_s"] > 0
    assert result["single"]["sentences"] == 40
    # Headlines naming 0, 1, 2 and 4 companies, each with and without the entity sentiment.
    assert set(result["per_companies"]["companies"]) == {"0", "1", "2", "4"}
    assert all(v["after_p50_ms"] > 0 for v in result["per_companies"]["companies"].values())
    assert "original_serving_path" not in result


def test_bench_classify_side_by_side_with_the_original_path(tiny_model_dir: Path,
                                                            tmp_path: Path) -> None:
    src = tmp_path / "sentences.csv"
    src.write_text("text,label\n" + "".join(f"profit rose {i},positive\n" for i in range(12)))
    r = run("bench", "classify", "--model-dir", str(tiny_model_dir), "--runs", "1",
            "--input", str(src), "--baseline")
    assert r.returncode == 0, r.stderr
    (result,) = lines(r.stdout)
    original = result["original_serving_path"]
    assert original["parameters"] > 60_000_000  # DistilBERT-base, not the tiny model
    assert original["sentences"] == 12 and original["p50_ms"] > 0
    assert result["speedup_p50"] == pytest.approx(
        original["p50_ms"] / result["single"]["p50_ms"], rel=0.05)
    assert set(result["goals"]) == {"speedup_p50_at_least", "batched_at_least_per_s", "met"}


def test_bench_classify_op_profile_accounts_for_the_model_time(tiny_model_dir: Path,
                                                                tmp_path: Path) -> None:
    """Per operator type, from onnxruntime's profiler: every model run counted, the shares
    add up, the embedding lookup and the products are there, no profile file left behind."""
    import onnx

    src = tmp_path / "sentences.csv"
    src.write_text("text,label\n" + "".join(f"profit rose {i},positive\n" for i in range(15)))
    r = run("bench", "classify", "--model-dir", str(tiny_model_dir), "--runs", "2",
            "--input", str(src), "--op-profile", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    (result,) = lines(r.stdout)
    assert result["benchmark"] == "classify-ops" and result["model_runs"] == 30
    ops = {o["op"]: o for o in result["ops"]}
    assert sum(o["share"] for o in ops.values()) == pytest.approx(1.0, abs=0.01)
    assert sum(o["us_per_run"] for o in ops.values()) == pytest.approx(
        result["operator_us_per_run"], rel=0.01)
    assert "Gather" in ops and ops["Gather"]["calls_per_run"] >= 1
    graph_ops = {n.op_type for n in onnx.load(str(tiny_model_dir / "model.int8.onnx")).graph.node}
    assert graph_ops & set(ops)  # the file's operators (or their fusions) are what ran
    assert any("MatMul" in op or "Attention" in op for op in ops)
    assert result["model_run_p50_us"] > 0
    assert not list(tmp_path.glob("*.json"))  # the profiler's file went with its temp folder


def test_bench_ingest_prints_json(tiny_model_dir: Path, tmp_path: Path) -> None:
    r = run("bench", "ingest", "--model-dir", str(tiny_model_dir), "--feeds", "4", "--items",
            "6", "--latency-ms", "20", "--runs", "2")
    assert r.returncode == 0, r.stderr
    (result,) = lines(r.stdout)
    assert result["signals_written"] == 24
    assert result["first_pass_s"] > 0 and result["second_pass_s"] > 0
    assert all(run_["second_pass_not_modified"] == 4 for run_ in result["per_run"])
    assert all(run_["second_pass_signals_written"] == 0 for run_ in result["per_run"])


def start_serve(tiny_model_dir: Path, tmp_path: Path, *extra: str) -> tuple[subprocess.Popen,
                                                                             str]:
    port = free_port()
    proc = subprocess.Popen(
        [NEWSIG, "serve", "--port", str(port), "--store", f"sqlite:///{tmp_path / 'lt.db'}",
         "--model-dir", str(tiny_model_dir), *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "server did not come up"
        time.sleep(0.2)


def test_loadtest_writes_csvs_summary_and_plots(tiny_model_dir: Path, tmp_path: Path) -> None:
    proc, base = start_serve(tiny_model_dir, tmp_path, "--no-ingest")
    try:
        out = tmp_path / "lt"
        r = run("loadtest", "--url", base, "--concurrency", "1,4", "--duration", "1.5",
                "--warmup", "0.2", "--out", str(out))
        assert r.returncode == 0, r.stderr
        (result,) = lines(r.stdout)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    assert [s["concurrency"] for s in result["steps"]] == [1, 4]
    for step in result["steps"]:
        assert step["errors"] == 0 and step["throughput_per_s"] > 0
        assert step["p50_ms"] <= step["p95_ms"] <= step["p99_ms"]
        rows = (out / f"concurrency_{step['concurrency']}.csv").read_text().splitlines()
        assert rows[0] == "t_s,latency_ms,status" and len(rows) - 1 == step["requests"]
    for name in ("throughput.png", "latency.png", "cost.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert {c["option"] for c in result["costs"]} >= {"Lambda 1024 MB",
                                                      "SageMaker serverless 2048 MB"}
    assert all(c["usd_per_million"] > 0 for c in result["costs"])
    assert result["prices"]["region"] and result["prices"]["date"]
    r = run("loadtest", "--url", base, "--concurrency", "four")
    assert r.returncode == 2 and "--concurrency" in r.stderr


def test_serve_classifies_and_ingests_on_schedule(tiny_model_dir: Path, feeds_file: Path,
                                                  tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [NEWSIG, "serve", "--port", str(port), "--feeds", str(feeds_file), "--interval", "1",
         "--store", f"sqlite:///{tmp_path / 'serve.db'}", "--model-dir", str(tiny_model_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "server did not come up"
            time.sleep(0.2)
        r = httpx.post(f"{base}/classify", json={"headline": "profit fell to a loss"})
        assert r.status_code == 200 and r.json()["predictions"][0]["label"] == "negative"
        deadline = time.monotonic() + 30
        while True:
            items = httpx.get(f"{base}/signals").json()["items"]
            if len(items) == 5:
                break
            assert time.monotonic() < deadline, f"scheduler stored {len(items)} signals"
            time.sleep(0.3)
        time.sleep(2.5)  # more scheduled passes: still exactly five signals
        assert len(httpx.get(f"{base}/signals").json()["items"]) == 5
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    summaries = lines(out)
    assert len(summaries) >= 2
    assert summaries[0]["signals_written"] == 5
    assert all(s["signals_written"] == 0 for s in summaries[1:])
    assert proc.returncode == 0


@pytest.mark.parametrize(("args", "message"), [
    (("model", "cv", "--out", "x", "--folds", "1"), "--folds must be at least 2"),
    (("model", "seeds", "--out", "x", "--seeds", "1,two"), "--seeds '1,two': use e.g."),
    (("model", "seeds", "--out", "x", "--seeds", ","), "--seeds is empty"),
    (("model", "compare", "x", "."), "x: no such folder"),
    (("model", "compare", ".", "."), "no finished folds"),
])
def test_protocol_commands_refuse_bad_arguments(args: tuple[str, ...], message: str,
                                                tmp_path: Path) -> None:
    r = run(*args, cwd=tmp_path)
    assert r.returncode == 2 and message in r.stderr, r.stderr
    assert not (tmp_path / "x").exists()  # nothing trained, nothing written


def test_bench_soak_runs_a_real_server_and_reports_fds_and_rss(tiny_model_dir: Path,
                                                               tmp_path: Path) -> None:
    out = tmp_path / "soak.json"
    r = run("bench", "soak", "--model-dir", str(tiny_model_dir), "--duration", "9",
            "--burst", "2", "--gap", "1", "--concurrency", "4", "--out", str(out))
    result = json.loads(out.read_text())
    assert result["server_errors"] == 0 and result["requests"]["200"] > 20
    assert {s["phase"] for s in result["samples"]} == {"burst", "idle"}
    assert all(s["fds"] > 0 and s["rss_mb"] > 0 for s in result["samples"])
    assert r.returncode == (0 if result["flat_within_10_percent"] else 1)


def test_bad_settings_and_out_of_range_times_are_one_clear_line(tmp_path: Path) -> None:
    env = {**os.environ, "NEWSIG_API_KEY": "short"}
    r = subprocess.run([NEWSIG, "signals", "--store", f"sqlite:///{tmp_path / 's.db'}"],
                       capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 2 and "NEWSIG_API_KEY" in r.stderr and "Traceback" not in r.stderr
    r = run("signals", "--store", f"sqlite:///{tmp_path / 's.db'}", "--since",
            "0001-01-01T00:00:00+01:00")
    assert r.returncode == 2 and "years 1000-9999" in r.stderr and "Traceback" not in r.stderr


def test_model_compare_two_model_folders_on_a_csv(tiny_model_dir: Path, tmp_path: Path) -> None:
    from tests.support.tiny_model import TOY

    csv_path = write_csv(tmp_path / "t.csv", TOY)
    r = run("model", "compare", str(tiny_model_dir), str(tiny_model_dir), "--input",
            str(csv_path), "--out", str(tmp_path / "cmp" / "compare.json"))
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert json.loads((tmp_path / "cmp" / "compare.json").read_text()) == out
    assert out["n"] == len(TOY) and out["a_accuracy"] == out["b_accuracy"] == 1.0
    assert out["mcnemar_p"] == 1.0


def test_teacher_label_apply_headline_policy_needs_no_teacher(tmp_path: Path) -> None:
    src = tmp_path / "soft.csv"
    src.write_text("text,source,gold,p_negative,p_neutral,p_positive\n"
                   "KBR wins $23.7M contract,headlines_train,neutral,0.020000,0.950000,0.030000\n"
                   "Acme shares fell 9%,headlines_train,negative,0.900000,0.050000,0.050000\n")
    r = run("model", "teacher", "label", "--apply-headline-policy", "--source", str(src),
            "--out", str(tmp_path / "out.csv"),
            env_extra={"NEWSIG_CACHE": str(tmp_path / "empty-cache")})
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["headline_policy"]["gold_overruled"] == 1
    rows = list(csv.reader((tmp_path / "out.csv").open()))
    assert rows[1] == ["KBR wins $23.7M contract", "headlines_train", "positive",
                       "0.050000", "0.050000", "0.900000"]
    assert rows[2] == ["Acme shares fell 9%", "headlines_train", "negative",
                       "0.900000", "0.050000", "0.050000"]


def test_teacher_label_ensemble_relabels_with_named_teachers(tiny_model_dir: Path,
                                                             tmp_path: Path) -> None:
    src = tmp_path / "soft.csv"
    src.write_text("text,source,gold,p_negative,p_neutral,p_positive\n"
                   "Acme shares fell 9%,headlines_train,negative,0.900000,0.050000,0.050000\n"
                   "Profit rose 12%,augmented,,0.100000,0.100000,0.800000\n")
    env = {"NEWSIG_CACHE": str(tmp_path / "empty-cache")}
    r = run("model", "teacher", "label", "--ensemble", str(tiny_model_dir), str(tiny_model_dir),
            "--source", str(src), "--out", str(tmp_path / "out.csv"), env_extra=env)
    assert r.returncode == 0, r.stderr
    ensemble = json.loads(r.stdout)["ensemble"]
    assert [t["dir"] for t in ensemble["teachers"]] == [str(tiny_model_dir.resolve())] * 2
    rows = list(csv.reader((tmp_path / "out.csv").open()))
    assert [row[:3] for row in rows[1:]] == [["Acme shares fell 9%", "headlines_train",
                                              "negative"], ["Profit rose 12%", "augmented", ""]]
    assert rows[1][3:] != ["0.900000", "0.050000", "0.050000"]  # the teachers' own now
    r = run("model", "teacher", "label", "--ensemble", str(tiny_model_dir), "--add-synthetic",
            "2", "--source", str(src), "--out", str(tmp_path / "x.csv"), env_extra=env)
    assert r.returncode != 0 and "--ensemble relabels" in r.stderr
    assert not (tmp_path / "x.csv").exists()


def test_bench_entities_prints_its_figures(tmp_path: Path) -> None:
    out = tmp_path / "entities.json"
    r = run("bench", "entities", "--runs", "1", "--out", str(out), timeout=300)
    assert r.returncode == 0, r.stderr
    result = json.loads(out.read_text())
    assert result["benchmark"] == "entities"
    scored = result["headlines"]["scored"]
    assert scored["naming_a_known_company"] > 150
    assert 0 <= scored["recall_as_subject"] <= scored["recall"] <= 1
    assert set(scored["by_pattern"]) >= {"plain subject"}
    assert result["finentity"]["passages"] == 702
    assert result["false_positives"]["no_company_sentences"] >= 100
    assert result["false_positives"]["phrasebank_sentences"] == 4846
    assert result["linking"]["p50_us"] > 0 and result["summary"]["recall"] == scored[
        "recall_as_subject"]


def test_bench_compare_runs_both_checkouts_interleaved(tiny_model_dir: Path,
                                                       tmp_path: Path) -> None:
    """This checkout against itself: every shared figure gets a median and a ratio."""
    root = Path(__file__).resolve().parents[2]
    out = tmp_path / "compare.json"
    r = run("bench", "compare", "--before", str(root), "--rounds", "2", "--out", str(out),
            "--", "ingest", "--model-dir", str(tiny_model_dir), "--feeds", "2", "--items",
            "5", "--latency-ms", "0", "--runs", "1", timeout=300)
    assert r.returncode == 0, r.stderr
    result = json.loads(out.read_text())
    assert result["rounds"] == 2 and len(result["per_round"]["before"]) == 2
    assert result["median_before"]["signals_written"] == result["median_after"][
        "signals_written"] == 10
    assert result["ratio_after_over_before"]["signals_written"] == 1.0
    bad = run("bench", "compare", "--before", str(tmp_path), "--", "ingest")
    assert bad.returncode == 2 and "not a checkout" in bad.stderr


def test_entities_and_universe_commands(tmp_path: Path) -> None:
    r = run("entities", "Goldman cuts Apple to Sell", "Board meets Monday")
    assert r.returncode == 0, r.stderr
    first, second = lines(r.stdout)
    assert [(e["ticker"], e["role"], e["span"]) for e in first["entities"]] == [
        ("GS", "rater", [0, 7]), ("AAPL", "subject", [13, 18])]
    assert second["entities"] == []
    assert run("entities").returncode == 2  # neither TEXT nor --input
    shown = lines(run("universe", "show", "NOKIA.HE").stdout)
    assert shown[0]["ticker"] == "NOK" and shown[0]["links_as"] == {"Nokia": "always"}
    missing = run("universe", "show", "no such company at all")
    assert missing.returncode == 2 and "no company" in missing.stderr
    sec = tmp_path / "sec.json"
    sec.write_text(json.dumps({"0": {"cik_str": 7, "ticker": "ACME",
                                     "title": "ACME ROCKETS CORP /DE/"}}))
    out = tmp_path / "u.jsonl.gz"
    r = run("universe", "update", "--sec", str(sec), "--out", str(out), "--no-indices")
    assert r.returncode == 0, r.stderr
    assert lines(r.stdout)[0]["added"] == ["ACME"]
    sec.write_text("{not json")
    bad = run("universe", "update", "--sec", str(sec), "--out", str(out), "--no-indices")
    assert bad.returncode == 2 and f"{sec}:1" in bad.stderr
    mine = tmp_path / "mine.csv"
    mine.write_text("name,ticker\nAcme Rockets,ACME\n")
    r = run("entities", "--tickers", str(mine), "Acme Rockets lifts guidance")
    assert [e["ticker"] for e in lines(r.stdout)[0]["entities"]] == ["ACME"]


def test_classify_the_sentiment_toward_each_rows_target(tmp_path: Path) -> None:
    """The release model: one line per row; a row whose target is not in its text is an
    error naming the line (exit 2) and nothing is written."""
    rows = tmp_path / "rows.csv"
    rows.write_text("text,entity\n\"Macy's rises after beat while Kohl's slumps\",Kohl's\n"
                    "\"Macy's rises after beat while Kohl's slumps\",Macy's\n")
    out = tmp_path / "out.jsonl"
    r = run("classify", "--input", str(rows), "--target-column", "entity", "--output",
            str(out), timeout=180)
    assert r.returncode == 0, r.stderr
    kohls, macys = lines(out.read_text())
    assert set(kohls) == {"text", "target", "label", "probabilities", "score",
                          "model_version"}
    assert (kohls["label"], macys["label"]) == ("negative", "positive")
    bad = tmp_path / "bad.csv"
    bad.write_text("text,entity\nNokia rose,Nokia\nApple rises,Tesla\n")
    again = tmp_path / "again.jsonl"
    r = run("classify", "--input", str(bad), "--target-column", "entity", "--output",
            str(again))
    assert r.returncode == 2 and f"{bad}:3" in r.stderr and "Tesla" in r.stderr
    assert not again.exists()


def test_classify_targets_from_jsonl_names_a_bad_line(tiny_model_dir: Path,
                                                      tmp_path: Path) -> None:
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"text": "Nokia profit rose", "entity": "Nokia"}\n\n'
                    '{"text": "Kone fell", "entity": "Kone"}\n')
    r = run("classify", "--model-dir", str(tiny_model_dir), "--input", str(rows),
            "--target-column", "entity")
    assert r.returncode == 0, r.stderr
    assert [o["target"] for o in lines(r.stdout)] == ["Nokia", "Kone"]
    rows.write_text('{"text": "Nokia profit rose", "entity": "Nokia"}\n["not", "an object"]\n')
    r = run("classify", "--model-dir", str(tiny_model_dir), "--input", str(rows),
            "--target-column", "entity")
    assert r.returncode == 2 and f"{rows}:2" in r.stderr

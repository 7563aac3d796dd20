"""Command line: ``drawdigit [train|evaluate|predict|download-mnist]``; no command opens the app.

This is the only layer below the GUI that prints. Heavy imports (torch, numpy) happen inside
the commands so that ``drawdigit`` with no arguments shows its window quickly.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from drawdigit import __version__
from drawdigit.formatting import percent
from drawdigit.terminal import (
    ProgressBar,
    Terminated,
    error,
    load_predictor_or_explain,
    naming,
    say_warnings_plainly,
    shown_path,
    terminated_as_interrupt,
    warn,
    warnings_about,
)


def build_parser() -> argparse.ArgumentParser:
    from drawdigit.training.config import DEVICES, PRECISIONS

    parser = argparse.ArgumentParser(
        prog="drawdigit",
        description="Draw a digit and see what a small CNN thinks it is. "
        "Without a command, the app opens.",
    )
    parser.add_argument("--version", action="version", version=f"drawdigit {__version__}")
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="check that the model, the samples, the window and training work, then exit",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    train = commands.add_parser("train", help="train the network on MNIST")
    train.add_argument(
        "--preset",
        choices=("seed", "fast", "best"),
        help="ready-made settings (default: best; with --with-my-samples, one gentle epoch "
        "from the model in use). " + _preset_help(),
    )
    train.add_argument("--epochs", type=_at_least(1))
    train.add_argument("--batch-size", type=_at_least(1))
    train.add_argument("--lr", type=_learning_rate, help="(peak) learning rate, 0 < LR < 10")
    train.add_argument("--optimizer", choices=("rmsprop", "adam"))
    train.add_argument("--schedule", choices=("constant", "onecycle"))
    train.add_argument(
        "--augment",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="random affine and stroke-thickness changes (default: the preset's)",
    )
    train.add_argument(
        "--from-scratch",
        action="store_true",
        help="start from random weights instead of the model in use (presets start from "
        "scratch unless --from-current is given)",
    )
    train.add_argument("--from-current", action="store_true", help="start from the model in use")
    train.add_argument("--data-dir", type=Path, help="folder with the four MNIST files")
    train.add_argument("--out", type=Path, help="where to save the weights (default: user data)")
    train.add_argument("--activate", action="store_true", help="make the result the model in use")
    train.add_argument("--seed", type=_at_least(0))
    train.add_argument("--threads", type=_at_least(1), help="CPU threads for torch")
    train.add_argument("--device", choices=DEVICES, help="default: auto (a GPU if there is one)")
    train.add_argument(
        "--precision",
        choices=PRECISIONS,
        help="number format of the training steps (default: auto, bf16 only where the CPU "
        "or GPU computes it natively; the weights stay float32)",
    )
    train.add_argument(
        "--limit", type=_at_least(1), help="train on the first N MNIST images only (quick checks)"
    )
    train.add_argument(
        "--with-my-samples",
        action="store_true",
        help="mix your personal samples into MNIST (a quarter kept aside to measure)",
    )
    train.add_argument(
        "--pen-digits",
        type=_at_least(0),
        help="copies of the shipped pen-drawn digits in each epoch (0: none)",
    )
    train.add_argument(
        "--pen-not-digits",
        type=_at_least(0),
        help="copies of the shipped pen-drawn letters and symbols, taught as no digit",
    )
    train.add_argument(
        "--leave-out-fold",
        type=_fold,
        help="leave these writers of the pen ink out (0-4, or 'none': use every writer)",
    )
    train.add_argument("--json", action="store_true", help="last line: one JSON object")

    evaluate = commands.add_parser("evaluate", help="MNIST test accuracy of a model")
    evaluate.add_argument("--model", type=Path, help="model file (default: the model in use)")
    evaluate.add_argument("--data-dir", type=Path)
    evaluate.add_argument("--json", action="store_true")

    predict = commands.add_parser(
        "predict", help="answer for images or strokes files: a digit, a number, or not a digit"
    )
    predict.add_argument("files", nargs="+", type=Path, metavar="FILE")
    predict.add_argument("--model", type=Path, help="model file (default: the model in use)")
    predict.add_argument("--json", action="store_true", help="one JSON object per line")

    explain = commands.add_parser(
        "explain", help="look inside: saliency, feature maps and nearest MNIST digits as files"
    )
    explain.add_argument("file", type=Path, metavar="FILE", help="image or strokes file")
    explain.add_argument("--out", type=Path, help="folder for the files (default: explain-NAME)")
    explain.add_argument("--json", action="store_true", help="print a summary as one JSON object")
    explain.add_argument(
        "--versus", type=int, choices=range(10), metavar="D", help="why the answer and not D?"
    )
    explain.add_argument("--nearest", type=_at_least(1), default=8, help="memories (default 8)")
    explain.add_argument("--model", type=Path, help="model file (default: the model in use)")
    explain.add_argument("--data-dir", type=Path, help="MNIST folder, for the nearest memories")

    download = commands.add_parser("download-mnist", help="download MNIST into the user cache")
    download.add_argument("--dest", type=Path, help="folder (default: the user cache)")
    return parser


def _fold(text: str) -> int | str:
    """An argparse type: a writer fold of the shipped pen ink, 0-4, or "none"."""
    if text.strip().lower() == "none":
        return "none"
    if text.strip() in {str(k) for k in range(5)}:
        return int(text)
    raise argparse.ArgumentTypeError(f"a fold is 0-4 or 'none', not {text!r}")


def _at_least(low: int) -> Callable[[str], int]:
    """An argparse type: a whole number >= ``low``, so that ``--epochs 0`` is a usage error
    (exit 2, before any data is loaded) rather than a traceback or a silent default."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be a whole number >= {low}, not {text}")
        return value

    parse.__name__ = f"whole number >= {low}"  # what argparse names in its message
    return parse


def _learning_rate(text: str) -> float:
    """An argparse type: a finite learning rate with 0 < LR < 10 (nan and inf are refused)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (0.0 < value < 10.0):  # also false for nan
        raise argparse.ArgumentTypeError(f"must be a number with 0 < LR < 10, not {text}")
    return value


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    say_warnings_plainly()
    # No arguments: the window, which must appear at once; no parser is built for it.
    no_args = argparse.Namespace(self_test=False, command=None)
    args = build_parser().parse_args(argv) if argv else no_args
    args.argv = list(argv)  # what was asked for: a trained model records how to make it again
    if args.self_test:
        from drawdigit.selftest import run_self_test

        return run_self_test()
    if _reads_data_folder(args):
        _say_data_folder_problem()
    handlers = {
        "train": cmd_train,
        "evaluate": cmd_evaluate,
        "predict": cmd_predict,
        "explain": cmd_explain,
        "download-mnist": cmd_download,
    }
    try:
        if args.command is None:
            return gui_main()
        with terminated_as_interrupt():
            return handlers[args.command](args)
    except Terminated:
        print("\nterminated", file=sys.stderr)
        return 143  # 128 + SIGTERM, as shells report it
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `drawdigit predict *.json | head`: stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


def _reads_data_folder(args: argparse.Namespace) -> bool:
    """Whether a command other than ``train`` (which checks where it saves) looks in the
    user data folder: the model in use, the MNIST cache."""
    if args.command in ("predict", "evaluate", "explain"):
        return args.model is None
    return args.command == "download-mnist" and args.dest is None


def gui_main() -> int:
    from drawdigit.gui.app import run_gui

    say_warnings_plainly()
    return run_gui(sys.argv)


def _load_mnist_or_explain(data_dir: Path | None):
    """MNIST from the usual places, or ``None`` after telling the user how to get it."""
    from drawdigit.mnist import MnistError, find_data_dir, load_mnist

    try:
        found = find_data_dir(data_dir)
    except MnistError as exc:
        error(str(exc))
        return None
    if found is None:
        error(
            "MNIST not found. Pass --data-dir DIR, set DRAWDIGIT_MNIST_DIR, "
            "or run `drawdigit download-mnist`."
        )
        return None
    try:
        return load_mnist(found)
    except MnistError as exc:
        error(str(exc))
        return None


# --------------------------------------------------------------------------- train


def _preset_help() -> str:
    """Each preset's data and time, for ``train --help`` (``training.config`` is plain
    Python: no torch is loaded to print help)."""
    from drawdigit.training.config import PRESETS, preset_note

    return "; ".join(f"{key}: {preset_note(key, config)}" for key, config in PRESETS.items())


def _train_config(args: argparse.Namespace):
    from dataclasses import replace

    from drawdigit.training import PRESETS

    if args.preset is None and args.with_my_samples:
        from drawdigit.runs import MIXED_RECIPE

        config = MIXED_RECIPE
    else:
        config = PRESETS[args.preset or "best"]
    overrides = {
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "optimizer": args.optimizer,
        "schedule": args.schedule,
        "augment": args.augment,
        "seed": args.seed,
        "threads": args.threads,
        "device": args.device,
        "precision": args.precision,
        "pen_digits": args.pen_digits,
        "pen_not_digits": args.pen_not_digits,
    }
    overrides = {k: v for k, v in overrides.items() if v is not None}
    if args.leave_out_fold is not None:
        overrides["leave_out_fold"] = None if args.leave_out_fold == "none" else args.leave_out_fold
    if args.from_scratch:
        overrides["from_scratch"] = True
    if args.from_current:
        overrides["from_scratch"] = False
    overrides["quick_eval_seconds"] = 0  # the progress bar shows no estimate: save its cost
    config = replace(config, **overrides)
    if config.device in ("cuda", "mps"):
        from drawdigit.training.tensors import resolve_device

        resolve_device(config.device)  # a device that is not there: say so before loading data
    return config


def _save_problem(args: argparse.Namespace) -> str | None:
    """Why the model this run makes could not be saved (or activated), found before the
    run rather than after it: a file or ``/proc`` where the folder should be, a read-only
    or full disk, ``--out`` naming a folder (None: it can be)."""
    from drawdigit.store import active_model_path, folder_problem, user_data_dir

    out: Path | None = args.out
    if out is not None and out.is_dir():
        return f"--out {shown_path(out)} is a folder; name the model file to write"
    folders = [out.parent if out is not None else user_data_dir() / "models"]
    if args.activate:
        folders.append(active_model_path().parent)
    for folder in dict.fromkeys(folders):
        reason = folder_problem(folder)
        if reason is not None:
            return f"cannot save a model in {shown_path(folder)} ({reason}); nothing was trained"
    return None


def _say_data_folder_problem() -> None:
    """Once, at start: the user data folder cannot be used (``store.data_dir_problem``)."""
    from drawdigit.store import data_dir_problem

    problem = data_dir_problem()
    if problem is not None:
        warn(problem)


def cmd_train(args: argparse.Namespace) -> int:
    from drawdigit.finetune import FinetuneError
    from drawdigit.runs import (
        NoStartingModel,
        RunCancelled,
        RunDiverged,
        TrainingJob,
        activate_run,
        prepare_run,
        report_run,
    )
    from drawdigit.store import ModelFileError, user_data_dir
    from drawdigit.training import (
        BatchProgress,
        EpochEnd,
        TrainingDone,
        TrainingError,
        TrainingStarted,
        save_trained,
        save_trained_new,
    )

    started = time.monotonic()
    try:
        config = _train_config(args)
    except TrainingError as exc:
        return error(str(exc))
    problem = _save_problem(args)
    if problem is not None:
        return error(problem)
    _say_data_folder_problem()
    data = _load_mnist_or_explain(args.data_dir)
    if data is None:
        return 2
    job = TrainingJob(
        config=config,
        data=data,
        train_limit=args.limit or None,
        compare_current=False,  # the dialog's comparison; the CLI prints no such line
        with_my_samples=args.with_my_samples,
    )
    try:
        prepared = prepare_run(job, warn=warn)
    except FinetuneError as exc:
        return error(f"{exc} (add some with Correct in the app's window)")
    except NoStartingModel as exc:
        return error(f"{exc}; train --from-scratch instead")
    bar = ProgressBar()
    done: TrainingDone | None = None
    try:
        for event in prepared.fit():
            if isinstance(event, BatchProgress):
                bar.update(
                    event.fraction,
                    f"epoch {event.epoch}/{event.epochs} loss {event.loss:.4f} "
                    f"acc {percent(event.accuracy, 2)} {event.images_per_second:,.0f} img/s "
                    f"ETA {event.eta:.0f}s",
                )
            elif isinstance(event, TrainingStarted):
                bar.line(
                    f"training on {event.device} ({event.threads} thread(s)) in "
                    f"{event.precision}: {event.precision_reason}"
                )
            elif isinstance(event, EpochEnd):
                bar.line(
                    f"epoch {event.epoch}: train loss {event.train_loss:.4f}, "
                    f"train acc {percent(event.train_accuracy, 2)}, "
                    f"test acc {percent(event.test_accuracy, 2)} ({event.elapsed:.1f} s)"
                )
            elif isinstance(event, TrainingDone):
                done = event
    except TrainingError as exc:
        return error(str(exc))
    try:
        report = report_run(prepared, done, stage=bar.line)
    except RunCancelled:
        return error("training did not finish")
    except RunDiverged as exc:
        return error(str(exc))
    if report.head is None:
        warn(f"the model has {report.head_note}; it will not answer 'not a digit'")
    else:
        bar.line(f"'not a digit': {report.head_note}")
    mine = report.personal
    personal = mine.metadata() if mine is not None else {}
    extra = {k: v for k, v in report.metadata("drawdigit train").items() if k != "test_images"}
    extra["command"] = " ".join(["drawdigit", *args.argv])  # how to make it again
    head = report.head.to_head() if report.head is not None else None
    if mine is not None:
        bar.line(
            f"your samples: trained on {mine.trained}; the {mine.heldout} kept aside: "
            f"{percent(mine.before)} before, {percent(mine.after)} after"
        )
    out = args.out or user_data_dir() / "models"
    try:
        if args.out:  # the user named the file: theirs to overwrite
            metadata = save_trained(out, report.done, extra, head)
        else:  # a new name, never another run's (two runs may end in the same second)
            out, metadata = save_trained_new(out, report.done, extra, head=head)
        if args.activate:
            activate_run(report, "drawdigit train")
    except OSError as exc:
        return error(f"could not save the model to {out}: {exc.strerror or exc}")
    except ModelFileError as exc:  # weights that cannot answer (report_run says so first)
        return error(str(exc))
    seconds = time.monotonic() - started
    bar.line(
        f"test accuracy {percent(report.test_accuracy, 2)} after {report.done.seconds:.1f} s "
        f"of training ({seconds:.1f} s in all); saved to {out}"
        + ("; now the model in use" if args.activate else "")
    )
    if args.json:
        summary: dict[str, Any] = {
            **personal,
            "test_accuracy": report.test_accuracy,
            "seconds": seconds,
            "training_seconds": report.done.seconds,
            "precision": report.done.precision,
            "out": str(out),
            "sha256": metadata.get("sha256"),
            "config": config.to_dict(),
        }
        print(json.dumps(summary))
    return 0


# --------------------------------------------------------------------------- evaluate


def cmd_evaluate(args: argparse.Namespace) -> int:
    """MNIST test accuracy with the numpy forward pass: no torch import (1-2.5 s saved),
    and as fast as torch's on this machine (benchmarks/bench_predict.py)."""
    import numpy as np

    predictor = load_predictor_or_explain(args.model)
    if predictor is None:
        return 2
    data = _load_mnist_or_explain(args.data_dir)
    if data is None:
        return 2
    labels = np.asarray(data.test_labels, dtype=np.int64)
    answers = predictor.predict(data.test_images.astype(np.float32) / 255.0).argmax(axis=1)
    confusion = np.bincount(labels * 10 + answers, minlength=100).reshape(10, 10)
    totals = confusion.sum(axis=1)
    per_class = np.divide(np.diag(confusion), totals, out=np.zeros(10), where=totals > 0)
    accuracy = float((answers == labels).mean()) if len(labels) else 0.0
    if args.json:
        print(
            json.dumps(
                {
                    "model": str(predictor.source.path),
                    "accuracy": accuracy,
                    "per_class": [float(a) for a in per_class],
                    "confusion": confusion.tolist(),
                }
            )
        )
        return 0
    print(f"model: {predictor.source.describe()} ({predictor.source.path})")
    print(f"MNIST test accuracy: {percent(accuracy, 2)} of {len(labels)}")
    print("per class: " + "  ".join(f"{d}:{percent(a)}" for d, a in enumerate(per_class)))
    print("confusion matrix (rows: true digit, columns: predicted):")
    print("      " + "".join(f"{d:>6}" for d in range(10)))
    for d, row in enumerate(confusion):
        print(f"{d:>6}" + "".join(f"{int(n):>6}" for n in row))
    return 0


# --------------------------------------------------------------------------- predict


# Files read before their answers are worked out together (``Decider.decide_pieces``): one
# forward pass per chunk instead of one per file; small enough that the first answers of a
# long list appear at once.
PREDICT_CHUNK = 64


def cmd_predict(args: argparse.Namespace) -> int:
    """One answer per file (see docs/data.md, "predict --json"): digit, unsure, number, not a
    digit, or empty; a file that cannot be read is reported and the others still answered."""
    from drawdigit.decide import load_decider
    from drawdigit.preprocess import load_source
    from drawdigit.segment import cut

    predictor = load_predictor_or_explain(args.model)
    if predictor is None:
        return 2
    decider, warnings = load_decider(predictor)
    for warning in warnings:
        print(f"drawdigit: warning: {warning}", file=sys.stderr)
    failures = 0
    for begin in range(0, len(args.files), PREDICT_CHUNK):
        paths = args.files[begin : begin + PREDICT_CHUNK]
        cuts, errors = [], {}
        for path in paths:
            try:
                with warnings_about(path):
                    cuts.append(cut(load_source(path)))
            except Exception as exc:  # noqa: BLE001 - every reader error carries a clear message
                errors[len(cuts)] = str(exc) if str(path) in str(exc) else f"{path}: {exc}"
                cuts.append(None)
        decisions = decider.decide_pieces(cuts)
        for k, (path, decision) in enumerate(zip(paths, decisions, strict=True)):
            if k in errors:
                failures += 1
                _print_predict_error(path, errors[k], args.json)
            elif not _print_answer(path, decision, args.json):
                failures += 1
    return 1 if failures else 0


def _print_answer(path: Path, decision, as_json: bool) -> bool:
    """Print one file's answer; False (an error printed instead) when the answer is not
    made of finite numbers. Models whose answers overflow are refused when loaded, so this
    is the last guard: ``--json`` must stay valid JSON (no NaN) and no line says "nan%"."""
    row = _decision_json(path, decision)
    try:
        line = json.dumps(row, allow_nan=False)
    except ValueError:
        _print_predict_error(path, "the model gave no finite answer for this file", as_json)
        return False
    print(line if as_json else f"{shown_path(path)}: {_decision_text(decision)}")
    return True


def _print_predict_error(path: Path, message: str, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"file": str(path), "error": message}))
    else:
        print(f"{shown_path(path)}: error: {naming(message, path)}", file=sys.stderr)


def _decision_json(path: Path, decision) -> dict:
    """The ``predict --json`` object (docs/data.md): the answer, its confidence, and the one
    distribution every view shows (``probabilities`` for 0-9 and ``not_a_digit``, summing
    to 1), read from ``Decision`` as the window reads it."""
    from drawdigit.decide import NOT_A_DIGIT

    row: dict = {"file": str(path), "answer": decision.kind, "digit": decision.digit}
    distribution = decision.distribution
    if distribution is None:  # empty: no ink, no distribution
        row.update(confidence=0.0, probabilities=[0.0] * 10, not_a_digit=0.0, empty=True)
        return row
    row["confidence"] = decision.confidence
    row["probabilities"] = [float(p) for p in distribution[:NOT_A_DIGIT]]
    row["not_a_digit"] = float(distribution[NOT_A_DIGIT])
    if decision.kind == "number":
        row["number"] = decision.number
        row["digits"] = [
            {"digit": p.digit, "confidence": p.sureness, "box": [round(v, 1) for v in p.box]}
            for p in decision.parts
        ]
    return row


def _decision_text(decision) -> str:
    """The answer in plain words, with the percentages the window shows beside it."""
    from drawdigit.decide import outcome_name

    kind = decision.kind
    if kind == "empty":
        return "no digit (the drawing is empty)"
    if kind == "not-a-digit":
        return f"not a digit  ({percent(decision.confidence)})"
    if kind == "number":
        each = ", ".join(f"{p.digit} {percent(p.sureness)}" for p in decision.parts)
        return f"the number {decision.number}  ({each})"
    if kind == "unsure":
        likeliest = decision.likeliest(2)
        names = " or ".join(outcome_name(k) for k, _ in likeliest)
        each = ", ".join(f"{outcome_name(k)} {percent(p)}" for k, p in likeliest)
        return f"not sure: {names}?  ({each})"
    return f"{decision.digit}  {percent(decision.confidence)}"


# --------------------------------------------------------------------------- explain


def cmd_explain(args: argparse.Namespace) -> int:
    from drawdigit.explain_cli import run_explain

    return run_explain(args)


# --------------------------------------------------------------------------- download


def cmd_download(args: argparse.Namespace) -> int:
    from drawdigit.download import DownloadCancelled, DownloadError, download_mnist
    from drawdigit.mnist import mnist_cache_dir

    dest = args.dest or mnist_cache_dir()
    bar = ProgressBar(sys.stderr)  # the stream of now, not of import time (redirections)

    def progress(p) -> None:
        total = p.bytes_total or 0
        fraction = p.bytes_done / total if total else 0.0
        bar.update(fraction, f"{p.file} {p.bytes_done / 1e6:.1f}/{total / 1e6:.1f} MB")

    try:
        download_mnist(dest, progress=progress)
    except DownloadCancelled:
        return error("download cancelled")
    except DownloadError as exc:
        return error(str(exc))
    except OSError as exc:  # e.g. --dest names a file, or a folder we may not write to
        return error(f"cannot write to {dest}: {exc.strerror or exc}")
    bar.line(f"MNIST is in {dest}")
    return 0

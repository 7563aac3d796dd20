"""Learning from real pen ink, measured on writers the models never saw (writer folds).

    python benchmarks/bench_pen.py train DIR --fold K [recipe options]   # one fold's model
    python benchmarks/bench_pen.py train DIR --all [recipe options]      # every fold, in turn
    python benchmarks/bench_pen.py measure DIR [--json]                  # heads + figures
    python benchmarks/bench_pen.py fit-time MODEL [--repeat 5]          # head fit, seconds

``train`` trains the recipe (``--preset`` plus overrides, as ``drawdigit train`` takes them)
with the writers of fold K left out of the pen ink (``TrainConfig.leave_out_fold``) and saves
``DIR/fold-K.pt``; the recipe goes in ``DIR/recipe.json``. ``measure`` fits each fold
model's digit-ness head on the other folds' ink (``drawdigit.headfit``), chooses its
calibration (temperature, digit-ness shift, sure threshold) on the OTHER folds' answers on
their own left-out writers, and reads fold K's drawings of the three UNIPEN dev sets
(digits, letters and symbols, numbers) with fold K's model through ``decide``: every figure
comes from a model, head and calibration that never saw that writer. Figures are pooled over
all drawings (each read by its fold's model); the mean over folds is given beside them.
``fit-time`` times what every training run and fine-tune adds after its last step: fitting
the new network's head (``headfit.head_for_trained``, as ``runs`` calls it), median of
``--repeat``, with the load average.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from drawdigit.pendata import FOLDS

SHARED = Path(__file__).resolve().parents[2] / "shared"


def _recipe(args: argparse.Namespace):
    from drawdigit.training import PRESETS

    config = PRESETS[args.preset]
    overrides = {
        "epochs": args.epochs,
        "lr": args.lr,
        "seed": args.seed,
        "pen_digits": args.pen_digits,
        "pen_not_digits": args.pen_not_digits,
        "not_digit_weight": args.not_digit_weight,
        "digitness_weight": args.digitness_weight,
        "precision": args.precision,
        "threads": args.threads,
    }
    return replace(
        config, quick_eval_seconds=0, **{k: v for k, v in overrides.items() if v is not None}
    )


def train(args: argparse.Namespace) -> int:
    from drawdigit.runs import TrainingJob, prepare_run
    from drawdigit.training import TrainingDone, save_trained

    args.dir.mkdir(parents=True, exist_ok=True)
    base = _recipe(args)
    (args.dir / "recipe.json").write_text(json.dumps(base.to_dict(), indent=1) + "\n")
    folds = range(FOLDS) if args.all else [args.fold]
    for fold in folds:
        config = replace(base, leave_out_fold=fold)
        started = time.perf_counter()
        job = TrainingJob(config, data_dir=args.mnist, compare_current=False)
        prepared = prepare_run(job)
        done = None
        for event in prepared.fit():
            if isinstance(event, TrainingDone):
                done = event
        assert done is not None and not done.cancelled
        save_trained(args.dir / f"fold-{fold}.pt", done, {"source": "bench_pen.py train"})
        seconds = time.perf_counter() - started
        print(
            f"fold {fold}: MNIST test {done.test_accuracy:.2%}, {seconds:.0f} s,"
            f" {len(prepared.data.train_labels)} training images, load "
            + " ".join(Path("/proc/loadavg").read_text().split()[:3]),
            flush=True,
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train")
    t.add_argument("dir", type=Path)
    which = t.add_mutually_exclusive_group(required=True)
    which.add_argument("--fold", type=int, choices=range(FOLDS))
    which.add_argument("--all", action="store_true")
    t.add_argument("--mnist", type=Path, default=SHARED / "mnist")
    t.add_argument("--preset", default="best")
    t.add_argument("--epochs", type=int)
    t.add_argument("--lr", type=float)
    t.add_argument("--seed", type=int)
    t.add_argument("--pen-digits", type=int)
    t.add_argument("--pen-not-digits", type=int)
    t.add_argument("--not-digit-weight", type=float)
    t.add_argument("--digitness-weight", type=float)
    t.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="fp32")
    t.add_argument("--threads", type=int, default=1)
    m = sub.add_parser("measure")
    m.add_argument("dir", type=Path)
    m.add_argument("--shared", type=Path, default=SHARED)
    m.add_argument("--json", action="store_true")
    m.add_argument("--seed", type=int, default=0)
    f = sub.add_parser("fit-time")
    f.add_argument("model", type=Path)
    f.add_argument("--shared", type=Path, default=SHARED)
    f.add_argument("--repeat", type=int, default=5)
    f.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    if args.command == "train":
        return train(args)
    if args.command == "fit-time":
        return fit_time(args)
    return measure(args)


def fit_time(args: argparse.Namespace) -> int:
    import statistics

    import torch

    from drawdigit.headfit import folds_unseen, head_for_trained
    from drawdigit.mnist import load_mnist
    from drawdigit.store import load_checkpoint

    torch.set_num_threads(args.threads)
    checkpoint = load_checkpoint(args.model)
    network = checkpoint.build_model()
    mnist = load_mnist(args.shared / "mnist")
    unseen = folds_unseen(None, checkpoint.metadata)
    times = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        head, note = head_for_trained(
            network, unseen, (mnist.train_images, mnist.train_labels), checkpoint.head
        )
        times.append(time.perf_counter() - started)
        assert head is not None, note
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    print(
        f"head fit: median {statistics.median(times):.2f} s of {args.repeat}"
        f" ({', '.join(f'{t:.2f}' for t in times)}), {args.threads} threads,"
        f" folds unseen {sorted(unseen)}, load {load}"
    )
    return 0


# --------------------------------------------------------------------------- measure


def _rows(folder: Path) -> list[dict[str, str]]:
    with open(folder / "labels.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _fold_of(row: dict[str, str]) -> int:
    from drawdigit.pendata import writer_fold

    return writer_fold(f"{row['institution']}/{row['writer']}")


def read_fold(decider, shared: Path, fold: int) -> dict[str, list]:
    """Fold ``fold``'s drawings of the three dev sets, each answered by ``decider``: a list of
    (answer kind, digit or number read, right answer, flagged) per set."""
    from drawdigit.strokes import load_drawing

    out: dict[str, list] = {"digits": [], "not_digits": [], "numbers": []}
    for name, folder in (
        ("digits", shared / "unipen-dev"),
        ("not_digits", shared / "unipen-notdigits-dev"),
        ("numbers", shared / "unipen-numbers-dev"),
    ):
        for row in _rows(folder):
            if _fold_of(row) != fold:
                continue
            d = decider.decide(load_drawing(folder / row["file"]))
            read = d.number if name == "numbers" else d.digit
            out[name].append((d.kind, read, row["label"], bool(row.get("flags"))))
    return out


def figures(answers: dict[str, list]) -> dict[str, float]:
    """The issue's figures from the answers of ``read_fold`` (one fold, or pooled)."""
    digits = answers["digits"]
    clean = [a for a in digits if not a[3]]
    right = [a[1] is not None and str(a[1]) == a[2] for a in clean]
    kinds = [a[0] for a in clean]
    pairs = list(zip(kinds, right, strict=True))
    letters = [a[0] for a in answers["not_digits"]]
    numbers = answers["numbers"]

    def share(flags) -> float:
        flags = list(flags)
        return sum(flags) / len(flags) if flags else float("nan")

    return {
        "digits": len(clean),
        "digit_right": share(right),
        "digit_sure_right": share(k == "digit" and r for k, r in pairs),
        "digit_sure_wrong": share(k == "digit" and not r for k, r in pairs),
        "digit_unsure": share(k == "unsure" for k in kinds),
        "digit_not_a_digit": share(k == "not-a-digit" for k in kinds),
        "digit_right_all": share(a[1] is not None and str(a[1]) == a[2] for a in digits),
        "digit_sure_wrong_all": share(a[0] == "digit" and str(a[1]) != a[2] for a in digits),
        "not_digits": len(letters),
        "not_digit_answered_not_digit": share(k == "not-a-digit" for k in letters),
        "not_digit_shown_sure": share(k in ("digit", "number") for k in letters),
        "not_digit_unsure": share(k == "unsure" for k in letters),
        "numbers": len(numbers),
        "numbers_exact": share(a[0] == "number" and a[1] == a[2] for a in numbers),
    }


def measure(args: argparse.Namespace) -> int:
    import numpy as np

    from drawdigit import headfit
    from drawdigit.decide import Decider
    from drawdigit.inference import load_predictor
    from drawdigit.mnist import load_mnist
    from drawdigit.pendata import load_made_not_digits, load_pen_digits, load_pen_not_digits

    started = time.perf_counter()
    ink = (load_pen_digits(), load_pen_not_digits(), load_made_not_digits())
    mnist = load_mnist(args.shared / "mnist")
    mnist_digits = headfit.mnist_sample(mnist.train_images, mnist.train_labels, args.seed)
    models = {}
    for fold in range(FOLDS):
        path = args.dir / f"fold-{fold}.pt"
        if path.exists():
            models[fold] = load_predictor(path)[0]
    if not models:
        raise SystemExit(f"{args.dir}: no fold-K.pt models")
    networks = {fold: p.logits_and_features for fold, p in models.items()}
    heads = headfit.fold_heads(networks, ink, mnist_digits, args.seed)
    result: dict = {"folds": {}}
    pooled_answers: dict[str, list] = {"digits": [], "not_digits": [], "numbers": []}
    for fold, predictor in models.items():
        # nested: this fold's calibration comes from the other folds' held-out answers
        others = [h.held for k, h in heads.items() if k != fold] or [heads[fold].held]
        calibration = headfit.calibration(others)
        head = headfit.as_digitness(heads[fold].arrays, calibration)
        answers = read_fold(Decider(predictor, head), args.shared, fold)
        for key, value in answers.items():
            pooled_answers[key].extend(value)
        metadata = predictor.source.metadata
        result["folds"][fold] = {
            **figures(answers),
            "mnist_test": metadata.get("test_accuracy"),
            "temperature": calibration.temperature,
            "shift": calibration.shift,
            "sure": calibration.sure,
        }
    chosen = headfit.calibration([h.held for h in heads.values()])
    result["pooled"] = figures(pooled_answers)
    per_fold = list(result["folds"].values())
    result["mean_over_folds"] = {
        k: float(np.mean([f[k] for f in per_fold]))
        for k in result["pooled"]
        if isinstance(result["pooled"][k], float)
    }
    result["mean_over_folds"]["mnist_test"] = float(np.mean([f["mnist_test"] for f in per_fold]))
    result["all_folds_choice"] = {
        "temperature": chosen.temperature,
        "shift": chosen.shift,
        "sure": chosen.sure,
        "held_out": chosen.figures,
    }
    result["seconds"] = time.perf_counter() - started
    if args.json:
        print(json.dumps(result))
        return 0
    _print(result)
    return 0


def _print(result: dict) -> None:
    rows = [
        ("real single digits right (sure or not), unflagged", "digit_right"),
        ("... answered sure and right", "digit_sure_right"),
        ("... answered sure and wrong", "digit_sure_wrong"),
        ("... answered not sure", "digit_unsure"),
        ("... answered not a digit", "digit_not_a_digit"),
        ("... right, all (flagged too)", "digit_right_all"),
        ("letters and symbols answered not a digit", "not_digit_answered_not_digit"),
        ("... shown as a sure digit or number", "not_digit_shown_sure"),
        ("... answered not sure", "not_digit_unsure"),
        ("numbers of 2-4 digits read exactly", "numbers_exact"),
    ]
    folds = sorted(result["folds"])
    print(f"{'figure':52} {'pooled':>8} {'mean':>8}  " + " ".join(f"fold{k:>3}" for k in folds))
    for name, key in rows:
        cells = " ".join(f"{result['folds'][k][key]:8.2%}" for k in folds)
        print(
            f"{name:52} {result['pooled'][key]:8.2%} {result['mean_over_folds'][key]:8.2%}  "
            + cells
        )
    mnist = " ".join(f"{result['folds'][k]['mnist_test']:8.2%}" for k in folds)
    print(f"{'MNIST test':52} {'':8} {result['mean_over_folds']['mnist_test']:8.2%}  {mnist}")
    choice = result["all_folds_choice"]
    print(
        f"all folds: temperature {choice['temperature']:.3f}, digit-ness shift"
        f" {choice['shift']:.2f}, sure {choice['sure']:.3f}"
    )
    print(f"{result['seconds']:.0f} s")


if __name__ == "__main__":
    raise SystemExit(main())

"""Fine-tuning on a personal handwriting style: held-out and MNIST accuracy before/after, time.

The "person" is made up here from the bundled ``resources/samples/digit-*.json`` strokes with
one consistent transform (never from the UNIPEN measuring set):

- a strong *backward* slant (the top leans left) and digits drawn wide and flat;
- open loops: every stroke stops short of its end (0, 6, 8, 9 do not close);
- a European 1 (a long flag at the top) and a 7 with a bar through it;
- plus per-sample random jitter: rotation, size, position and a wobbly hand.

20 samples per digit are fine-tuned on (the GUI's 25% held-out split applies inside them),
and a separate held-out set of 30 per digit in the same style measures before/after, with
MNIST test accuracy (all 10,000) before/after and the fine-tuning seconds for 200 samples
(median of 3 runs; the whole ``finetune`` call incl. rendering-free evaluation; noisy on a
shared machine).

    python benchmarks/bench_finetune.py [--mnist DIR] [--runs 3]

``--mixed`` measures the longer way instead, the training dialog's "MNIST + my samples": a
whole ``fit`` run (``runs.MIXED_RECIPE``, or ``--epochs/--lr/--share``) on MNIST with the
same 200 samples mixed in, from the bundled model.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from drawdigit.finetune import FinetuneConfig, finetune  # noqa: E402
from drawdigit.mnist import find_data_dir, load_mnist  # noqa: E402
from drawdigit.preprocess import preprocess  # noqa: E402
from drawdigit.store import bundled_model_path, load_checkpoint, resource_path  # noqa: E402
from drawdigit.strokes import Drawing, load_drawing  # noqa: E402


def base_drawings() -> dict[int, Drawing]:
    return {d: load_drawing(resource_path("samples", f"digit-{d}.json")) for d in range(10)}


def _bounds(drawing: Drawing) -> tuple[float, float, float, float]:
    points = np.array([p for stroke in drawing.strokes for p in stroke])
    return *points.min(axis=0), *points.max(axis=0)


def personal_style(drawing: Drawing, digit: int, rng: np.random.Generator) -> Drawing:
    """The made-up person's version of ``drawing``: consistent quirks plus random jitter."""
    x0, y0, x1, y1 = _bounds(drawing)
    cx, cy, h = (x0 + x1) / 2, (y0 + y1) / 2, max(y1 - y0, 1.0)
    strokes = [list(s) for s in drawing.strokes if s]
    # the quirks every sample shares
    strokes = [s[: max(2, int(len(s) * 0.85))] if len(s) > 8 else s for s in strokes]  # open
    top = min((p for s in strokes for p in s), key=lambda p: p[1])
    if digit == 1:  # a long flag from the top, down to the left
        strokes.append(
            [(top[0] + (-0.45 * h) * t, top[1] + 0.4 * h * t) for t in np.linspace(1, 0, 12)]
        )
    if digit == 7:  # a bar across the middle of the stem
        strokes.append(
            [(cx - 0.25 * h + 0.5 * h * t, cy + 0.05 * h) for t in np.linspace(0, 1, 12)]
        )
    slant, wide = -0.55, 1.6  # backward slant, wide and flat
    # per-sample jitter
    angle = math.radians(rng.uniform(-6, 6))
    scale = rng.uniform(0.8, 1.1)
    shift = rng.uniform(-15, 15, size=2)
    wobble_phase = rng.uniform(0, 2 * math.pi, size=2)
    wobble = rng.uniform(1.0, 4.0)
    out = []
    for stroke in strokes:
        new = []
        for i, (x, y) in enumerate(stroke):
            u, v = (x - cx) / h, (y - cy) / h
            u = u * wide + slant * (-v)  # top (v < 0) moves left
            u, v = (
                u * math.cos(angle) - v * math.sin(angle),
                u * math.sin(angle) + v * math.cos(angle),
            )
            px = 140 + 110 * scale * u + shift[0] + wobble * math.sin(i / 5 + wobble_phase[0])
            py = 140 + 110 * scale * v + shift[1] + wobble * math.sin(i / 7 + wobble_phase[1])
            new.append((px, py))
        out.append(new)
    return Drawing(280.0, 280.0, out)


def style_set(per_digit: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(N, 28, 28) inputs rendered with the app's ``preprocess`` and their labels."""
    rng = np.random.default_rng(seed)
    bases = base_drawings()
    images, labels = [], []
    for digit in range(10):
        for _ in range(per_digit):
            image = preprocess(personal_style(bases[digit], digit, rng))
            assert image is not None
            images.append(image)
            labels.append(digit)
    return np.stack(images), np.asarray(labels, np.int64)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", type=Path, default=None)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--mixed", action="store_true", help="MNIST + my samples, a fit() run")
    parser.add_argument("--epochs", type=int, default=None, help="with --mixed")
    parser.add_argument("--lr", type=float, default=None, help="with --mixed")
    parser.add_argument("--share", type=float, default=None, help="with --mixed")
    args = parser.parse_args(argv)

    data_dir = find_data_dir(args.mnist) or (REPO.parent / "shared" / "mnist")
    mnist = load_mnist(data_dir, verify=False)
    initial = load_checkpoint(bundled_model_path())
    train_x, train_y = style_set(20, seed=1)
    test_x, test_y = style_set(30, seed=2)

    from drawdigit.training import accuracy

    before = accuracy(initial.build_model(), test_x, test_y)
    if args.mixed:
        return mixed(args, mnist, initial, (train_x, train_y), (test_x, test_y), before)
    config = FinetuneConfig(**({"threads": args.threads} if args.threads else {}))
    results = [finetune(train_x, train_y, initial, mnist, config) for _ in range(args.runs)]
    result = results[0]
    checkpoint = load_checkpoint(bundled_model_path())
    checkpoint.state_dict = result.state_dict
    after = accuracy(checkpoint.build_model(), test_x, test_y)

    print(f"personal style: {len(train_y)} samples to fine-tune on, {len(test_y)} held out")
    print(f"config: {config}")
    print(f"separate held-out set (30/digit): before {before:.2%}  after {after:.2%}")
    print(
        f"in-run held-out (25% of the 200):   before {result.heldout_before:.2%}  "
        f"after {result.heldout_after:.2%}"
    )
    print(
        f"MNIST test (10,000):                before {result.mnist_before:.2%}  "
        f"after {result.mnist_after:.2%}  "
        f"change {(result.mnist_after - result.mnist_before) * 100:+.2f} points"
    )
    whole = statistics.median(r.seconds for r in results)
    steps = statistics.median(r.train_seconds for r in results)
    print(
        f"seconds for 200 samples (median of {len(results)}): whole run {whole:.2f} s, "
        f"training steps alone {steps:.2f} s ({result.steps_done} steps)"
    )
    print(
        f"end to end as the GUI runs it (read 200 sample files, render, load MNIST, "
        f"fine-tune): {end_to_end(data_dir, args.runs):.2f} s (median of {args.runs})"
    )
    return 0


def mixed(
    args: argparse.Namespace,
    mnist: object,
    initial: object,
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    before: float,
) -> int:
    """One ``fit`` run on MNIST + the 200 samples, as the training dialog makes it."""
    from dataclasses import replace

    from drawdigit.model import DigitNet
    from drawdigit.runs import MIXED_RECIPE, MIXED_SHARE, mix_with_mnist, mixed_report
    from drawdigit.training import TrainingDone, accuracy, evaluate, fit

    config = replace(
        MIXED_RECIPE,
        epochs=args.epochs or MIXED_RECIPE.epochs,
        lr=args.lr or MIXED_RECIPE.lr,
        threads=args.threads,
        quick_eval_seconds=0,
    )
    mix = mix_with_mnist(mnist, *train, share=args.share or MIXED_SHARE)
    mnist_before = evaluate(initial.build_model(), mnist.test_images, mnist.test_labels).accuracy
    done = None
    for event in fit(config, mix.data, initial):
        if isinstance(event, TrainingDone):
            done = event
    assert done is not None
    report = mixed_report(mix, initial, done.state_dict, done.model_config)
    new = DigitNet(done.model_config)
    new.load_state_dict(done.state_dict)
    new.eval()
    print(
        f"MNIST + my samples: {mix.train_count} samples x {mix.copies} copies in "
        f"{len(mix.data.train_labels):,} training images; {config}"
    )
    print(
        f"separate held-out set (30/digit): before {before:.2%}  after {accuracy(new, *test):.2%}"
    )
    print(
        f"in-run held-out ({report.heldout}):          before {report.before:.2%}  "
        f"after {report.after:.2%}"
    )
    print(
        f"MNIST test (10,000):                before {mnist_before:.2%}  "
        f"after {done.test_accuracy:.2%}  "
        f"change {(done.test_accuracy - mnist_before) * 100:+.2f} points"
    )
    print(f"training seconds: {done.seconds:.1f}")
    return 0


def end_to_end(data_dir: Path, runs: int) -> float:
    """``finetune_on_my_samples`` on 200 saved samples in a throwaway user data dir."""
    import os
    import tempfile
    import time

    from drawdigit.finetune import finetune_on_my_samples
    from drawdigit.samples import add_sample

    rng = np.random.default_rng(1)
    bases = base_drawings()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["DRAWDIGIT_DATA_DIR"] = tmp
        os.environ["DRAWDIGIT_MNIST_DIR"] = str(data_dir)
        for digit in range(10):
            for _ in range(20):
                add_sample(digit, drawing=personal_style(bases[digit], digit, rng))
        seconds = []
        for _ in range(runs):
            start = time.perf_counter()
            finetune_on_my_samples()
            seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


if __name__ == "__main__":
    raise SystemExit(main())

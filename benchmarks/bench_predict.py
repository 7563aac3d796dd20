"""Time from a drawing to probabilities, as the app does it on every stroke.

    python benchmarks/bench_predict.py [--model PATH] [--threads 1] [--limit N] [--repeat R]

Over the unipen-dev drawings (real pen input, ~160 points each, up to ~700): median and
90th percentile of preprocessing alone (strokes -> 28x28) and of preprocessing + the forward
pass on the CPU (``Predictor.predict``, softmax included), with the torch thread count the
app uses. The target is a median of at most 2 ms for the whole path. Timings on a shared
machine are noisy: compare medians taken in the same conditions.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from unipen import load_unipen

from drawdigit.inference import load_predictor
from drawdigit.preprocess import preprocess
from drawdigit.strokes import load_drawing


def timings(function, items, repeat: int) -> np.ndarray:
    """Per-item seconds, best of ``repeat`` runs for each item (drops scheduler hiccups)."""
    best = np.full(len(items), np.inf)
    for _ in range(repeat):
        for i, item in enumerate(items):
            start = time.perf_counter()
            function(item)
            best[i] = min(best[i], time.perf_counter() - start)
    return best


def report(name: str, seconds: np.ndarray) -> None:
    ms = seconds * 1e3
    print(
        f"{name:34s} median {np.median(ms):6.3f} ms   p90 {np.percentile(ms, 90):6.3f} ms"
        f"   max {ms.max():6.3f} ms"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="model file (default: the app's choice)")
    parser.add_argument("--data-dir", type=Path, help="unipen-dev folder")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (app: 1)")
    parser.add_argument("--limit", type=int, default=2000, help="drawings to time")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    predictor, warnings = load_predictor(args.model)
    for warning in warnings:
        print("warning:", warning)
    samples = load_unipen(args.data_dir)[: args.limit]
    drawings = [load_drawing(s.path) for s in samples]
    points = np.array([d.point_count for d in drawings])
    print(f"model: {predictor.source.describe()} ({predictor.source.path})")
    print(
        f"{len(drawings)} drawings, points per drawing: median {np.median(points):.0f},"
        f" max {points.max()}; torch threads: {torch.get_num_threads()}\n"
    )
    for d in drawings[:50]:  # warm-up: first calls allocate and JIT-dispatch
        predictor.predict(preprocess(d))

    report("preprocess (strokes -> 28x28)", timings(preprocess, drawings, args.repeat))
    report(
        "forward (28x28 -> probabilities)",
        timings(predictor.predict, [preprocess(d) for d in drawings[:500]], args.repeat),
    )
    report(
        "preprocess + forward",
        timings(lambda d: predictor.predict(preprocess(d)), drawings, args.repeat),
    )
    longest = sorted(drawings, key=lambda d: d.point_count)[-20:]
    report(
        f"  the 20 longest (>= {longest[0].point_count} points)",
        timings(lambda d: predictor.predict(preprocess(d)), longest, args.repeat),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

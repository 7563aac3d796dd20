"""Look inside (issue 14): which saliency to show, and whether the panel keeps up.

    python benchmarks/bench_explain.py [--drawings N] [--methods a,b] [--no-memories]

1. Deletion test on N (500) unipen-dev drawings, spread evenly over the set: for each
   drawing the network's answer is explained by each method; its inked pixels are then
   blacked out most-important-first (and, as the baseline, in a random order), 5% of the
   ink at a time, and the answer's probability recorded. The area under that curve over
   the fraction of ink removed (0..1) is averaged over the drawings: lower is better (the
   pixels the method calls important really carry the answer).
2. ``explain()`` (the chosen method, feature maps, probabilities), median per call over
   the same drawings, and each method's saliency alone.
3. Nearest memories: building the cache for all 60,000 MNIST training digits (in a fresh
   temporary data folder), its size on disk, loading it back, and the median search.

Timings are medians of single calls on this machine as it is (it may be shared: the
load average is printed with them), with CPU time beside wall time. OpenBLAS runs one
thread, as in the app.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as the app (drawdigit/__init__.py)

import numpy as np  # noqa: E402

from drawdigit.explain import CHOSEN, METHODS, explain, output_weights, saliency  # noqa: E402
from drawdigit.inference import load_predictor  # noqa: E402
from drawdigit.numpy_net import NumpyDigitNet, softmax  # noqa: E402
from drawdigit.preprocess import preprocess  # noqa: E402

STEPS = 20  # the deletion curve: 0%, 5%, ..., 100% of the ink removed
MNIST = HERE.parent.parent / "shared" / "mnist"


def drawings(count: int) -> list[np.ndarray]:
    """``count`` unipen-dev drawings as 28x28 inputs, evenly spread over the set."""
    from unipen import iter_drawings, load_unipen

    samples = load_unipen()
    picked = samples[:: max(1, len(samples) // count)][:count]
    images = [preprocess(drawing) for _sample, drawing in iter_drawings(picked)]
    return [image for image in images if image is not None]


def deletion_curve(net: NumpyDigitNet, image: np.ndarray, order: np.ndarray, target: int):
    """The target's probability as the pixels of ``order`` (flat indices) are blacked out,
    at STEPS + 1 evenly spaced fractions of them."""
    batch = np.repeat(image.reshape(1, -1), STEPS + 1, axis=0)
    for step in range(1, STEPS + 1):
        batch[step, order[: int(round(len(order) * step / STEPS))]] = 0.0
    return softmax(net.logits_and_features(batch.reshape(-1, 28, 28))[0])[:, target]


def area(curve: np.ndarray) -> float:
    """The trapezoid area under a curve sampled at 0, 1/STEPS, ..., 1."""
    return float((curve[1:] + curve[:-1]).sum() / (2 * STEPS))


def deletion_test(net: NumpyDigitNet, images: list[np.ndarray], methods: list[str]) -> None:
    rng = np.random.default_rng(0)
    areas: dict[str, list[float]] = {name: [] for name in [*methods, "random order"]}
    seconds: dict[str, list[float]] = {name: [] for name in methods}
    for image in images:
        target = int(net.probabilities(image[None])[0].argmax())
        ink = np.flatnonzero(image.reshape(-1) > 0)
        for name in methods:
            start = time.thread_time()
            heat = saliency(net, image, output_weights(target, None), name)[0].reshape(-1)
            seconds[name].append(time.thread_time() - start)
            order = ink[np.argsort(-heat[ink], kind="stable")]
            areas[name].append(area(deletion_curve(net, image, order, target)))
        areas["random order"].append(area(deletion_curve(net, image, rng.permutation(ink), target)))
    print(f"deletion test on {len(images)} unipen-dev drawings (area under the answer's")
    print("probability as the ink is removed; lower = the method found what mattered):")
    for name, values in sorted(areas.items(), key=lambda kv: np.mean(kv[1])):
        spread = np.std(values) / np.sqrt(len(values))
        took = (
            f"   saliency median CPU {np.median(seconds[name]) * 1e3:6.2f} ms"
            if name in seconds
            else ""
        )
        print(f"  {name:22s} AUC {np.mean(values):.4f} +- {spread:.4f}{took}")


def time_explain(net: NumpyDigitNet, images: list[np.ndarray]) -> None:
    for image in images[:20]:  # warm up
        explain(net, image)
    wall, cpu = [], []
    for image in images:
        start, start_cpu = time.perf_counter(), time.thread_time()
        explain(net, image)
        wall.append(time.perf_counter() - start)
        cpu.append(time.thread_time() - start_cpu)
    print(f"explain() ({METHODS[CHOSEN][1]}) over {len(wall)} drawings: {_ms(wall, cpu)}")


def _ms(wall: list[float], cpu: list[float]) -> str:
    """Wall-clock and CPU (this thread) medians: on a shared machine the CPU time is what
    the call costs, the wall time what it took with the others running."""
    w, c = np.asarray(wall) * 1e3, np.asarray(cpu) * 1e3
    return (
        f"median {np.median(w):.2f} ms wall (p90 {np.percentile(w, 90):.2f}), "
        f"{np.median(c):.2f} ms CPU"
    )


def time_memories(net: NumpyDigitNet, model_path: Path, images: list[np.ndarray]) -> None:
    from drawdigit.memories import cache_path, load_memories

    with tempfile.TemporaryDirectory() as folder:
        os.environ["DRAWDIGIT_DATA_DIR"] = folder
        start, start_cpu = time.perf_counter(), time.thread_time()
        index = load_memories(net, model_path, MNIST)
        built, built_cpu = time.perf_counter() - start, time.thread_time() - start_cpu
        size = cache_path(net, len(index)).stat().st_size
        start = time.perf_counter()
        index = load_memories(net, model_path, MNIST)
        loaded = time.perf_counter() - start
    hidden = [explain(net, image).hidden for image in images]
    wall, cpu = [], []
    for vector in hidden:
        start, start_cpu = time.perf_counter(), time.thread_time()
        index.nearest(vector, 8)
        wall.append(time.perf_counter() - start)
        cpu.append(time.thread_time() - start_cpu)
    print(
        f"nearest memories: cache of {len(index):,} vectors built in {built:.1f} s "
        f"({built_cpu:.1f} s CPU; MNIST read included), {size / 1e6:.2f} MB on disk, "
        f"loaded back in {loaded:.2f} s"
    )
    print(f"nearest memories: search of 8 among {len(index):,}: {_ms(wall, cpu)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--drawings", type=int, default=500)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--no-memories", action="store_true")
    args = parser.parse_args()
    predictor, _ = load_predictor()
    net = predictor.net
    images = drawings(args.drawings)
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    deletion_test(net, images, args.methods.split(","))
    time_explain(net, images)
    if not args.no_memories:
        time_memories(net, predictor.source.path, images)
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

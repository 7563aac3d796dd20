"""Training speed and time to accuracy of drawdigit's engine (``drawdigit.training``).

    python benchmarks/bench_training.py              # images/s per batch size, s/epoch (~1 min)
    python benchmarks/bench_training.py --ablation   # what each speed-up is worth (A/B)
    python benchmarks/bench_training.py --full       # + the seed recipe end to end, the fast
                                                     #   preset's time to 97% / 99%, peak memory

Figures are medians of several short runs. On a shared machine they move a lot from one
minute to the next: compare variants measured back to back (``--ablation`` interleaves them
in one process), and look at the spread printed next to each median.

The ``--full`` runs happen in fresh processes, timed from the moment the process is started:
"time to accuracy" then includes Python's start, importing torch and loading MNIST, as a
user would experience it with ``drawdigit train``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DEFAULT_DATA = REPO.parent / "shared" / "mnist"


def load_data(data_dir: Path):
    from drawdigit.mnist import load_mnist

    return load_mnist(data_dir)


def spread(values: list[float]) -> str:
    low, high = min(values), max(values)
    return f"median {statistics.median(values):7,.0f}  (min {low:,.0f}, max {high:,.0f})"


# --------------------------------------------------------------------------- throughput


def engine_throughput(
    data, batch_size: int, steps: int, threads: int | None
) -> tuple[float, float]:
    """Images/s of ``fit`` itself over ``steps`` batches after 5 warm-up batches, by the
    wall clock and per CPU-second the process used (which other programs' load inflates
    far less than the wall clock: a rough guide to what an idle machine would give)."""
    from drawdigit.training import BatchProgress, TrainConfig, fit

    n = batch_size * (steps + 5)
    subset = data.subset(n, 10)
    config = TrainConfig(
        epochs=1, batch_size=batch_size, threads=threads, device="cpu", quick_eval_seconds=0
    )
    stamps = []
    for event in fit(config, subset):
        if isinstance(event, BatchProgress):
            stamps.append((time.perf_counter(), time.process_time()))
    (wall0, cpu0), (wall1, cpu1) = stamps[4], stamps[-1]
    return batch_size * steps / (wall1 - wall0), batch_size * steps / (cpu1 - cpu0)


def bench_throughput(data, args: argparse.Namespace) -> dict[int, float]:
    import torch

    from drawdigit.model import DigitNet
    from drawdigit.training import evaluate

    threads = args.threads or torch.get_num_threads()
    print(f"engine images/s, {threads} thread(s), {args.steps} batches a run, {args.repeats} runs:")
    medians = {}
    for batch_size in args.batch_sizes:
        runs = [
            engine_throughput(data, batch_size, args.steps, args.threads)
            for _ in range(args.repeats)
        ]
        rates = [wall for wall, _ in runs]
        per_cpu = statistics.median(cpu for _, cpu in runs)
        medians[batch_size] = statistics.median(rates)
        print(
            f"  batch {batch_size:4d}: {spread(rates)} images/s; "
            f"{per_cpu:,.0f} per CPU-second (x{threads} = {per_cpu * threads:,.0f} if idle)"
        )
    model = DigitNet().eval()
    times = []
    for _ in range(3):
        began = time.perf_counter()
        evaluate(model, data.test_images, data.test_labels, threads=args.threads)
        times.append(time.perf_counter() - began)
    test_pass = statistics.median(times)
    print(f"  test pass (10,000 images, inference): median {test_pass:.2f} s")
    if 64 in medians:
        epoch = 60000 / medians[64] + test_pass
        print(
            f"seed recipe (batch 64): {epoch:.1f} s per epoch incl. its test pass "
            f"(Keras notebook: 17-25 s), {5 * epoch:.0f} s for 5 epochs"
        )
    return medians


# --------------------------------------------------------------------------- ablation


def bench_ablation(data, args: argparse.Namespace) -> None:
    """Interleave training-step variants in one process, each without one of the engine's
    speed-ups, so that the machine's changing load hits them all alike."""
    import torch

    from drawdigit.model import DigitNet, fast_forward
    from drawdigit.training.loop import train_step
    from drawdigit.training.optim import KerasRMSprop
    from drawdigit.training.workers import Workers, reuse_freed_memory

    threads = args.threads or torch.get_num_threads()
    batch = 64
    images = torch.from_numpy(data.train_images[: batch * args.steps].copy()).unsqueeze(1)
    labels = torch.from_numpy(data.train_labels[: batch * args.steps].astype("int64"))
    shard_workers = Workers(threads, 1)
    single_worker = Workers(1, threads)

    def variant(channels_last=True, reorder=True, keras_rms=True, reuse=True, shards=True):
        torch.manual_seed(0)
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        model = DigitNet().to(memory_format=fmt)
        params = list(model.parameters())
        if keras_rms:
            opt = KerasRMSprop(params, lr=1e-3)
        else:
            opt = torch.optim.RMSprop(params, lr=1e-3, alpha=0.9, eps=1e-7)
        forward = (lambda x: fast_forward(model, x)) if reorder else model
        workers = shard_workers if shards else single_worker

        def run_steps() -> float:
            torch.set_num_threads(workers.per_worker)
            memory = reuse_freed_memory() if reuse else contextlib.nullcontext()
            with memory:
                began, cpu = time.perf_counter(), time.process_time()
                for i in range(args.steps):
                    x = images[i * batch : (i + 1) * batch].float().div_(255)
                    y = labels[i * batch : (i + 1) * batch]
                    x = x.contiguous(memory_format=fmt)
                    train_step(forward, params, opt, x, y, workers)
                done = batch * args.steps
                return done / (time.perf_counter() - began), done / (time.process_time() - cpu)

        return run_steps

    variants = {
        "engine (all of the below)": variant(),
        f"  {threads} torch threads, not shards": variant(shards=False),
        "  without malloc reuse": variant(reuse=False),
        "  without ReLU-after-pool": variant(reorder=False),
        "  NCHW instead of channels_last": variant(channels_last=False),
        "  torch RMSprop (eps outside)": variant(keras_rms=False),
        "plain PyTorch (none of them)": variant(False, False, False, False, False),
    }
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
    previous = torch.get_num_threads()
    try:
        for run_steps in variants.values():  # warm-up
            run_steps()
        for _ in range(args.repeats):
            for name, run_steps in variants.items():
                results[name].append(run_steps())
    finally:
        torch.set_num_threads(previous)
        if shard_workers.pool is not None:
            shard_workers.pool.shutdown()
    print(
        f"ablation, batch 64, {threads} thread(s), interleaved, {args.repeats} rounds "
        "(images/s by the wall clock; per CPU-second, less sensitive to other load):"
    )
    for name, runs in results.items():
        per_cpu = statistics.median(cpu for _, cpu in runs)
        print(f"  {name:34s} {spread([wall for wall, _ in runs])}; {per_cpu:,.0f} per CPU-s")


# --------------------------------------------------------------------------- full runs


def child_run(preset: str, overrides: str, data_dir: Path, started: float) -> None:
    """In a fresh process: train, and print one JSON line per milestone (time since
    ``started``, the parent's clock when it launched this process)."""
    from drawdigit.training import PRESETS, BatchProgress, EpochEnd, TrainingDone, fit

    def emit(**fields) -> None:
        fields["t"] = round(time.time() - started, 2)
        print(json.dumps(fields), flush=True)

    emit(kind="imported")
    data = load_data(data_dir)
    emit(kind="loaded")
    config = replace(PRESETS[preset], **json.loads(overrides))
    for event in fit(config, data):
        if isinstance(event, BatchProgress) and event.quick_test_accuracy is not None:
            emit(kind="quick", epoch=event.epoch, acc=event.quick_test_accuracy)
        elif isinstance(event, EpochEnd):
            emit(
                kind="epoch",
                epoch=event.epoch,
                acc=event.test_accuracy,
                ips=round(event.images_per_second),
                seconds=round(event.seconds, 2),
            )
        elif isinstance(event, TrainingDone):
            maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
            emit(
                kind="done",
                acc=event.test_accuracy,
                seconds=event.seconds,
                maxrss_mb=maxrss // 1024,
            )


def launch(preset: str, overrides: dict, args: argparse.Namespace) -> list[dict]:
    started = time.time()
    command = [
        sys.executable,
        __file__,
        "--child",
        preset,
        json.dumps(overrides),
        "--data-dir",
        str(args.data_dir),
        "--started",
        repr(started),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{preset} run failed:\n{result.stderr}")
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def first(events: list[dict], kind: str, threshold: float) -> dict | None:
    return next((e for e in events if e["kind"] == kind and e["acc"] >= threshold), None)


def bench_full(args: argparse.Namespace) -> None:
    threads = {"threads": args.threads} if args.threads else {}
    print("seed recipe end to end (RMSprop, batch 64, 5 epochs), fresh process:")
    events = launch("seed", {**threads, "quick_eval_seconds": 0}, args)
    for e in events:
        if e["kind"] == "epoch":
            print(
                f"  epoch {e['epoch']}: test {e['acc'] * 100:.2f}%, {e['seconds']:.1f} s, "
                f"{e['ips']:,} images/s (at {e['t']:.1f} s)"
            )
    done = events[-1]
    print(
        f"  done: test accuracy {done['acc'] * 100:.2f}%, training {done['seconds']:.1f} s, "
        f"whole process {done['t']:.1f} s, peak memory {done['maxrss_mb']} MB (max RSS)"
    )

    print("fast preset, time to accuracy from process start (torch import + data load included):")
    for run in range(args.fast_runs):
        events = launch("fast", {**threads, "quick_eval_seconds": 1.0}, args)
        loaded = next(e for e in events if e["kind"] == "loaded")
        q97 = first(events, "quick", 0.97)
        e99 = first(events, "epoch", 0.99)
        done = events[-1]
        text_97 = f"{q97['t']:.1f} s" if q97 else "never"
        text_99 = f"{e99['t']:.1f} s (epoch {e99['epoch']})" if e99 else "not reached"
        print(
            f"  run {run + 1}: ready to train at {loaded['t']:.1f} s; quick estimate >= 97% "
            f"at {text_97}; full test >= 99.0% at {text_99}; final {done['acc'] * 100:.2f}% "
            f"at {done['t']:.1f} s; max RSS {done['maxrss_mb']} MB"
        )


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's)"
    )
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 128, 256])
    parser.add_argument("--steps", type=int, default=60, help="batches per timed run")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per figure")
    parser.add_argument("--ablation", action="store_true", help="A/B each speed-up")
    parser.add_argument("--full", action="store_true", help="end-to-end runs (~3-5 min)")
    parser.add_argument("--fast-runs", type=int, default=2, help="fast preset runs with --full")
    parser.add_argument("--child", nargs=2, metavar=("PRESET", "OVERRIDES"), help=argparse.SUPPRESS)
    parser.add_argument("--started", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child_run(args.child[0], args.child[1], args.data_dir, args.started)
        return 0
    import torch

    print(
        f"torch {torch.__version__}, {os.cpu_count()} CPU(s), "
        f"load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )
    data = load_data(args.data_dir)
    bench_throughput(data, args)
    if args.ablation:
        bench_ablation(data, args)
    if args.full:
        bench_full(args)
    print(f"load average now {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

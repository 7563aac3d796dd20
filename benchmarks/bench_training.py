"""Training speed and time to accuracy of drawdigit's engine (``drawdigit.training``).

    python benchmarks/bench_training.py              # images/s per batch size, s/epoch (~1 min)
    python benchmarks/bench_training.py --ablation   # what each speed-up is worth (A/B)
    python benchmarks/bench_training.py --full       # + the seed recipe end to end, the fast
                                                     #   preset's time to 97% / 99%, peak memory
    python benchmarks/bench_training.py --precision  # fp32 vs bf16 images/s, shard layouts,
                                                     #   the share of the CPU's peak, test passes
    python benchmarks/bench_training.py --keras      # one seed-recipe epoch, whole process,
                                                     #   against the seed notebook's Keras fit

``--keras`` runs Keras in a virtual environment of its own that it creates the first time
(``~/.cache/drawdigit-bench/keras-venv``, ``pip install tensorflow-cpu==2.21.0``, ~600 MB):
never in the repository, never a dependency of drawdigit.

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
    data, batch_size: int, steps: int, threads: int | None, precision: str = "fp32"
) -> tuple[float, float]:
    """Images/s of ``fit`` itself over ``steps`` batches after 5 warm-up batches, by the
    wall clock and per CPU-second the process used (which other programs' load inflates
    far less than the wall clock: a rough guide to what an idle machine would give)."""
    from drawdigit.training import BatchProgress, TrainConfig, fit

    n = batch_size * (steps + 5)
    subset = data.subset(n, 10)
    config = TrainConfig(
        epochs=1,
        batch_size=batch_size,
        threads=threads,
        device="cpu",
        quick_eval_seconds=0,
        precision=precision,
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


# --------------------------------------------------------------------------- precision


def training_step_flops(model) -> tuple[int, int]:
    """(multiply-adds of one image's forward pass, FLOPs of one image's training step).

    Counted from the layers' shapes: a convolution does out_h * out_w * out_c * in_c * k * k
    multiply-adds, a dense layer in * out. The backward pass costs about twice the forward
    (the gradient with respect to the inputs and to the weights, each as many multiply-adds;
    the first layer needs no input gradient, ignored here), so a step is 3x the forward, and
    a multiply-add is 2 FLOPs. Pooling, ReLU, the loss and the optimiser are left out: they
    are memory-bound and a few percent of the arithmetic.
    """
    import torch

    macs = 0
    x = torch.zeros(1, 1, 28, 28)
    hooks = []

    def count(module, inputs, output) -> None:
        nonlocal macs
        if isinstance(module, torch.nn.Conv2d):
            k = module.kernel_size[0] * module.kernel_size[1]
            macs += output[0].numel() * module.in_channels * k
        elif isinstance(module, torch.nn.Linear):
            macs += module.in_features * module.out_features

    for layer in model.modules():
        if isinstance(layer, (torch.nn.Conv2d, torch.nn.Linear)):
            hooks.append(layer.register_forward_hook(count))
    with torch.no_grad():
        model(x)
    for hook in hooks:
        hook.remove()
    return macs, 2 * 3 * macs


def cpu_peak_flops(cores: int) -> tuple[float, str]:
    """The CPU's float32 peak, FLOP/s, and how it was worked out.

    cores x clock x FLOPs per cycle per core; with AVX2 + FMA a core retires two 256-bit
    FMAs a cycle: 2 units x 8 float32 lanes x 2 FLOPs (multiply and add) = 32 FLOPs/cycle
    (64 with AVX-512 on two FMA units). The clock is /proc/cpuinfo's "cpu MHz" (what the
    kernel reports now; boost clocks would make the peak higher and the share lower).
    """
    from drawdigit.training.precision import read_cpu_flags

    flags = read_cpu_flags() or frozenset()
    mhz = 0.0
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("cpu MHz"):
                mhz = float(line.split(":")[1])
                break
    except OSError:
        pass
    per_cycle = 64 if "avx512f" in flags else 32 if "fma" in flags else 16
    peak = cores * mhz * 1e6 * per_cycle
    how = f"{cores} cores x {mhz / 1000:.2f} GHz x {per_cycle} FLOPs/cycle"
    return peak, how


def bench_precision(data, args: argparse.Namespace) -> None:
    """fp32 against bf16: the engine's images/s (interleaved), which shard layout is fastest
    with each, the share of the CPU's peak, and what a test pass costs."""
    import torch

    from drawdigit.model import DigitNet, fast_forward
    from drawdigit.training import evaluate
    from drawdigit.training.loop import train_step
    from drawdigit.training.optim import KerasRMSprop
    from drawdigit.training.precision import resolve_precision
    from drawdigit.training.workers import Workers, reuse_freed_memory

    threads = args.threads or torch.get_num_threads()
    auto = resolve_precision("auto", torch.device("cpu"))
    print(f"precision: auto picks {auto.precision} here ({auto.reason})")
    macs, step_flops = training_step_flops(DigitNet())
    peak, how = cpu_peak_flops(threads)
    print(
        f"  one image: {macs / 1e6:.2f} M multiply-adds forward, {step_flops / 1e6:.1f} MFLOP "
        f"per training step (3x forward); peak {peak / 1e9:.0f} GFLOP/s ({how})"
    )

    rates: dict[str, list[tuple[float, float]]] = {"fp32": [], "bf16": []}
    for _ in range(args.repeats):
        for precision in rates:
            rates[precision].append(engine_throughput(data, 64, args.steps, threads, precision))
    print(f"  engine, seed recipe's batch 64, {threads} threads, interleaved:")
    for precision, runs in rates.items():
        wall = statistics.median(w for w, _ in runs)
        per_cpu = statistics.median(c for _, c in runs)
        share = wall * step_flops / peak
        print(
            f"    {precision}: {spread([w for w, _ in runs])} images/s = "
            f"{wall * step_flops / 1e9:.1f} GFLOP/s, {share:.0%} of peak; "
            f"{per_cpu:,.0f} per CPU-second ({per_cpu * step_flops / (peak / threads):.0%} "
            "of one core's peak)"
        )

    # Shard layouts: k shard threads of threads // k torch threads each.
    batch = 64
    images = torch.from_numpy(data.train_images[: batch * args.steps].copy()).unsqueeze(1)
    labels = torch.from_numpy(data.train_labels[: batch * args.steps].astype("int64"))
    layouts = [(k, threads // k) for k in range(1, threads + 1) if threads % k == 0]
    pools = {layout: Workers(*layout) for layout in layouts}

    def run_steps(layout: tuple[int, int], bf16: bool) -> float:
        torch.manual_seed(0)
        model = DigitNet().to(memory_format=torch.channels_last)
        params = list(model.parameters())
        optimizer = KerasRMSprop(params, lr=1e-3)
        workers = pools[layout]
        torch.set_num_threads(workers.per_worker)

        def forward(v: torch.Tensor) -> torch.Tensor:
            return fast_forward(model, v)

        with reuse_freed_memory():
            began = time.perf_counter()
            for i in range(args.steps):
                x = images[i * batch : (i + 1) * batch].float().div_(255)
                x = x.contiguous(memory_format=torch.channels_last)
                y = labels[i * batch : (i + 1) * batch]
                train_step(forward, params, optimizer, x, y, workers, bf16=bf16)
            return batch * args.steps / (time.perf_counter() - began)

    previous = torch.get_num_threads()
    results: dict[tuple, list[float]] = {}
    try:
        for _ in range(args.repeats):
            for layout in layouts:
                for bf16 in (False, True):
                    results.setdefault((layout, bf16), []).append(run_steps(layout, bf16))
    finally:
        torch.set_num_threads(previous)
        for pool in pools.values():
            if pool.pool is not None:
                pool.pool.shutdown()
    note = "" if auto.precision == "bf16" else " (bf16 emulated here: no bf16 units)"
    print(f"  shard layouts, batch 64, interleaved{note}:")
    for (layout, bf16), runs in results.items():
        name = f"{layout[0]} shard(s) x {layout[1]} torch thread(s), {'bf16' if bf16 else 'fp32'}"
        print(f"    {name:40s} {spread(runs)} images/s")

    model = DigitNet().eval()
    sizes = (125, 250, 500)
    times: dict[int, list[tuple[float, float]]] = {size: [] for size in sizes}
    for _ in range(args.repeats):  # interleaved
        for size in sizes:
            began, cpu = time.perf_counter(), time.process_time()
            evaluate(model, data.test_images, data.test_labels, batch_size=size, threads=threads)
            times[size].append((time.perf_counter() - began, time.process_time() - cpu))
    for size, runs in times.items():
        wall = spread_seconds([w for w, _ in runs])
        cpu_time = statistics.median(c for _, c in runs)
        print(f"  test pass, 10,000 images in chunks of {size}: {wall}; CPU {cpu_time:.2f} s")


def spread_seconds(values: list[float]) -> str:
    return (
        f"median {statistics.median(values):.2f} s (min {min(values):.2f}, max {max(values):.2f})"
    )


# --------------------------------------------------------------------------- Keras


KERAS_VENV = Path.home() / ".cache" / "drawdigit-bench" / "keras-venv"
KERAS_REQUIREMENT = "tensorflow-cpu==2.21.0"

# The seed notebook's cells (../shared/seed/keras-mnist-cnn-notebook.txt), with MNIST read
# from the same files drawdigit reads instead of Keras' download, and one epoch.
KERAS_SCRIPT = """
import gzip, json, sys, time
started = float(sys.argv[2])
def emit(**fields):
    fields["t"] = round(time.time() - started, 2)
    print(json.dumps(fields), flush=True)
import numpy as np
from keras import layers, models
from keras.utils import to_categorical
emit(kind="imported")
def idx(name, offset):
    with gzip.open(sys.argv[1] + "/" + name) as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)
train_images = idx("train-images-idx3-ubyte.gz", 16).reshape((60_000, 28, 28, 1))
train_images = train_images.astype("float32") / 255
test_images = idx("t10k-images-idx3-ubyte.gz", 16).reshape((10_000, 28, 28, 1))
test_images = test_images.astype("float32") / 255
train_labels = to_categorical(idx("train-labels-idx1-ubyte.gz", 8))
test_labels = to_categorical(idx("t10k-labels-idx1-ubyte.gz", 8))
model = models.Sequential()
model.add(layers.Input((28, 28, 1)))
model.add(layers.Conv2D(32, (3, 3), activation="relu"))
model.add(layers.MaxPooling2D((2, 2)))
model.add(layers.Conv2D(64, (3, 3), activation="relu"))
model.add(layers.MaxPooling2D((2, 2)))
model.add(layers.Conv2D(64, (3, 3), activation="relu"))
model.add(layers.Flatten())
model.add(layers.Dense(64, activation="relu"))
model.add(layers.Dense(10, activation="softmax"))
model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
emit(kind="loaded")
began = time.perf_counter()
model.fit(train_images, train_labels, epochs=1, batch_size=64, verbose=0)
fit = time.perf_counter() - began
test_loss, test_acc = model.evaluate(test_images, test_labels, verbose=0)
emit(kind="done", fit=round(fit, 2), acc=float(test_acc))
"""


def keras_python() -> Path:
    """The Keras venv's python, created and filled the first time (minutes, ~600 MB)."""
    python = KERAS_VENV / "bin" / "python"
    if python.exists():
        check = subprocess.run([str(python), "-c", "import tensorflow"], capture_output=True)
        if check.returncode == 0:
            return python
    print(f"creating {KERAS_VENV} with {KERAS_REQUIREMENT} (once)...", flush=True)
    KERAS_VENV.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(KERAS_VENV)], check=True)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, KERAS_REQUIREMENT], check=True)
    return python


def launch_keras(python: Path, args: argparse.Namespace) -> list[dict]:
    started = time.time()
    command = [str(python), "-c", KERAS_SCRIPT, str(args.data_dir), repr(started)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    if args.threads:
        env["TF_NUM_INTRAOP_THREADS"] = str(args.threads)
    result = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    if result.returncode != 0:
        raise SystemExit(f"the Keras run failed:\n{result.stderr[-3000:]}")
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def bench_keras(args: argparse.Namespace) -> None:
    """One seed-recipe epoch, whole process (start to trained and tested), drawdigit then
    the seed notebook's Keras fit, ``--keras-runs`` times each, interleaved."""
    python = keras_python()
    threads = {"threads": args.threads} if args.threads else {}
    ours: list[tuple[float, float]] = []
    theirs: list[tuple[float, float]] = []
    for run in range(args.keras_runs):
        load = os.getloadavg()[0]
        events = launch("seed", {**threads, "epochs": 1, "quick_eval_seconds": 0}, args)
        done = events[-1]
        ours.append((done["t"], done["seconds"]))
        keras = launch_keras(python, args)
        k_done = keras[-1]
        theirs.append((k_done["t"], k_done["fit"]))
        print(
            f"  run {run + 1} (load {load:.1f}): drawdigit {done['t']:.1f} s whole process, "
            f"{done['seconds']:.1f} s training + test pass, test {done['acc'] * 100:.2f}%; "
            f"Keras {k_done['t']:.1f} s whole process, fit {k_done['fit']:.1f} s, "
            f"test {k_done['acc'] * 100:.2f}%"
        )
    whole = statistics.median(o[0] for o in ours) / statistics.median(k[0] for k in theirs)
    fit = statistics.median(o[1] for o in ours) / statistics.median(k[1] for k in theirs)
    print(
        f"seed-recipe epoch vs Keras (medians): whole process {whole:.2f}x, "
        f"training (drawdigit's incl. its test pass) vs fit alone {fit:.2f}x"
    )


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
    parser.add_argument("--precision", action="store_true", help="fp32 vs bf16, peak share")
    parser.add_argument("--keras", action="store_true", help="seed epoch vs Keras (a venv)")
    parser.add_argument("--keras-runs", type=int, default=1, help="Keras comparisons")
    parser.add_argument("--skip-throughput", action="store_true", help=argparse.SUPPRESS)
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
    if not args.skip_throughput:
        bench_throughput(data, args)
    if args.precision:
        bench_precision(data, args)
    if args.keras:
        bench_keras(args)
    if args.ablation:
        bench_ablation(data, args)
    if args.full:
        bench_full(args)
    print(f"load average now {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

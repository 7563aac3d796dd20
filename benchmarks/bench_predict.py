"""How fast a drawing becomes an answer: in process, and as a whole ``drawdigit predict``.

    python benchmarks/bench_predict.py [--source DIR] [--limit N] [--repeat R] [--runs K]

1. In process, over the unipen-dev drawings (real pen input): medians and p90 of preprocess
   (strokes -> 28x28), the forward pass alone (28x28 -> probabilities,
   ``Predictor.predict``) and both together; with ``--torch`` also the torch network
   (``Checkpoint.build_model``, one thread, as the app used it before issue 12).
2. Whole processes, interleaved ``--runs`` times so both see the same machine load:
   ``python -m drawdigit predict one.json``; a bare ``python -c "import numpy, PIL.Image"``
   (the floor any Python tool that reads an image pays); ``predict`` with 1,000 files.
   The marginal cost of a file is (t(1,000 files) - t(1 file)) / 999. Each run also records
   whether the predict process imported torch (``-X importtime``). ``--baseline DIR``: the
   same two ``predict`` processes of another checkout run in the same rounds.
3. ``--instructions``: instructions per ``preprocess`` and per file of ``predict``
   (valgrind's callgrind; independent of the machine's load), with ``--baseline`` too.
4. ``--evaluate``: the 10,000 MNIST test images through the numpy forward pass (what
   ``drawdigit evaluate`` does) and through ``training.evaluate`` (torch, all its threads).

``--source DIR`` measures another checkout (e.g. the commit before a change, from
``git archive``) with this same script: its folder goes first on PYTHONPATH. Timings on a
shared machine are noisy: compare medians taken in the same run.
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
UNIPEN = REPO.parent / "shared" / "unipen-dev"


def timings(function, items, repeat: int) -> Any:
    """Per-item seconds, best of ``repeat`` runs for each item (drops scheduler hiccups)."""
    import numpy as np

    best = np.full(len(items), np.inf)
    for _ in range(repeat):
        for i, item in enumerate(items):
            start = time.perf_counter()
            function(item)
            best[i] = min(best[i], time.perf_counter() - start)
    return best


def report(name: str, seconds: Any) -> None:
    import numpy as np

    ms = np.asarray(seconds) * 1e3
    print(
        f"{name:44s} median {np.median(ms):8.3f} ms   p90 {np.percentile(ms, 90):8.3f} ms"
        f"   n={len(ms)}"
    )


def in_process(args: argparse.Namespace) -> None:
    import numpy as np
    from unipen import load_unipen

    from drawdigit.inference import load_predictor
    from drawdigit.preprocess import preprocess
    from drawdigit.strokes import load_drawing

    predictor, warnings = load_predictor(args.model)
    for warning in warnings:
        print("warning:", warning)
    samples = load_unipen(args.data_dir)[: args.limit]
    drawings = [load_drawing(s.path) for s in samples]
    images = [preprocess(d) for d in drawings[:500]]
    print(f"model: {predictor.source.describe()}; {len(drawings)} drawings")
    for image in images[:50]:  # warm-up: first calls allocate
        predictor.predict(image)
    report("preprocess (strokes -> 28x28)", timings(preprocess, drawings, args.repeat))
    report("forward (28x28 -> probabilities)", timings(predictor.predict, images, args.repeat))
    report(
        "preprocess + forward",
        timings(lambda d: predictor.predict(preprocess(d)), drawings, args.repeat),
    )
    batch = np.stack(images)
    report(
        f"forward, one batch of {len(batch)}, per drawing",
        timings(lambda b: predictor.predict(b), [batch] * 5, 1) / len(batch),
    )
    if args.torch:
        import torch

        from drawdigit.store import load_checkpoint_in_use

        torch.set_num_threads(1)
        model = load_checkpoint_in_use(args.model)[0].build_model()

        def torch_forward(image: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                x = torch.from_numpy(image.reshape(1, 1, 28, 28))
                return torch.softmax(model(x), dim=1).numpy()

        for image in images[:50]:
            torch_forward(image)
        report("torch forward, 1 thread (reference)", timings(torch_forward, images, args.repeat))


def _run(command: list[str], env: dict[str, str], cwd: str) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (user + system: less sensitive to other programs' load)
    and stderr of one process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    if done.returncode not in (0, 1):
        raise SystemExit(f"{command[:4]} failed: {done.stderr[-2000:]}")
    return seconds, cpu, done.stderr


def whole_processes(args: argparse.Namespace) -> None:
    sources = {"": args.source}
    if args.baseline:
        sources["baseline: "] = args.baseline
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # cached bytecode, as an installed package has
    envs = {}
    for label, source in sources.items():
        compileall.compile_dir(source / "drawdigit", quiet=1)
        envs[label] = dict(
            env, PYTHONPATH=os.pathsep.join([str(source), env.get("PYTHONPATH", "")])
        )
    with tempfile.TemporaryDirectory() as data_dir:
        for label in envs:
            envs[label]["DRAWDIGIT_DATA_DIR"] = data_dir  # the bundled model, as a new user has it
        files = sorted((args.data_dir or UNIPEN).glob("*.json"))[: args.files]
        predict = [sys.executable, "-m", "drawdigit", "predict"]
        commands = {
            "bare: python -c 'import numpy, PIL.Image'": (
                "",
                [sys.executable, "-c", "import numpy, PIL.Image"],
            ),
        }
        for label in sources:
            commands[f"{label}drawdigit predict one.json"] = (label, predict + [str(files[0])])
            commands[f"{label}drawdigit predict ({len(files)} files)"] = (
                label,
                predict + [str(f) for f in files],
            )
        seconds: dict[str, list[float]] = {name: [] for name in commands}
        cpu: dict[str, list[float]] = {name: [] for name in commands}
        torch_seen = []
        for _ in range(args.runs):
            for name, (label, command) in commands.items():
                wall, used, _ = _run(command, envs[label], data_dir)
                seconds[name].append(wall)
                cpu[name].append(used)
            _, _, log = _run(
                [sys.executable, "-X", "importtime", *predict[1:], str(files[0])],
                envs[""],
                data_dir,
            )
            torch_seen.append(
                any(line.split("|")[-1].strip() == "torch" for line in log.splitlines())
            )
    print(f"load average at the end: {os.getloadavg()[0]:.2f} (2 cores: noisy above 2)")
    for name, values in seconds.items():
        report(name, values)
    for name, values in cpu.items():
        report(f"CPU time: {name}", values)
    bare = statistics.median(seconds[next(iter(commands))])
    for label in sources:
        one_name = f"{label}drawdigit predict one.json"
        many_name = f"{label}drawdigit predict ({len(files)} files)"
        one, many = statistics.median(seconds[one_name]), statistics.median(seconds[many_name])
        print(f"{label + 'predict one / bare':44s} {one / bare:8.2f} x")
        per_file = (many - one) / (len(files) - 1) * 1e3
        print(f"{label + 'marginal cost per file':44s} {per_file:8.3f} ms")
        one, many = statistics.median(cpu[one_name]), statistics.median(cpu[many_name])
        per_file = (many - one) / (len(files) - 1) * 1e3
        print(f"{label + 'marginal CPU time per file':44s} {per_file:8.3f} ms")
    print(f"{'predict imported torch':44s} {sum(torch_seen)} of {len(torch_seen)} runs")


# Preprocess the first N drawings once (warm), then PASSES more times: the difference between
# 2 passes and 0 passes, over 2 N, is the instructions of one preprocess.
PREPROCESS_LOOP = """
import sys
from pathlib import Path
from drawdigit.preprocess import preprocess
from drawdigit.strokes import load_drawing
files = sorted(Path(sys.argv[1]).glob("*.json"))[: int(sys.argv[2])]
drawings = [load_drawing(f) for f in files]
for _ in range(1 + int(sys.argv[3])):
    for drawing in drawings:
        preprocess(drawing)
"""


def instructions(args: argparse.Namespace) -> None:
    """Instructions per drawing (``preprocess``) and per file (``predict`` with N files less
    ``predict`` with one), counted by valgrind's callgrind: unlike times on a shared machine,
    independent of the load. Slow: minutes per count."""
    import shutil

    if shutil.which("valgrind") is None:
        print("instructions: skipped (no valgrind)")
        return
    n = args.instruction_files
    files = sorted((args.data_dir or UNIPEN).glob("*.json"))[:n]
    sources = {"": args.source}
    if args.baseline:
        sources["baseline: "] = args.baseline
    with tempfile.TemporaryDirectory() as data_dir:
        for label, source in sources.items():
            # Bytecode compiled first, as installed: a run that compiled a module and one
            # that read it would differ by the compiling, not by the work per file.
            compileall.compile_dir(source / "drawdigit", quiet=1)
            env = dict(os.environ, OPENBLAS_NUM_THREADS="1", DRAWDIGIT_DATA_DIR=data_dir)
            env["PYTHONPATH"] = os.pathsep.join([str(source), env.get("PYTHONPATH", "")])

            def count(*command: str, env: dict[str, str] = env) -> int:
                done = subprocess.run(
                    ["valgrind", "--tool=callgrind", f"--callgrind-out-file={os.devnull}"]
                    + [sys.executable, *command],
                    env=env,
                    cwd=data_dir,
                    capture_output=True,
                    text=True,
                    check=False,
                )
                found = [line for line in done.stderr.splitlines() if "Collected" in line]
                if not found:
                    raise SystemExit(f"valgrind failed: {done.stderr[-2000:]}")
                return int(found[-1].split()[-1])

            folder = str(files[0].parent)
            loop = [count("-c", PREPROCESS_LOOP, folder, str(n), str(k)) for k in (0, 2)]
            per_drawing = (loop[1] - loop[0]) / (2 * n)
            print(f"{label + 'instructions per preprocess':44s} {per_drawing / 1e6:8.3f} M")
            one = count("-m", "drawdigit", "predict", str(files[0]))
            many = count("-m", "drawdigit", "predict", *map(str, files))
            per_file = (many - one) / (n - 1)
            print(f"{label + f'instructions per file (predict, {n})':44s} {per_file / 1e6:8.3f} M")


def evaluation(args: argparse.Namespace, runs: int = 3) -> None:
    import numpy as np

    from drawdigit.inference import load_predictor
    from drawdigit.mnist import load_mnist

    data = load_mnist(REPO.parent / "shared" / "mnist")
    predictor, _ = load_predictor(args.model)
    images = data.test_images.astype(np.float32) / 255.0
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        predictor.predict(images).argmax(axis=1)
        seconds.append(time.perf_counter() - start)
    report("evaluate 10,000 images, numpy (1 thread)", seconds)
    import torch

    from drawdigit.store import load_checkpoint_in_use
    from drawdigit.training import evaluate

    model = load_checkpoint_in_use(args.model)[0].build_model()
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        evaluate(model, data.test_images, data.test_labels)
        seconds.append(time.perf_counter() - start)
    report(f"evaluate 10,000 images, torch ({torch.get_num_threads()} threads)", seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=REPO, help="checkout to measure")
    parser.add_argument(
        "--baseline", type=Path, help="another checkout whose processes run interleaved"
    )
    parser.add_argument("--model", type=Path, help="model file (default: the app's choice)")
    parser.add_argument("--data-dir", type=Path, help="unipen-dev folder")
    parser.add_argument("--limit", type=int, default=2000, help="drawings to time in process")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--runs", type=int, default=7, help="whole-process runs of each kind")
    parser.add_argument("--files", type=int, default=1000, help="files in the big predict call")
    parser.add_argument("--torch", action="store_true", help="also time the torch forward")
    parser.add_argument("--skip-processes", action="store_true")
    parser.add_argument(
        "--instructions", action="store_true", help="also count instructions (valgrind; slow)"
    )
    parser.add_argument("--instruction-files", type=int, default=200)
    parser.add_argument("--evaluate", action="store_true", help="also time MNIST evaluation")
    args = parser.parse_args(argv)
    args.source = args.source.resolve()
    args.baseline = args.baseline.resolve() if args.baseline else None
    sys.path[:0] = [str(args.source), str(HERE)]
    import drawdigit  # noqa: F401 - first, as in the app: it sets numpy's BLAS threads

    print(f"source: {args.source}")
    if args.evaluate:  # first: in_process sets torch to one thread for its reference
        evaluation(args)
    in_process(args)
    if not args.skip_processes:
        whole_processes(args)
    if args.instructions:
        instructions(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

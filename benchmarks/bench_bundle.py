"""The frozen app's figures: build time, size on disk (and what takes it), archive size, and
start-up to a visible window and to the first prediction.

    python benchmarks/bench_bundle.py --build          # build with PyInstaller, then measure
    python benchmarks/bench_bundle.py                  # measure an existing dist/drawdigit
    python benchmarks/bench_bundle.py --runs 11 --platform offscreen --no-archive
    python benchmarks/bench_bundle.py --size-only      # the size table only (release workflow)

Start-up is timed from just before the process is spawned to the moment the app reports,
through the hooks in ``drawdigit/gui/app.py`` (``DRAWDIGIT_EXIT_AFTER_SHOWN``: the window
has painted; ``DRAWDIGIT_EXIT_AFTER_PREDICTION``: a sample drawing opened at start has its
prediction on screen). Both write ``time.monotonic()``, a clock all processes share. Every
run gets fresh, empty user data and settings folders, so the bundled model is the one
loaded and no saved window geometry is restored. By default the window opens on a private
Xvfb X server when one is installed (a real X11 window, as a user gets), else offscreen.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "packaging"))

from make_archive import make_archive  # noqa: E402

MB = 2**20  # MiB, as `du -h` counts (the figures are du figures)


def build(dist: Path, work: Path) -> float:
    """Run PyInstaller on build.spec (niced: the machine is shared); returns seconds."""
    command = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN"]
    command += ["--distpath", str(dist), "--workpath", str(work), str(REPO / "build.spec")]
    if shutil.which("nice"):
        command = ["nice", "-n", "10", *command]
    start = time.perf_counter()
    subprocess.run(command, cwd=REPO, check=True)
    return time.perf_counter() - start


def disk_usage(path: Path) -> int:
    """Bytes a file or folder takes on disk (allocated blocks; links counted as links)."""
    st = path.lstat()
    if not path.is_dir() or path.is_symlink():
        return getattr(st, "st_blocks", 0) * 512 or st.st_size
    return sum(disk_usage(child) for child in path.iterdir()) + st.st_size


def size_table(app: Path, count: int = 16) -> list[tuple[str, int]]:
    """The biggest parts: every file of 5 MB or more on its own row, each folder of the
    bundle's internals (without those big files), and the loose libraries as one row."""
    internal = app / "_internal" if (app / "_internal").is_dir() else app
    files = [p for p in app.rglob("*") if p.is_file() and not p.is_symlink()]
    big = [p for p in files if p.stat().st_size >= 5 * MB]
    rows = [(p.relative_to(app).as_posix(), disk_usage(p)) for p in big]
    loose = 0
    for child in sorted(internal.iterdir()):
        if child in big:
            continue
        if child.is_dir() and not child.is_symlink():
            rest = disk_usage(child) - sum(disk_usage(p) for p in big if child in p.parents)
            rows.append((child.relative_to(app).as_posix() + "/ (the rest)", rest))
        else:
            loose += disk_usage(child)
    rows.append((internal.relative_to(app).as_posix() + "/*.so* (loose libraries, files)", loose))
    rows.sort(key=lambda row: row[1], reverse=True)
    return rows[:count]


def start_xvfb() -> tuple[subprocess.Popen, str] | None:
    if not shutil.which("Xvfb"):
        return None
    for number in range(170, 190):
        if Path(f"/tmp/.X11-unix/X{number}").exists() or Path(f"/tmp/.X{number}-lock").exists():
            continue
        server = subprocess.Popen(
            ["Xvfb", f":{number}", "-screen", "0", "1600x1200x24", "-nolisten", "tcp"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and server.poll() is None:
            if Path(f"/tmp/.X11-unix/X{number}").exists():
                return server, f":{number}"
            time.sleep(0.05)
        server.kill()
        server.wait()
    return None


def time_start(exe: Path, hook: str, env: dict[str, str], timeout: float) -> list[float] | None:
    """Launch once with the hook set; seconds from spawn to each reported moment."""
    with tempfile.TemporaryDirectory(prefix="drawdigit-bench-") as tmp:
        marker = Path(tmp) / "marker"
        run_env = dict(env, DRAWDIGIT_DATA_DIR=str(Path(tmp) / "data"))
        run_env["XDG_CONFIG_HOME"] = str(Path(tmp) / "config")
        run_env[hook] = str(marker)
        start = time.monotonic()
        try:
            subprocess.run(
                [str(exe)],
                env=run_env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            return None
        if not marker.is_file():
            return None
        fields = marker.read_text(encoding="utf-8").split()
        times = [float(value) - start for value in fields[:2] if "." in value]
        return times or None


def median_line(label: str, values: list[float]) -> str:
    runs = " ".join(f"{v:.2f}" for v in values)
    return f"{label:<34} median {statistics.median(values):6.3f} s   (runs: {runs})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", action="store_true", help="run PyInstaller first (timed)")
    parser.add_argument("--dist", type=Path, default=REPO / "dist")
    parser.add_argument("--work", type=Path, default=REPO / "build")
    parser.add_argument("--runs", type=int, default=7, help="launches per start-up figure")
    parser.add_argument("--platform", choices=("auto", "xcb", "offscreen"), default="auto")
    parser.add_argument("--no-archive", action="store_true", help="skip making the archive")
    parser.add_argument("--size-only", action="store_true", help="the size table, nothing else")
    args = parser.parse_args(argv)

    print(f"# drawdigit bundle benchmark ({sys.platform}, {os.cpu_count()} CPUs)")
    if args.build:
        seconds = build(args.dist, args.work)
        print(f"build time (pyinstaller build.spec, nice 10)  {seconds:7.1f} s")
    app = args.dist / "drawdigit"
    exe = app / ("drawdigit.exe" if sys.platform == "win32" else "drawdigit")
    if not exe.is_file():
        print(f"{exe}: not built (use --build)", file=sys.stderr)
        return 2

    total = disk_usage(app)
    print(f"\none-folder app {app}: {total / MB:.1f} MiB on disk")
    print(f"{'part':<64} {'MiB':>7}")
    for name, size in size_table(app):
        print(f"{name:<64} {size / MB:7.1f}")
    if args.size_only:
        return 0

    if not args.no_archive:
        start = time.perf_counter()
        archive = make_archive(args.dist, args.dist)
        seconds = time.perf_counter() - start
        print(f"\narchive {archive.name}: {archive.stat().st_size / MB:.1f} MiB ({seconds:.0f} s)")

    env = {k: v for k, v in os.environ.items() if k not in ("DRAWDIGIT_MNIST_DIR",)}
    xvfb = None
    platform_name = args.platform
    if platform_name in ("auto", "xcb") and sys.platform.startswith("linux"):
        if not env.get("DISPLAY") or platform_name == "xcb":
            xvfb = start_xvfb()
        if xvfb is not None:
            env.update(DISPLAY=xvfb[1], QT_QPA_PLATFORM="xcb")
            platform_name = f"xcb on Xvfb {xvfb[1]}"
        elif env.get("DISPLAY"):
            env["QT_QPA_PLATFORM"] = "xcb"
            platform_name = f"xcb on {env['DISPLAY']}"
        else:
            platform_name = "offscreen"
    if platform_name == "offscreen" or (platform_name == "auto" and not xvfb):
        env["QT_QPA_PLATFORM"] = "offscreen"
        platform_name = "offscreen"
    print(f"\nstart-up, {args.runs} launches each, Qt platform {platform_name}")
    try:
        time_start(exe, "DRAWDIGIT_EXIT_AFTER_SHOWN", env, 60)  # warm the file cache
        shown = [time_start(exe, "DRAWDIGIT_EXIT_AFTER_SHOWN", env, 60) for _ in range(args.runs)]
        if all(shown):
            print(median_line("launch -> window painted", [s[0] for s in shown]))
        else:
            print("launch -> window painted: the app did not report (hook missing?)")
        first = [
            time_start(exe, "DRAWDIGIT_EXIT_AFTER_PREDICTION", env, 120) for _ in range(args.runs)
        ]
        if all(t and len(t) == 2 for t in first):
            print(median_line("launch -> window (prediction runs)", [t[0] for t in first]))
            print(median_line("launch -> first prediction shown", [t[1] for t in first]))
        else:
            print("launch -> first prediction: the app did not report (hook missing?)")
    finally:
        if xvfb is not None:
            xvfb[0].kill()
            xvfb[0].wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

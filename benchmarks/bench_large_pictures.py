"""Peak memory and time of reading very large pictures: ``drawdigit predict`` on each.

    python benchmarks/bench_large_pictures.py [--side 12000] [--keep DIR]

Writes, a row at a time (never whole in this process's memory), a white side x side PNG
with a dark bar down its middle (a "1") in grey, RGB and RGBA, and the same picture as a
JPEG; then runs ``drawdigit predict`` on each in a fresh process and prints its peak
resident memory (``VmHWM``), its wall time and its answer, beside a 1200 x 1200 PNG
for the process's own baseline. Pillow decoding a 12000 x 12000 RGB PNG whole takes 576 MB
(4 bytes a pixel) before any reduction; ``drawdigit.pictures.png_strips`` reads it a strip
of rows at a time.
"""

from __future__ import annotations

import argparse
import os
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

# The child's own peak: /proc's VmHWM belongs to the process image (Linux keeps ru_maxrss
# across exec, so a child reports at least what this process held when it started it).
PEAK = """
import resource, sys
from drawdigit.cli import main
status = main(["predict", sys.argv[1]])
try:
    kb = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
except OSError:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print("peak", kb, file=sys.stderr)
"""


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def write_huge_png(path: Path, side: int, channels: int) -> None:
    """A side x side white picture with a dark bar down its middle (a "1"), written a row
    at a time: a few MB on disk, never whole in memory. ``channels``: 1 grey, 3 RGB, 4 RGBA."""
    colour = {1: 0, 3: 2, 4: 6}[channels]
    squeeze = zlib.compressobj(1)
    white = np.full((side, channels), 255, np.uint8)
    bar = white.copy()
    bar[side // 2 - side // 40 : side // 2 + side // 40, : min(channels, 3)] = 20
    with open(path, "wb") as file:
        file.write(b"\x89PNG\r\n\x1a\n")
        file.write(_chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, colour, 0, 0, 0)))
        for y in range(side):
            row = bar if side // 4 < y < 3 * side // 4 else white
            if data := squeeze.compress(b"\x00" + row.tobytes()):
                file.write(_chunk(b"IDAT", data))
        file.write(_chunk(b"IDAT", squeeze.flush()) + _chunk(b"IEND", b""))


def write_huge_jpeg(path: Path, side: int) -> None:
    """The same picture as a JPEG (made whole by Pillow: this process holds it a moment)."""
    from PIL import Image, ImageDraw

    image = Image.new("L", (side, side), 255)
    ImageDraw.Draw(image).rectangle(
        (side // 2 - side // 40, side // 4, side // 2 + side // 40, 3 * side // 4), fill=20
    )
    image.convert("RGB").save(path, quality=90)


def measure(path: Path) -> tuple[float, float, str]:
    """Peak resident MB, wall seconds and the answer line of ``drawdigit predict path``."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", PEAK, str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    wall = time.perf_counter() - start
    peak = next(
        int(line.split()[1]) for line in done.stderr.splitlines() if line.startswith("peak ")
    )
    answer = done.stdout.strip().split(": ", 1)[-1]
    return peak * 1024 / 1e6, wall, answer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=12000, help="pixels a side")
    parser.add_argument("--keep", type=Path, help="write the pictures here (kept)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        files = [("1200 x 1200 RGB PNG (baseline)", folder / "small.png", 1200, 3)]
        big = f"{args.side} x {args.side}"
        for name, channels in (("grey", 1), ("RGB", 3), ("RGBA", 4)):
            files.append((f"{big} {name} PNG", folder / f"{name}.png", args.side, channels))
        for _, path, side, channels in files:
            write_huge_png(path, side, channels)
        files.append((f"{big} RGB JPEG", folder / "rgb.jpg", args.side, 0))
        write_huge_jpeg(files[-1][1], args.side)
        for name, path, _, _ in files:
            peak, wall, answer = measure(path)
            print(f"{name:36s} peak {peak:6.0f} MB, {wall:5.2f} s wall: {answer}")
    print(f"  (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

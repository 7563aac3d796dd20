"""The strokes file format: a drawing as the pen moved, read, validated and written.

A drawing is kept as strokes rather than pixels so that the canvas, a saved file and
``drawdigit predict drawing.json`` all go through the same renderer (``preprocess``) and give
the same 28x28 input. The format is a contract other tools rely on, kept exactly::

    {"width": 280, "height": 280, "strokes": [[[x, y], [x, y], ...], ...]}

floats in canvas pixels, origin top-left, y down; ``width``/``height`` are the size of the
canvas the strokes were drawn on. A stroke is one pen-down..pen-up; a stroke of a single point
is a dot. Points may lie a little outside the canvas (a pen that slid over the edge).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drawdigit.store import atomic_write_text

# Limits that separate a real drawing from a damaged or hostile file. A canvas larger than
# this, coordinates this far away or this many points are not something a person drew.
MAX_CANVAS_SIZE = 100_000.0
MAX_COORDINATE = 1_000_000.0
MAX_POINTS = 1_000_000

# The canvas pen, as a fraction of the canvas's shorter side: 20 px on the 280 px canvas.
# Measured on unipen-dev (benchmarks/bench_unipen.py --variants): rendered with the canvas
# pen, 18, 20 and 24 px score within 0.1% of each other, 14 and 28 px lower. It is what the
# canvas shows and what a picture of a drawing carries; the strokes themselves are drawn
# for the network with a normalised pen (see preprocess.StrokeStyle).
PEN_FRACTION = 20.0 / 280.0

Point = tuple[float, float]


class StrokesError(Exception):
    """A strokes file (or dict) is not a valid drawing; the message names the file and why."""


@dataclass
class Drawing:
    """What a person drew: the canvas size and the pen's path, stroke by stroke."""

    width: float
    height: float
    strokes: list[list[Point]] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        """True when no stroke has a single point (nothing to render)."""
        return not any(self.strokes)

    @property
    def point_count(self) -> int:
        return sum(len(stroke) for stroke in self.strokes)

    def to_dict(self) -> dict[str, Any]:
        """The file's JSON object; floats are kept as they are (round-trips exactly)."""
        return {
            "width": float(self.width),
            "height": float(self.height),
            "strokes": [[[float(x), float(y)] for x, y in stroke] for stroke in self.strokes],
        }

    @classmethod
    def from_dict(cls, data: Any, source: str = "drawing") -> Drawing:
        """Validate a decoded JSON object; ``source`` names it in error messages."""
        return _parse(data, source)


def pen_width(canvas_width: float, canvas_height: float) -> float:
    """The canvas pen's width in canvas pixels (20 px on a 280 x 280 canvas).

    Proportional to the shorter side so that a drawing looks the same on a resized canvas.
    """
    return PEN_FRACTION * min(float(canvas_width), float(canvas_height))


def load_drawing(path: Path | str) -> Drawing:
    """Read and validate a strokes file; any problem raises ``StrokesError`` naming the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise StrokesError(f"{path}: no such file") from exc
    except UnicodeDecodeError as exc:
        raise StrokesError(f"{path}: not a strokes file (not UTF-8 text)") from exc
    except OSError as exc:
        raise StrokesError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise StrokesError(f"{path}: not a strokes file (invalid JSON: {exc})") from exc
    return _parse(data, str(path))


def save_drawing(path: Path | str, drawing: Drawing) -> None:
    """Write a drawing atomically (a crash mid-write leaves the old file intact)."""
    path = Path(path)
    # Validate first: never write a file that load_drawing would refuse.
    _parse(drawing.to_dict(), str(path))
    atomic_write_text(path, json.dumps(drawing.to_dict(), separators=(",", ":")) + "\n")


# --------------------------------------------------------------------------- validation


def _number(value: Any, source: str, what: str) -> float:
    # bool is an int subclass in Python, but `true` is not a coordinate.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise StrokesError(f"{source}: {what} is not a number ({value!r:.40})")
    number = float(value)
    if not math.isfinite(number):
        raise StrokesError(f"{source}: {what} is not finite ({value!r})")
    return number


def _parse(data: Any, source: str) -> Drawing:
    if not isinstance(data, dict):
        raise StrokesError(f"{source}: not a strokes file (expected a JSON object)")
    missing = [key for key in ("width", "height", "strokes") if key not in data]
    if missing:
        raise StrokesError(f"{source}: missing key(s) {', '.join(missing)}")
    width = _number(data["width"], source, "width")
    height = _number(data["height"], source, "height")
    for name, size in (("width", width), ("height", height)):
        if size <= 0:
            raise StrokesError(f"{source}: {name} must be positive (got {size:g})")
        if size > MAX_CANVAS_SIZE:
            raise StrokesError(
                f"{source}: {name} {size:g} is absurd (at most {MAX_CANVAS_SIZE:g} px)"
            )
    raw_strokes = data["strokes"]
    if not isinstance(raw_strokes, list):
        raise StrokesError(f"{source}: strokes must be a list of strokes")
    strokes: list[list[Point]] = []
    total = 0
    for i, raw_stroke in enumerate(raw_strokes):
        if not isinstance(raw_stroke, list):
            raise StrokesError(f"{source}: stroke {i} must be a list of [x, y] points")
        total += len(raw_stroke)
        if total > MAX_POINTS:
            raise StrokesError(f"{source}: more than {MAX_POINTS} points")
        stroke: list[Point] = []
        for j, point in enumerate(raw_stroke):
            where = f"stroke {i} point {j}"
            if not isinstance(point, (list, tuple)) or len(point) != 2:
                raise StrokesError(f"{source}: {where} must be [x, y] ({point!r:.40})")
            x = _number(point[0], source, f"{where} x")
            y = _number(point[1], source, f"{where} y")
            if abs(x) > MAX_COORDINATE or abs(y) > MAX_COORDINATE:
                raise StrokesError(f"{source}: {where} ({x:g}, {y:g}) is absurdly far away")
            stroke.append((x, y))
        strokes.append(stroke)
    return Drawing(width, height, strokes)

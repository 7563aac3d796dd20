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

from drawdigit.store import atomic_write_text, open_regular_file, read_capped

# Limits that separate a real drawing from a damaged or hostile file. A canvas larger than
# this, coordinates this far away or this many points are not something a person drew: the
# pen-drawn digits, numbers and non-digits of unipen-dev have at most 645 points and 9
# strokes; a minute of drawing at 240 events a second is 14,400 points. The point limit also
# bounds what reading costs (~200 bytes a point while the JSON is decoded, so ~20 MB here).
MAX_CANVAS_SIZE = 100_000.0
MAX_COORDINATE = 1_000_000.0
MAX_POINTS = 100_000
MAX_STROKES = 10_000
# The largest file read: 100,000 points even pretty-printed ("[\n  -123456.789,\n ...") stay
# under this; beyond it (or /dev/zero behind a link) nothing is read at all.
MAX_FILE_BYTES = 16_000_000

# The canvas pen, as a fraction of the canvas's shorter side: 20 px on the 280 px canvas.
# Measured on unipen-dev (benchmarks/bench_unipen.py --variants): rendered with the canvas
# pen, 18, 20 and 24 px score within 0.1% of each other, 14 and 28 px lower. It is what the
# canvas shows and what a picture of a drawing carries; the strokes themselves are drawn
# for the network with a normalised pen (see preprocess.StrokeStyle).
PEN_FRACTION = 20.0 / 280.0

Point = tuple[float, float]


# What is said of JSON that holds something else: another program's file, a list, a string.
NOT_A_DRAWING = (
    "JSON, but not a drawing (a strokes file is an object with width, height and strokes)"
)


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
    """Read and validate a strokes file; any problem raises ``StrokesError`` naming the file.

    The bytes read are capped and only regular files are read (a FIFO would block, a link
    to ``/dev/zero`` never end); the JSON's nesting and numbers cannot raise anything else.
    """
    path = Path(path)
    return drawing_from_bytes(read_small_file(path, MAX_FILE_BYTES), str(path))


def drawing_from_bytes(data: bytes, source: str) -> Drawing:
    """A strokes file's bytes decoded and validated; ``source`` names it in messages."""
    return _parse(parse_json(data, source), source, consume=True)


# Every point and every stroke is a JSON list: more than this many "[" cannot be a valid
# drawing, and counting them is far cheaper than building the lists.
_MAX_LISTS = MAX_POINTS + MAX_STROKES + 2


def read_small_file(path: Path, max_bytes: int) -> bytes:
    """A regular file's bytes, at most ``max_bytes``; anything else raises ``StrokesError``.

    Opened without blocking and checked on the open file (no race with a rename): a FIFO, a
    device or a folder is refused with a clear message rather than hanging or never ending.
    """
    file, size = open_regular_file(path, StrokesError)
    with file:
        return read_capped(file, size, max_bytes, path, StrokesError)


def parse_json(data: bytes, source: str) -> Any:
    """Decode UTF-8 JSON holding at most one drawing; any problem, deep nesting and huge
    numbers included, raises ``StrokesError`` naming ``source`` (``json`` itself raises
    RecursionError for those). More lists than a drawing of ``MAX_POINTS`` points has are
    refused before decoding, which would cost ~200 bytes a list."""
    if data.count(b"[") > _MAX_LISTS:
        raise StrokesError(f"{source}: too many points or strokes (at most {MAX_POINTS} points)")
    try:
        text = data.decode("utf-8-sig")  # Notepad saves UTF-8 with a byte-order mark
    except UnicodeDecodeError as exc:
        raise StrokesError(f"{source}: not a strokes file (not UTF-8 text)") from exc
    try:
        return json.loads(text)
    except RecursionError as exc:
        raise StrokesError(f"{source}: not a strokes file (JSON nested too deeply)") from exc
    except ValueError as exc:
        invalid = exc
    # Python refuses integers of more than 4,300 digits. Read again with those as a number
    # too large for a float: the checks then say what they say of any huge number.
    try:
        return json.loads(text, parse_int=_whole_number)
    except (ValueError, RecursionError):
        raise StrokesError(f"{source}: not a strokes file (invalid JSON: {invalid})") from invalid


_HUGE = 10**400  # beyond any float: "absurdly large" wherever a number is checked


def _whole_number(digits: str) -> int:
    """A JSON integer, or ``_HUGE`` (with its sign) when it has too many digits to read."""
    if len(digits) <= 400:
        return int(digits)
    return -_HUGE if digits.startswith("-") else _HUGE


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
    try:
        number = float(value)
    except OverflowError:  # an integer beyond float's range
        raise StrokesError(f"{source}: {what} is absurdly large") from None
    if not math.isfinite(number):
        raise StrokesError(f"{source}: {what} is not finite ({value!r})")
    return number


def _point(point: Any, source: str, where: str) -> Point:
    """One point checked in full, with a message that says what is wrong with it."""
    if not isinstance(point, (list, tuple)) or len(point) != 2:
        raise StrokesError(f"{source}: {where} must be [x, y] ({point!r:.40})")
    x = _number(point[0], source, f"{where} x")
    y = _number(point[1], source, f"{where} y")
    if abs(x) > MAX_COORDINATE or abs(y) > MAX_COORDINATE:
        raise StrokesError(f"{source}: {where} ({x:g}, {y:g}) is absurdly far away")
    return (x, y)


def _parse(data: Any, source: str, consume: bool = False) -> Drawing:
    """``consume``: ``data`` is ours (just decoded), so each stroke's lists are dropped once
    read; a file then holds its points twice only for one stroke at a time."""
    if not isinstance(data, dict):
        raise StrokesError(f"{source}: {NOT_A_DRAWING}")
    missing = [key for key in ("width", "height", "strokes") if key not in data]
    if len(missing) == 3:
        raise StrokesError(f"{source}: {NOT_A_DRAWING}")
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
    if len(raw_strokes) > MAX_STROKES:
        raise StrokesError(f"{source}: more than {MAX_STROKES} strokes")
    strokes: list[list[Point]] = []
    total = 0
    for i, raw_stroke in enumerate(raw_strokes):
        if not isinstance(raw_stroke, list):
            raise StrokesError(f"{source}: stroke {i} must be a list of [x, y] points")
        total += len(raw_stroke)
        if total > MAX_POINTS:
            raise StrokesError(f"{source}: more than {MAX_POINTS} points")
        stroke = _plain_points(raw_stroke)
        if stroke is None:  # integers, or something wrong: each point, with the exact message
            stroke = [
                _point(point, source, f"stroke {i} point {j}") for j, point in enumerate(raw_stroke)
            ]
        strokes.append(stroke)
        if consume:
            raw_strokes[i] = None
    return Drawing(width, height, strokes)


def _plain_points(raw_stroke: list) -> list[Point] | None:
    """The points of a stroke of ``[float, float]`` points within range (what every file
    the app writes holds), or None at the first point that is anything else.

    The loop does nothing else (no index, no per-point error text), with the limits in
    locals: it was a third of ``drawdigit predict``'s time per file. NaN and the infinities
    fail the range comparisons."""
    low, high = -MAX_COORDINATE, MAX_COORDINATE
    points: list[Point] = []
    append = points.append
    for point in raw_stroke:
        if type(point) is list and len(point) == 2:
            x, y = point
            if type(x) is float and type(y) is float and low <= x <= high and low <= y <= high:
                append((x, y))
                continue
        return None
    return points

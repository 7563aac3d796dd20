"""From a drawing (strokes or an image) to the network's 28x28 input, the way MNIST was made.

MNIST's digits were cropped to their ink, scaled so the longer side is 20 px (aspect ratio
kept, anti-aliased), and placed in a 28x28 field with the centre of mass at the centre. A
network trained on MNIST has only ever seen that, so every drawing is normalised the same
way; resizing the whole canvas instead loses a third or more of the accuracy on real
pen-drawn digits (benchmarks/bench_unipen.py).

``preprocess`` is the ONE function the canvas, the CLI and the tests call, so a drawing on
screen, its saved strokes file and ``drawdigit predict drawing.json`` give the same input.
Pictures (photos, scans, paint-program drawings) go through it too; how they are read and
cleaned (orientation, paper vs ink, light, shadows, stroke weight) is ``drawdigit.pictures``.

Strokes are rendered without Qt, straight at 28x28: each pixel's distance to the nearest
pen segment gives its coverage through a linear ramp (the pen is a disc swept along the
path, so joints and dots come out round). Rendering at the target size avoids a big
intermediate image and keeps one drawing at a few tenths of a millisecond.

The choices, measured on unipen-dev (6,209 pen-drawn digits) with fifteen models
(benchmarks/bench_unipen.py --variants re-runs the comparison on any model):
- thickness: every digit is drawn with the same 2.6 px pen in the 28x28 field, whatever its
  size on the canvas. Scaling the canvas pen with the drawing ("canvas") scores within
  0.15% of it, but turns a small digit drawn with the fat pen into a blob and makes the
  input depend on how big the person drew. Pens of 2.2-3.0 px score within 0.1% of each
  other; 3.4 px loses 0.2-0.8%.
- edge: a 2.5 px ramp rather than a crisp 1 px one: +0.3 to +0.8% with every model trained
  with augmentation (whose bilinear resampling softens MNIST's edges the same way), -0.1%
  for a model trained without.
- centring: sub-pixel and MNIST's whole-pixel shift score within 0.15% of each other;
  sub-pixel keeps the input independent of where on the canvas the digit was drawn. The
  shift is clamped so that no ink leaves the field (a top-heavy 7's tail, an L's top).
- the finished image is squeezed sideways by 0.85 about its centre: 98.17% -> 98.37%
  unflagged, 1s 94.7% -> 96.9% (issue 16; docs/benchmarks.md, "From strokes to the 28x28").
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import BinaryIO

import numpy as np

from drawdigit.field import BOX, CENTRE, SIZE, brightest_at_one, centre_of_mass
from drawdigit.pictures import ImageError, Picture, load_image, normalise_picture, read_picture
from drawdigit.store import open_regular_file, read_capped
from drawdigit.strokes import (
    MAX_FILE_BYTES,
    NOT_A_DRAWING,
    Drawing,
    StrokesError,
    drawing_from_bytes,
    parse_json,
    pen_width,
)

# Sub-pixel centring re-renders when the first placement misses the centre by more than this.
COM_TOLERANCE = 0.25
# The work per drawing is bounded (see render_drawing): a person's digit is a few strokes
# and 50-150 px of path at 28x28 (unipen-dev, -notdigits, -numbers: at most 9 strokes and
# 112 resampled points).
# Within these limits strokes are rendered exactly; beyond them through _cover_points.
MAX_EXACT_STROKES = 1_000
MAX_EXACT_POINTS = 20_000
COVER_CELL = 0.25  # px: the grid a huge drawing's ink is reduced to (<= 0.18 px off)
COVER_SAMPLES = 4_000_000  # path samples per huge drawing before sampling gets sparser
RENDER_CHUNK = 4_096  # segments per step when rendering (~10 MB)


@dataclass(frozen=True)
class StrokeStyle:
    """How strokes are turned into MNIST-like ink. The defaults are the measured best.

    ``thickness``: "canvas" draws with the canvas's pen scaled like the rest of the drawing
    (a small digit drawn with the fat pen becomes thick); "fixed" draws every digit with a
    pen of ``pen28`` pixels in the 28x28 field whatever its size; "clamped" uses the canvas
    pen but keeps it within ``pen28_range``.
    ``centring``: "subpixel" puts the centre of mass exactly at the centre; "integer"
    shifts by whole pixels as MNIST did.
    ``edge``: width in pixels of the anti-aliased ramp at the pen's edge.
    ``keep_inside``: centring never pushes ink out of the field (a top-heavy 7's tail, an
    L's top would be cut); the centre of mass then lies as near the centre as it can.
    ``narrow``: the finished image squeezed sideways about the centre by this factor (1: as
    rendered). On unipen-dev the network reads pen-drawn digits better a little narrower
    than MNIST's box gives (0.85: 98.17% -> 98.37% unflagged, 1s 94.7% -> 96.9%; 0.8 reads
    more but shows too many not-digits as sure digits); see docs/benchmarks.md, "From strokes to the
    28x28".
    """

    thickness: str = "fixed"
    pen28: float = 2.6
    pen28_range: tuple[float, float] = (2.0, 3.2)
    centring: str = "subpixel"
    edge: float = 2.5
    pen_fraction: float | None = None  # canvas pen as a fraction of the shorter side
    step: float = 1.0  # path resolution in output pixels (see _resample)
    keep_inside: bool = True
    narrow: float = 0.85


DEFAULT_STYLE = StrokeStyle()

# --------------------------------------------------------------------------- public API


def preprocess(
    source: Drawing | np.ndarray, style: StrokeStyle = DEFAULT_STYLE
) -> np.ndarray | None:
    """The (28, 28) float32 network input in [0, 1], ink bright; None when there is no ink.

    ``source``: a ``Drawing`` (strokes), or a picture of any size: grayscale (uint8, bool or
    float) or RGB/RGBA, dark ink on light paper or the other way round (see
    ``drawdigit.pictures``). ``style`` only matters for strokes and exists so the benchmarks
    can compare alternatives.
    """
    if isinstance(source, Drawing):
        return render_drawing(source, style)
    return normalise_image(np.asarray(source))


def render_drawing(drawing: Drawing, style: StrokeStyle = DEFAULT_STYLE) -> np.ndarray | None:
    """Strokes -> MNIST-style 28x28: crop to the ink, longer side 20 px, centre of mass.

    The work is bounded whatever the file holds: a drawing a person could make (up to
    ``MAX_EXACT_STROKES`` strokes and ``MAX_EXACT_POINTS`` points once resampled) is
    rendered exactly; anything larger is first reduced to the ink it leaves on a grid
    finer than the output pixels (``_cover_points``), so a million points cost a bounded
    image, not gigabytes of per-segment squares.
    """
    flat, lengths = _as_arrays(drawing)
    if not len(lengths):
        return None
    low, high = flat.min(axis=0), flat.max(axis=0)
    extent = float((high - low).max())
    scale, pen = _scale_and_pen(drawing, extent, style)
    centre = (low + high) / 2.0
    radius = pen / 2.0
    if _fits_exact_budget(flat, lengths, scale, style.step, extent):
        scaled = (flat - centre) * scale + CENTRE
        placed = [_resample(s, style.step) for s in _split(scaled, lengths)]
        starts, ends = _segments(placed)
        path_centre = _path_centre_of_mass(placed, radius)
        points = placed[0] if len(placed) == 1 else np.concatenate(placed)  # the segments' ends
    else:
        starts = ends = points = _cover_points(
            (flat - centre) * scale + CENTRE, lengths, radius, style
        )
        path_centre = starts.mean(axis=0)  # equal dots on a grid: their mean is the ink's
    reach = radius + style.edge / 2.0  # how far beyond the path a pixel gets any ink
    low, high = points.min(axis=0), points.max(axis=0)
    if style.centring == "integer":
        # MNIST's own way: render with the box centred, then shift by whole pixels.
        image = _render_segments(starts, ends, radius, style.edge)
        mass = float(image.sum())
        if mass <= 1e-6:
            return None
        cy, cx = centre_of_mass(image, mass)
        shift = np.array([round(CENTRE - cx), round(CENTRE - cy)], dtype=np.float64)
        if style.keep_inside:  # moved inward by whole pixels, far enough
            moved = _inside(shift, low, high, reach)
            shift = np.where(
                moved > shift, np.ceil(moved), np.where(moved < shift, np.floor(moved), shift)
            )
        image = _shift_integer(image, int(shift[1]), int(shift[0]))
        return brightest_at_one(_narrowed(image, style.narrow))
    # Sub-pixel: place the path's own centre of mass at the centre, render once, and
    # re-render with a correction only when overlaps made the estimate miss (shifting by
    # re-rendering keeps the edges sharp; resampling the image would blur them).
    shift = CENTRE - path_centre
    if style.keep_inside:
        shift = _inside(shift, low, high, reach)
    image = _render_segments(starts + shift, ends + shift, radius, style.edge)
    mass = float(image.sum())
    if mass <= 1e-6:
        return None
    cy, cx = centre_of_mass(image, mass)
    if max(abs(cx - CENTRE), abs(cy - CENTRE)) > COM_TOLERANCE:
        corrected = shift - np.array([cx - CENTRE, cy - CENTRE])
        if style.keep_inside:
            corrected = _inside(corrected, low, high, reach)
        if np.abs(corrected - shift).max() > 1e-9:
            image = _render_segments(starts + corrected, ends + corrected, radius, style.edge)
    return brightest_at_one(_narrowed(image, style.narrow))


def _narrowed(image: np.ndarray, factor: float) -> np.ndarray:
    """``image`` squeezed sideways by ``factor`` about the centre column (linear
    interpolation along the rows): the columns' centre of mass stays at ``CENTRE`` and ink
    inside the field stays inside. Vertical strokes get thinner with the digit, as if the
    pen were a slightly narrow ellipse; a 1's flag and a 9's tail get shorter."""
    if factor == 1.0:
        return image
    return image @ _narrowing_matrix(float(factor))


@functools.lru_cache(maxsize=8)
def _narrowing_matrix(factor: float) -> np.ndarray:
    """The (SIZE, SIZE) matrix M with ``image @ M`` = the narrowed image: column j of the
    output is read at source column (j - CENTRE) / factor + CENTRE, linearly between the two
    nearest columns (none outside the field). One small product per drawing."""
    matrix = np.zeros((SIZE, SIZE), dtype=np.float32)
    for j in range(SIZE):
        source = (j - CENTRE) / factor + CENTRE
        left = int(np.floor(source))
        weight = source - left
        for column, share in ((left, 1.0 - weight), (left + 1, weight)):
            if 0 <= column < SIZE:
                matrix[column, j] += share
    matrix.setflags(write=False)
    return matrix


def _inside(shift: np.ndarray, low: np.ndarray, high: np.ndarray, reach: float) -> np.ndarray:
    """``shift`` (x, y) moved the least so that no ink falls outside the field.

    The centre of mass of a top-heavy digit (a 7's bar, an L's corner) lies far from its
    box's centre, so placing it at the centre can push the tail past the edge, and the
    network would see a cut stroke. Ink reaches ``reach`` px beyond the path; a pixel
    centre at -1 or ``SIZE`` (just outside) must get none. The box is at most BOX + edge
    px, so within the 28 px field there is always room; if not, it stays centred.
    """
    # (per axis in Python floats: numpy's overhead on two numbers was most of the work)
    inside = []
    for wanted, lowest, highest in zip(shift.tolist(), low.tolist(), high.tolist(), strict=True):
        least = -1.0 + reach - lowest  # the smallest shift that keeps the left/top ink inside
        most = float(SIZE) - reach - highest
        inside.append(min(max(wanted, least), most) if least <= most else (least + most) / 2.0)
    return np.array(inside)


def _scale_and_pen(drawing: Drawing, extent: float, style: StrokeStyle) -> tuple[float, float]:
    """(drawing units -> 28x28 px, the pen in 28x28 px) for a drawing whose path spans
    ``extent`` units along its longer side. Scale 0: a dot, drawn at the centre."""
    fraction = style.pen_fraction
    canvas_pen = (
        pen_width(drawing.width, drawing.height)
        if fraction is None
        else fraction * min(drawing.width, drawing.height)
    )
    # Scale so that the ink's longer side (path extent plus the pen) becomes BOX pixels.
    canvas_scale = BOX / (extent + canvas_pen)
    if style.thickness == "canvas":
        return canvas_scale, canvas_pen * canvas_scale
    pen = style.pen28
    if style.thickness == "clamped":
        pen = float(np.clip(canvas_pen * canvas_scale, *style.pen28_range))
    if extent <= 0:
        return 0.0, pen
    # A dot or a tiny scribble must not be blown up to a 20 px smear of zero extent.
    return min((BOX - pen) / extent, canvas_scale * 4.0), pen


def network_pen(drawing: Drawing, style: StrokeStyle = DEFAULT_STYLE) -> float | None:
    """The width, in the drawing's own units, of the pen the network sees this drawing
    drawn with (None: no ink). Every digit reaches the network with the same pen relative
    to its size, so a small digit gets a thin pen and a big one a thick pen; the canvas
    draws with this width so that what a person sees is what the network gets. A single
    dot is taken as if at the scale cap of a tiny scribble (its pen has no size to follow).
    """
    flat, lengths = _as_arrays(drawing)
    if not len(lengths):
        return None
    extent = float((flat.max(axis=0) - flat.min(axis=0)).max())
    scale, pen = _scale_and_pen(drawing, extent, style)
    if scale <= 0:
        scale = _scale_and_pen(drawing, 1e-9, style)[0]
    return pen / scale


def normalise_image(image: np.ndarray) -> np.ndarray | None:
    """A picture of a digit -> MNIST-style 28x28, or None when it shows no ink.

    The picture side (orientation, paper vs ink, light, shadows, stroke weight) lives in
    ``drawdigit.pictures``; this name stays for the callers that predate it."""
    return normalise_picture(image)


def load_source(path: Path | str) -> Drawing | np.ndarray:
    """A file as the ink it holds: a ``Drawing`` for a strokes file, else a grayscale image
    (``read_source``, with a picture's gray: what ``preprocess`` reads)."""
    source = read_source(path)
    return source.gray if isinstance(source, Picture) else source


def read_source(path: Path | str, check: Callable[[], None] | None = None) -> Drawing | Picture:
    """A file as a ``Drawing`` for a strokes file, else a ``Picture`` (upright, its colour for
    the window and its gray for ``preprocess``, from one decoding). ``check`` is called
    between the strips of a large picture (``read_picture``): it may raise to stop.

    Decided by CONTENT, not by the name: a strokes file is JSON text, i.e. an object
    (optionally after a byte-order mark and white space), so ``four.txt`` with strokes in
    it is a drawing and a PNG named ``.json`` is a picture. Raises ``StrokesError`` or
    ``ImageError`` naming the file when it cannot be used.
    """
    path = Path(path)
    file, size = open_regular_file(path, ImageError)
    with file:  # opened once: a strokes file is read on from its first bytes
        try:
            head = file.read(64)
        except OSError as exc:
            raise ImageError(f"{path}: cannot read ({exc.strerror or exc})") from exc
        if _looks_like_json(head):
            data = read_capped(file, size, MAX_FILE_BYTES, path, StrokesError)
            return drawing_from_bytes(data, str(path))
        try:
            return read_picture(path, check)
        except ImageError as exc:
            if not _json_text(file, size, head, path):
                raise
            raise StrokesError(f"{path}: {NOT_A_DRAWING}") from exc


def _looks_like_json(head: bytes) -> bool:
    """A JSON object's first bytes: ``{`` after an optional UTF-8 BOM and white space."""
    return _json_start(head).startswith(b"{")


def _json_start(head: bytes) -> bytes:
    return head.removeprefix(b"\xef\xbb\xbf").lstrip()


def _json_text(file: BinaryIO, size: int, head: bytes, path: Path) -> bool:
    """Whether a file no picture reader could read is JSON (a list, a string, a number...):
    then it is said to be JSON but not a drawing, not "not an image"."""
    first = _json_start(head)[:1]
    if not first or first not in b'["-0123456789tfn':
        return False
    try:
        parse_json(read_capped(file, size, MAX_FILE_BYTES, path, StrokesError), str(path))
    except StrokesError:
        return False
    return True


def load_input(path: Path | str) -> np.ndarray | None:
    """A strokes file or an image file -> the 28x28 input (None: no ink).

    Which one it is, is decided by content (``load_source``). Raises ``StrokesError`` or
    ``ImageError`` naming the file when it cannot be used.
    """
    return preprocess(load_source(path))


__all__ = [
    "DEFAULT_STYLE",
    "ImageError",
    "StrokeStyle",
    "StrokesError",
    "load_image",
    "load_input",
    "load_source",
    "network_pen",
    "normalise_image",
    "preprocess",
    "read_picture",
    "read_source",
    "rasterise",
    "render_drawing",
]


# --------------------------------------------------------------------------- strokes


def _as_arrays(drawing: Drawing) -> tuple[np.ndarray, np.ndarray]:
    """All points as one (P, 2) array and the length of each non-empty stroke (one fast pass,
    no per-stroke arrays: a file of a million one-point strokes must not cost a million)."""
    lengths = np.fromiter((len(s) for s in drawing.strokes if s), np.int64)
    values = chain.from_iterable(chain.from_iterable(drawing.strokes))
    flat = np.fromiter(values, np.float64, 2 * int(lengths.sum())).reshape(-1, 2)
    return flat, lengths


def _split(flat: np.ndarray, lengths: np.ndarray) -> list[np.ndarray]:
    """A view of ``flat`` per stroke (only for drawings within the exact budget)."""
    if len(lengths) == 1:
        return [flat]
    ends = np.cumsum(lengths).tolist()
    return [flat[begin:end] for begin, end in zip([0, *ends], ends, strict=False)]


def _fits_exact_budget(
    flat: np.ndarray, lengths: np.ndarray, scale: float, step: float, extent: float | None = None
) -> bool:
    """Whether the exact renderer's work (one segment per ``step`` of scaled path, one
    array per stroke) stays within what a drawing a person made needs, by a wide margin.

    ``extent``: the longer side of the points' box, when the caller has it. No segment is
    longer than its diagonal, so a drawing with few points is inside the budget without
    measuring its path (every drawing a person makes; measuring was ~5% of a drawing)."""
    if len(lengths) > MAX_EXACT_STROKES:
        return False
    if extent is not None:
        longest = 1.5 * extent * scale / step  # > sqrt(2) x the box's longer side, scaled
        if (len(flat) - 1) * longest + 2 * len(lengths) <= MAX_EXACT_POINTS:
            return True
    seg = flat[1:] - flat[:-1]
    seg_lengths = np.sqrt((seg * seg).sum(axis=1))
    seg_lengths[np.cumsum(lengths)[:-1] - 1] = 0.0  # from one stroke's end to the next's start
    resampled = float(seg_lengths.sum()) * scale / step + 2 * len(lengths)
    return resampled <= MAX_EXACT_POINTS


def _cover_points(
    placed: np.ndarray, lengths: np.ndarray, radius: float, style: StrokeStyle
) -> np.ndarray:
    """The ink of a huge drawing as dots: the centres of the cells of a ``COVER_CELL`` px
    grid that its path passes through (points already placed in the 28 x 28 field).

    The pen is a disc swept along the path, so a dot at every such cell leaves the same ink
    to within a fraction of a pixel however many points or strokes the file had: the grid
    bounds the dots to a few thousand. Memory is a few arrays the size of the input. The
    path is sampled every ``COVER_CELL`` px, or sparser (at most 1 px, still within the
    2.6 px pen) when that would exceed ``COVER_SAMPLES``, with each segment's samples
    offset differently so that many overlapping segments leave no common gaps.
    """
    side = int(np.ceil(SIZE / COVER_CELL)) + 1
    occupied = np.zeros(side * side, dtype=bool)
    grid = placed / COVER_CELL  # in cells

    def mark(x: np.ndarray, y: np.ndarray) -> None:
        # Scaled drawings lie within the field by construction; clipping only guards that.
        cx = np.clip(np.rint(x), 0, side - 1).astype(np.intp)
        cy = np.clip(np.rint(y), 0, side - 1).astype(np.intp)
        cy *= side
        cy += cx
        occupied[cy] = True

    mark(grid[:, 0], grid[:, 1])  # every point: single-point strokes and segment ends
    # Segments within strokes (not from one stroke's end to the next one's start), longest
    # first, so that step j along them touches a prefix: no index arrays per sample.
    within = np.ones(max(len(grid) - 1, 0), dtype=bool)
    within[np.cumsum(lengths)[:-1] - 1] = False
    ax, ay = grid[:-1, 0][within], grid[:-1, 1][within]
    dx, dy = grid[1:, 0][within] - ax, grid[1:, 1][within] - ay
    seg_lengths = np.hypot(dx, dy)
    step = min(max(1.0, float(seg_lengths.sum()) / COVER_SAMPLES), 1.0 / COVER_CELL)
    counts = np.ceil(seg_lengths / step).astype(np.int64)
    order = np.argsort(-counts, kind="stable")
    ax, ay, dx, dy, counts = ax[order], ay[order], dx[order], dy[order], counts[order]
    inverse = 1.0 / np.maximum(counts, 1)
    # t = (j - phase) / count: the golden-ratio phase when sampling sparser than a cell.
    phase = ((order * 0.6180339887) % 1.0) * inverse if step > 1.0 else np.zeros(len(order))
    for j in range(1, int(counts[0]) + 1 if len(counts) else 0):
        m = int(np.searchsorted(-counts, -j, side="right"))  # segments with j steps or more
        t = inverse[:m] * j
        t -= phase[:m]
        mark(ax[:m] + t * dx[:m], ay[:m] + t * dy[:m])
    rows, cols = np.divmod(np.flatnonzero(occupied), side)
    return np.column_stack([cols, rows]).astype(np.float64) * COVER_CELL


def _resample(stroke: np.ndarray, step: float) -> np.ndarray:
    """The pen's path as points evenly spaced at most ``step`` px apart (output pixels).

    Canvas points are ~3 px apart, i.e. ~0.25 px once scaled, while a fast mouse may leave
    gaps of many pixels; even spacing bounds the work per segment (see ``_render``) and the
    number of segments. The chord error of a 1 px step on a curve of radius 2 px is 0.06 px.
    """
    if len(stroke) < 2:
        return stroke
    # (plain arithmetic: np.diff/linspace/column_stack cost more than the work here)
    seg = stroke[1:] - stroke[:-1]
    seg *= seg
    length = np.zeros(len(stroke))
    steps = length[1:]
    np.add(seg[:, 0], seg[:, 1], out=steps)
    np.cumsum(np.sqrt(steps, out=steps), out=steps)
    total = float(length[-1])
    if total <= 0.0:
        return stroke[:1]  # a dot drawn as several identical points
    n = int(total / step) + 1
    where = np.arange(n + 1) * (total / n)
    out = np.empty((n + 1, 2))
    out[:, 0] = np.interp(where, length, stroke[:, 0])
    out[:, 1] = np.interp(where, length, stroke[:, 1])
    return out


def rasterise(
    strokes: list[np.ndarray], pen: float, size: int = SIZE, edge: float = 1.0
) -> np.ndarray:
    """Draw strokes (point arrays in output pixels, pixel centres at integer coordinates)
    with a round pen ``pen`` px wide into a (size, size) float32 image, ink = 1.

    Coverage is a linear ramp of width ``edge`` across the pen's edge: a cheap, close
    approximation of the exact area coverage.
    """
    arrays = [np.asarray(s, dtype=np.float64).reshape(-1, 2) for s in strokes if len(s)]
    arrays = [_resample(s, 1.0) for s in arrays]
    if not arrays:
        return np.zeros((size, size), dtype=np.float32)
    starts, ends = _segments(arrays)
    return _render_segments(starts, ends, pen / 2.0, edge, size)


def _path_centre_of_mass(strokes: list[np.ndarray], radius: float) -> np.ndarray:
    """(x, y) centre of mass of the ink a round pen leaves along the path, from geometry alone.

    Segments weigh their length times the pen width, stroke ends a half disc each (a dot a
    whole one); only where strokes overlap does this differ from the rendered image.
    """
    total = np.zeros(2)
    weight = 0.0
    cap = np.pi * radius * radius / 2.0
    for s in strokes:
        if len(s) > 1:
            seg = s[1:] - s[:-1]
            lengths = np.sqrt((seg * seg).sum(axis=1)) * (2.0 * radius)
            total += lengths @ ((s[1:] + s[:-1]) / 2.0)
            weight += float(lengths.sum())
        total += cap * (s[0] + s[-1])
        weight += 2.0 * cap
    return total / weight


def _segments(strokes: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Evenly spaced strokes -> the (S, 2) start and end points of their segments; a stroke
    of one point is a dot, a segment of length zero. (Views of a single stroke.)"""
    if len(strokes) == 1:
        only = strokes[0]
        return (only, only) if len(only) == 1 else (only[:-1], only[1:])
    starts, ends = [], []
    for s in strokes:
        if len(s) == 1:
            starts.append(s)
            ends.append(s)
        else:
            starts.append(s[:-1])
            ends.append(s[1:])
    return np.concatenate(starts), np.concatenate(ends)


def _render_segments(
    starts: np.ndarray, ends: np.ndarray, radius: float, edge: float, size: int = SIZE
) -> np.ndarray:
    """Coverage of each pixel by a round pen of ``radius`` swept along short segments.

    Each segment only reaches the pixels of a small square around it, so the distance to
    it is computed on that square (segments x ~49 pixels rather than segments x all
    pixels) and each pixel keeps the smallest: the coverage of the nearest segment. The
    coverage (a clipped linear ramp of the distance) falls as the distance grows, so the
    ramp is applied once per pixel to the nearest squared distance, and gives exactly what
    the largest coverage over the segments would. Segments go through in chunks of
    ``RENDER_CHUNK`` so memory stays bounded; the minimum does not depend on the order,
    so the image is the same as in one go.
    """
    side = size + 2
    nearest = np.full(side * side, np.inf, dtype=np.float32)  # squared distance, framed
    for begin in range(0, len(starts), RENDER_CHUNK):
        _nearest_in_chunk(
            nearest,
            starts[begin : begin + RENDER_CHUNK],
            ends[begin : begin + RENDER_CHUNK],
            radius + edge / 2.0,
            size,
        )
    coverage = np.sqrt(nearest, out=nearest)
    coverage *= np.float32(-1.0 / edge)
    coverage += np.float32((radius + edge / 2.0) / edge)
    np.minimum(np.maximum(coverage, 0.0, out=coverage), 1.0, out=coverage)
    return np.ascontiguousarray(coverage.reshape(side, side)[1:-1, 1:-1])


def _nearest_in_chunk(
    nearest: np.ndarray, starts: np.ndarray, ends: np.ndarray, reach: float, size: int
) -> None:
    """Lower ``nearest`` (the image with a one-pixel frame that catches everything outside
    the field, as squared distances) to each pixel's squared distance from these segments,
    for the pixels within ``reach`` of one (beyond it the coverage is zero).

    A drawing is a few dozen segments, so numpy's cost per call outweighs the arithmetic:
    x and y go through each step together as one (S, 2, k) array where they can."""
    a = starts.astype(np.float32)
    b = ends.astype(np.float32)
    d = b - a
    # Pixels strictly within ``reach`` of a segment span fewer than its extent plus two
    # reaches; the thousandth keeps a pixel at exactly that distance out of rounding's way.
    k = int(np.ceil(float(np.abs(d).max()) + 2.0 * reach + 1e-3))
    origin = np.floor(np.minimum(a, b) - reach).astype(np.int32)
    origin += 1
    # (S, 2, k): each segment's square's pixel columns (axis 1 = 0) and rows (= 1)
    pixels = origin[:, :, None] + np.arange(k, dtype=np.int32)
    to_pixel = pixels.astype(np.float32)
    to_pixel -= a[:, :, None]
    along = to_pixel * d[:, :, None]
    squared = d * d
    length2 = squared[:, 0] + squared[:, 1]
    length2 += np.float32(1e-12)
    # (S, k, k), rows x columns: t = (ap . d) / |d|^2 clamped to the segment
    t = along[:, 1, :, None] + along[:, 0, None, :]
    t /= length2[:, None, None]
    np.minimum(np.maximum(t, 0.0, out=t), 1.0, out=t)
    ex = t * d[:, 0, None, None]
    np.subtract(to_pixel[:, 0, None, :], ex, out=ex)
    ey = t * d[:, 1, None, None]
    np.subtract(to_pixel[:, 1, :, None], ey, out=ey)
    ex *= ex
    ey *= ey
    ex += ey
    np.minimum(np.maximum(pixels, -1, out=pixels), size, out=pixels)
    pixels += 1
    flat = pixels[:, 1, :, None] * (size + 2)
    flat = flat + pixels[:, 0, None, :]
    np.minimum.at(nearest, flat.ravel(), ex.ravel())


def _shift_integer(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    out = np.zeros_like(image)
    h, w = image.shape
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    out[yd, xd] = image[ys, xs]
    return out

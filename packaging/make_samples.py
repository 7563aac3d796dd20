"""Write the ten bundled sample drawings ``resources/samples/digit-<d>.json``.

The samples are drawn here from hand-designed pen paths (arcs, lines and loops in canvas
pixels) rather than copied from any data set, so the repository owns them outright. They are
shaped like quick handwriting: slanted a little, not centred exactly, and sampled the way the
canvas samples a moving pen (points at most 2.5 px apart). The self-test and the samples view
use them, so a change here must keep every one recognised as its label by the bundled model.

Run: ``python packaging/make_samples.py`` (rewrites the ten files).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from drawdigit.strokes import Drawing, save_drawing  # noqa: E402

CANVAS = 280.0
STEP = 2.5  # px between consecutive points, as a pen moving at a steady pace gives
Point = tuple[float, float]


def arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float) -> list[Point]:
    """An elliptical arc from angle ``start`` to ``end`` in degrees (0 = right, 90 = down)."""
    n = 400
    return [
        (
            cx + rx * math.cos(math.radians(start + (end - start) * i / n)),
            cy + ry * math.sin(math.radians(start + (end - start) * i / n)),
        )
        for i in range(n + 1)
    ]


def line(a: Point, b: Point) -> list[Point]:
    return [(a[0] + (b[0] - a[0]) * i / 100, a[1] + (b[1] - a[1]) * i / 100) for i in range(101)]


def bezier(p0: Point, p1: Point, p2: Point, p3: Point) -> list[Point]:
    """A cubic Bezier: the smooth curves a hand makes between two directions."""
    points = []
    for i in range(201):
        t = i / 200
        u = 1 - t
        points.append(
            (
                u**3 * p0[0] + 3 * u * u * t * p1[0] + 3 * u * t * t * p2[0] + t**3 * p3[0],
                u**3 * p0[1] + 3 * u * u * t * p1[1] + 3 * u * t * t * p2[1] + t**3 * p3[1],
            )
        )
    return points


def join(*parts: list[Point]) -> list[Point]:
    out: list[Point] = []
    for part in parts:
        out.extend(part if not out else part[1:])
    return out


def resample(points: list[Point], step: float = STEP) -> list[Point]:
    """Points along the path, ``step`` px apart (the last point kept), like pointer events."""
    out = [points[0]]
    carry = 0.0
    for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
        seg = math.hypot(x1 - x0, y1 - y0)
        pos = step - carry
        while pos <= seg:
            t = pos / seg
            out.append((x0 + (x1 - x0) * t, y0 + (y1 - y0) * t))
            pos += step
        carry = (carry + seg) % step if seg else carry
    if math.hypot(out[-1][0] - points[-1][0], out[-1][1] - points[-1][1]) > 0.5:
        out.append(points[-1])
    return out


def hand(stroke: list[Point], slant: float, dx: float, dy: float, wobble: float) -> list[Point]:
    """Slant (x shifts right as y goes up), move, and add a slow tremor of ``wobble`` px."""
    out = []
    for i, (x, y) in enumerate(stroke):
        tremor = wobble * math.sin(i / 37.0) + 0.5 * wobble * math.sin(i / 11.0 + 1.3)
        out.append((x + slant * (CANVAS / 2 - y) + dx + tremor, y + dy + 0.6 * tremor))
    return out


def gerono_eight(cx: float, cy: float, half_width: float, top: float, bottom: float):
    """An 8 drawn in one stroke: a vertical lemniscate, its lower lobe larger than the top."""
    points = []
    for i in range(801):
        t = 2 * math.pi * i / 800 - math.pi / 2
        s = math.sin(t)
        y = cy + (bottom if s > 0 else top) * s
        x = cx - half_width * 2 * s * math.cos(t) * (1.15 if s > 0 else 0.9)
        points.append((x, y))
    return points


def designs() -> dict[int, list[list[Point]]]:
    """Each digit as strokes before slant and tremor, on a 280 x 280 canvas."""
    return {
        0: [arc(140, 140, 52, 84, -95, -95 - 375)],
        1: [
            join(line((128, 74), (150, 52)), bezier((150, 52), (147, 110), (143, 170), (140, 226)))
        ],
        2: [
            join(
                arc(140, 100, 48, 46, 200, 370),
                bezier((187, 108), (175, 150), (130, 185), (90, 222)),
                line((90, 222), (196, 218)),
            )
        ],
        3: [
            join(
                arc(136, 92, 44, 38, 210, 450),
                arc(136, 176, 52, 48, -90, 140),
            )
        ],
        4: [
            join(line((124, 50), (82, 162)), line((82, 162), (196, 160))),
            line((168, 76), (164, 230)),
        ],
        5: [
            join(
                line((112, 56), (104, 126)),
                bezier((104, 126), (150, 100), (198, 125), (190, 168)),
                bezier((190, 168), (184, 215), (130, 230), (92, 208)),
            ),
            line((112, 56), (186, 52)),
        ],
        6: [
            join(
                bezier((176, 54), (130, 60), (94, 120), (96, 180)),
                arc(138, 182, 42, 40, 180, 180 + 345),
            )
        ],
        7: [join(line((86, 62), (192, 58)), bezier((192, 58), (165, 110), (140, 170), (126, 228)))],
        8: [gerono_eight(140, 132, 44, 80, 92)],
        9: [
            join(
                arc(138, 96, 42, 40, 0, -360),
                bezier((180, 96), (178, 150), (172, 190), (166, 228)),
            )
        ],
    }


# Per digit: slant, offset and tremor, so the ten samples do not all look machine-made alike.
STYLE = {
    0: (0.10, -6, 4, 1.0),
    1: (0.12, 8, 0, 0.8),
    2: (0.06, -4, 6, 1.0),
    3: (0.08, 6, -4, 1.2),
    4: (0.05, -2, 2, 0.8),
    5: (0.10, 4, 4, 1.0),
    6: (0.12, -8, 0, 1.0),
    7: (0.06, 4, -2, 0.8),
    8: (0.08, 2, 4, 1.1),
    9: (0.12, -4, -2, 1.0),
}


def sample(digit: int) -> Drawing:
    slant, dx, dy, wobble = STYLE[digit]
    strokes: Iterable[list[Point]] = designs()[digit]
    out = []
    for stroke in strokes:
        points = resample(hand(stroke, slant, dx, dy, wobble))
        out.append([(round(x, 1), round(y, 1)) for x, y in points])
    return Drawing(CANVAS, CANVAS, out)


def main(out_dir: Path = REPO / "resources" / "samples") -> int:
    for digit in range(10):
        path = out_dir / f"digit-{digit}.json"
        save_drawing(path, sample(digit))
        path.chmod(0o644)  # atomic writes create 0600 files; these ship to every user
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

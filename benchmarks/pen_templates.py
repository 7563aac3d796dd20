"""Made-up pen digits: each digit in the common ways people write it, as strokes.

Training data for ``bench_recipes.py --templates`` (issue 16), never shipped. Every
template is a few strokes in a unit box (y down, height 1) with random proportions. The
styles include those behind the bundled model's unipen-dev errors (chosen by looking at
them): 0s open or slashed, European 1s with flags up to 0.6 of the height and 25-65 degrees
off the stem (and some on a foot), 7s with a level bar of at least half the height (some
crossed, some with a curved stem), 9s with straight, curved or left-hooking tails, 5s whose
top bar is apart from the body, open and closed 4s. Then the whole digit gets a random
slant, rotation, aspect and a smooth wobble of the hand, and goes through the app's own
strokes rendering (``preprocess``), so the network sees what a drawing on the canvas
becomes. About 1.2 ms per digit.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from drawdigit.preprocess import preprocess
from drawdigit.strokes import Drawing

Rng = np.random.Generator
Strokes = list[np.ndarray]


def _u(rng: Rng, low: float, high: float) -> float:
    return float(rng.uniform(low, high))


def line(p0: tuple[float, float], p1: tuple[float, float], n: int = 12) -> np.ndarray:
    t = np.linspace(0.0, 1.0, n)[:, None]
    return (1 - t) * np.asarray(p0, float) + t * np.asarray(p1, float)


def bezier(*points: tuple[float, float], n: int = 24) -> np.ndarray:
    """A cubic Bezier curve through its four control points."""
    t = np.linspace(0.0, 1.0, n)[:, None]
    p0, p1, p2, p3 = (np.asarray(p, float) for p in points)
    return (1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * p1 + 3 * (1 - t) * t**2 * p2 + t**3 * p3


def arc(cx: float, cy: float, rx: float, ry: float, a0: float, a1: float, n: int = 40):
    """Ellipse points from angle a0 to a1 (degrees; 0 = right, 90 = down on screen)."""
    a = np.radians(np.linspace(a0, a1, n))
    return np.stack([cx + rx * np.cos(a), cy + ry * np.sin(a)], 1)


def _join(*parts: np.ndarray) -> np.ndarray:
    return np.concatenate(parts, 0)


def zero(rng: Rng) -> Strokes:
    rx, ry = _u(rng, 0.2, 0.42), 0.5
    start = _u(rng, -130, -60)
    turn = -1 if rng.random() < 0.75 else 1  # mostly anticlockwise on screen
    gap = _u(rng, 25, 80) if rng.random() < 0.3 else -_u(rng, -10, 40)  # open, or overlapping
    strokes = [arc(0.5, 0.5, rx, ry, start, start + turn * (360 - gap), 60)]
    if rng.random() < 0.2:  # slashed
        k = _u(rng, 0.9, 1.35)
        strokes.append(
            line((0.5 - rx * k, 0.5 + ry * k + _u(rng, -0.06, 0.06)), (0.5 + rx * k, 0.5 - ry * k))
        )
    return strokes


def one(rng: Rng) -> Strokes:
    top = (0.5 + _u(rng, -0.04, 0.04), 0.0)
    bottom = (0.5 + _u(rng, -0.06, 0.06), 1.0)
    stem = line(top, bottom, 20)
    kind = rng.random()
    if kind < 0.4:
        return [stem]
    angle = math.radians(_u(rng, 25, 65))  # off the stem
    length = _u(rng, 0.15, 0.6)
    end = (top[0] - length * math.sin(angle), top[1] + length * math.cos(angle))
    strokes = [_join(line(end, top, 10), stem)]
    if kind > 0.85:  # on a foot too
        half = _u(rng, 0.15, 0.3)
        strokes.append(line((bottom[0] - half, 1.0), (bottom[0] + half, 1.0)))
    return strokes


def two(rng: Rng) -> Strokes:
    w = _u(rng, 0.5, 0.75)
    top = bezier(
        (0.05, _u(rng, 0.15, 0.35)),
        (0.1, _u(rng, -0.12, 0.0)),
        (w + 0.05, _u(rng, -0.12, 0.0)),
        (w * 0.85, _u(rng, 0.3, 0.45)),
        n=30,
    )
    corner = (_u(rng, -0.02, 0.08), 1.0)
    down = line(tuple(top[-1]), corner, 16)
    if rng.random() < 0.3:  # a loop at the bottom-left
        down = _join(down, arc(corner[0] + 0.08, 0.93, 0.08, 0.07, 180, 540, 20))
    base = line(corner, (w + _u(rng, -0.05, 0.15), 1.0 + _u(rng, -0.05, 0.03)), 14)
    return [_join(top, down, base)]


def three(rng: Rng) -> Strokes:
    w = _u(rng, 0.5, 0.7)
    mid = (_u(rng, 0.2, 0.35), _u(rng, 0.42, 0.5))
    if rng.random() < 0.25:  # a flat top, like a z
        upper = _join(line((0.05, 0.0), (w, 0.0)), line((w, 0.0), mid))
    else:
        upper = bezier((0.05, 0.12), (0.35, -0.1), (w + 0.15, 0.15), mid, n=28)
    lower = bezier(mid, (w + 0.25, mid[1] - 0.05), (w + 0.2, 1.1), (0.0, _u(rng, 0.8, 0.95)), n=30)
    return [_join(upper, lower)]


def four(rng: Rng) -> Strokes:
    bar_y = _u(rng, 0.55, 0.7)
    right = _u(rng, 0.6, 0.8)
    stem_x = _u(rng, 0.45, 0.6)
    if rng.random() < 0.5:  # closed: a slanted line down to the bar
        first = _join(
            line((stem_x - 0.05, 0.0), (0.0, bar_y), 14), line((0.0, bar_y), (right, bar_y))
        )
    else:  # open: a vertical, then the bar
        first = _join(line((0.08, 0.0), (0.05, bar_y)), line((0.05, bar_y), (right, bar_y)))
    stem = line((stem_x, _u(rng, 0.0, 0.25)), (stem_x + _u(rng, -0.05, 0.03), 1.0), 16)
    return [first, stem]


def five(rng: Rng) -> Strokes:
    w = _u(rng, 0.55, 0.75)
    neck = (0.08, _u(rng, 0.38, 0.5))
    belly = bezier(
        neck, (w * 0.9, neck[1] - 0.2), (w + 0.15, 1.05), (0.0, _u(rng, 0.85, 0.95)), n=30
    )
    body = _join(line((0.1, 0.02), neck, 10), belly)
    lift = _u(rng, 0.0, 0.12) if rng.random() < 0.35 else 0.0  # the bar apart from the body
    bar = line(
        (0.1 + lift * 0.3, 0.02 - lift), (w + _u(rng, -0.05, 0.1), _u(rng, -0.06, 0.02) - lift)
    )
    if lift == 0.0 and rng.random() < 0.4:  # one stroke: the bar first, right to left
        return [_join(bar[::-1], body)]
    return [body, bar]


def six(rng: Rng) -> Strokes:
    r = _u(rng, 0.22, 0.3)
    cy = 1.0 - r
    stem = bezier(
        (_u(rng, 0.45, 0.7), 0.0), (0.15, 0.1), (0.05 - r * 0.2, 0.6), (0.5 - r, cy + 0.05)
    )
    loop = arc(0.5, cy, r, r * _u(rng, 0.85, 1.1), 175, 175 - 330, 40)
    return [_join(stem, loop)]


def seven(rng: Rng) -> Strokes:
    w = _u(rng, 0.5, 0.8)
    right_y = _u(rng, -0.04, 0.04)
    left_y = right_y + _u(rng, -0.08, 0.04)  # level, or rising to the left; never a 1's flag
    foot = (_u(rng, 0.1, 0.45) * w + 0.05, 1.0)
    if rng.random() < 0.6:
        stem = line((w, right_y), foot, 20)
    else:
        stem = bezier((w, right_y), (w * 0.8, 0.4), (foot[0] + 0.02, 0.7), foot, n=20)
    strokes = [_join(line((0.0, left_y), (w, right_y), 14), stem)]
    if rng.random() < 0.25:  # crossed
        y = _u(rng, 0.45, 0.6)
        x = w + (foot[0] - w) * y
        half = _u(rng, 0.12, 0.25)
        strokes.append(line((x - half, y), (x + half, y - 0.02)))
    return strokes


def eight(rng: Rng) -> Strokes:
    if rng.random() < 0.2:  # two loops, two strokes
        rt, rb = _u(rng, 0.18, 0.25), _u(rng, 0.22, 0.3)
        return [
            arc(0.5, rt, rt * _u(rng, 0.9, 1.2), rt, 0, -360, 30),
            arc(0.5, 2 * rt + rb, rb * _u(rng, 0.9, 1.2), rb, 0, -360, 36),
        ]
    t = np.linspace(0.0, 2 * math.pi, 70) + _u(rng, -0.3, 0.3)  # one stroke, crossing itself
    width, cross = _u(rng, 0.3, 0.45), _u(rng, 0.4, 0.5)
    y = 0.5 - 0.5 * np.cos(t)
    y = np.where(y < 0.5, y / 0.5 * cross, cross + (y - 0.5) / 0.5 * (1 - cross))
    x = 0.5 - width * np.sin(2 * t) * np.where(y < cross, 0.8, 1.0)
    return [np.stack([x, y], 1)]


def nine(rng: Rng) -> Strokes:
    r = _u(rng, 0.2, 0.28)
    cx, cy = 0.45, r
    head = arc(cx, cy, r * _u(rng, 0.9, 1.3), r, _u(rng, -20, 10), -360 + _u(rng, -20, 30), 36)
    top = (cx + r, cy + _u(rng, -0.05, 0.05))
    kind = rng.random()
    bottom_x = cx + r + _u(rng, -0.2, 0.02)
    if kind < 0.5:  # straight
        tail = line(top, (bottom_x, 1.0), 18)
    elif kind < 0.8:  # hooking back to the left
        tail = bezier(
            top, (top[0], 0.7), (top[0] - 0.05, 1.02), (cx - _u(rng, 0.1, 0.35), 0.92), n=22
        )
    else:  # curved
        tail = bezier(top, (top[0] + 0.05, 0.6), (top[0] - 0.05, 0.9), (bottom_x - 0.1, 1.0), n=20)
    return [_join(head, tail)]


TEMPLATES: tuple[Callable[[Rng], Strokes], ...] = (
    zero,
    one,
    two,
    three,
    four,
    five,
    six,
    seven,
    eight,
    nine,
)


def _hand(strokes: Strokes, rng: Rng) -> Strokes:
    """Random slant, rotation, aspect and a smooth wobble, the same for the whole digit."""
    slant = _u(rng, -0.1, 0.4)
    angle = math.radians(_u(rng, -10, 10))
    aspect = math.exp(_u(rng, -0.25, 0.25))
    wobble = _u(rng, 0.0, 0.03)
    freq = rng.uniform(1.0, 3.0, size=2)
    phase = rng.uniform(0, 2 * math.pi, size=2)
    c, s = math.cos(angle), math.sin(angle)
    rotation = np.array([[c, s], [-s, c]])
    out = []
    for stroke in strokes:
        p = stroke.copy()
        p[:, 0] = (p[:, 0] - 0.5) * aspect + slant * (0.5 - p[:, 1])
        p[:, 1] -= 0.5
        p = p @ rotation
        along = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(p, axis=0).T))])
        p += wobble * np.sin(2 * math.pi * freq * along[:, None] + phase)
        out.append(p)
    return out


def template_digit(label: int, rng: Rng) -> np.ndarray:
    """One (28, 28) float32 network input of ``label``, drawn by a random hand on a
    280x280 canvas and rendered as the app renders a drawing."""
    strokes = _hand(TEMPLATES[label](rng), rng)
    height = _u(rng, 120, 220)
    x0, y0 = _u(rng, 60, 220), _u(rng, 30, 250)
    points = [[(float(x0 + x * height), float(y0 + y * height)) for x, y in s] for s in strokes]
    image = preprocess(Drawing(280.0, 280.0, points))
    return np.zeros((28, 28), np.float32) if image is None else image


def template_set(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` template digits, the ten digits in turn: (n, 28, 28) uint8 and (n,) labels."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 10
    images = np.stack([template_digit(int(k), rng) for k in labels])
    return np.round(images * 255).astype(np.uint8), labels

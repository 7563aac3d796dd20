"""Stroke grouping: the same groups as its first, quadratic definition, in linear work."""

from __future__ import annotations

import random
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from drawdigit import segment
from drawdigit.segment import MAX_GROUPS, OVERLAP_SHARE, stroke_groups
from drawdigit.strokes import Drawing, load_drawing, pen_width

SHARED = Path(__file__).resolve().parents[2] / "shared"
DEV_SETS = ("unipen-dev", "unipen-numbers-dev", "unipen-notdigits-dev")


def reference_groups(drawing: Drawing) -> list[list[int]]:
    """The grouping as it was first written, word for word: each stroke compared with every
    group, groups merged and re-sorted one pair at a time, gaps searched from scratch after
    every join. Its square cost is the point of the tests below; its results are the
    definition the fast version keeps."""
    pen = pen_width(drawing.width, drawing.height)
    boxes = segment.stroke_boxes(drawing)
    spans = sorted(
        (box[0] - pen / 2, box[2] + pen / 2, i) for i, box in enumerate(boxes) if box is not None
    )
    groups: list[tuple[float, float, list[int]]] = []
    for x0, x1, i in spans:
        joined = False
        for g, (g0, g1, members) in enumerate(groups):
            overlap = min(x1, g1) - max(x0, g0)
            narrower = min(x1 - x0, g1 - g0)
            if overlap >= OVERLAP_SHARE * narrower:
                groups[g] = (min(x0, g0), max(x1, g1), [*members, i])
                joined = True
                break
        if not joined:
            groups.append((x0, x1, [i]))
    changed = True
    while changed:
        changed = False
        groups.sort(key=lambda g: (g[0] + g[1]) / 2)
        for k in range(len(groups) - 1):
            (a0, a1, am), (b0, b1, bm) = groups[k], groups[k + 1]
            if min(a1, b1) - max(a0, b0) >= OVERLAP_SHARE * min(a1 - a0, b1 - b0):
                groups[k : k + 2] = [(min(a0, b0), max(a1, b1), am + bm)]
                changed = True
                break
    while len(groups) > MAX_GROUPS:
        gaps = [groups[k + 1][0] - groups[k][1] for k in range(len(groups) - 1)]
        k = int(np.argmin(gaps))
        a, b = groups[k], groups[k + 1]
        groups[k : k + 2] = [(a[0], max(a[1], b[1]), a[2] + b[2])]
    return [sorted(members) for _, _, members in groups]


@pytest.mark.parametrize("name", DEV_SETS)
def test_every_dev_drawing_keeps_its_groups(name: str) -> None:
    folder = SHARED / name
    files = sorted(folder.glob("*.json"))
    if not files:
        pytest.fail(f"the dev set {name} is expected in {folder}")
    for file in files:
        drawing = load_drawing(file)
        assert stroke_groups(drawing) == reference_groups(drawing), file.name


def _random_drawing(rng: random.Random) -> Drawing:
    """Strokes on whole or coarse coordinates (ties everywhere), of every width from a dot
    to the canvas, often more than MAX_GROUPS groups, now and then with a pen of no width:
    the corners the sorting and the heap of gaps must handle as the definition does."""
    size = rng.choice([10.0, 10.0, 28.0, 56.0, 280.0, 1e-12])
    # With a pen too thin to change coordinates this far out, a dot's span has no width.
    offset = 100_000.0 if size < 1 else 0.0
    strokes = []
    for _ in range(rng.randint(1, 120)):
        x = offset + float(rng.randint(0, 60) * rng.choice([1, 5]))
        width = float(rng.choice([0, 0, 0, 1, 1, 2, 3, 5, 10, 30, rng.uniform(0, 300)]))
        strokes.append([(x, 0.0), (x + width, 5.0)] if rng.random() < 0.9 else [(x, 1.0)])
    if rng.random() < 0.1:
        strokes.insert(rng.randint(0, len(strokes)), [])  # an empty stroke has no group
    return Drawing(size, 280.0, strokes)


def test_random_drawings_keep_their_groups() -> None:
    rng = random.Random(28)
    many = 0
    for _ in range(3000):
        drawing = _random_drawing(rng)
        expected = reference_groups(drawing)
        assert stroke_groups(drawing) == expected, drawing
        many += len(expected) == MAX_GROUPS
    assert many > 200  # the narrowest gaps were closed often


def _lines_run(func: Callable[[], object], limit: int) -> int:
    """Python lines of ``drawdigit.segment`` executed by ``func()``: work counted, not timed
    (the machine's speed plays no part). Stops counting past ``limit``."""
    count = 0
    home = segment.__file__

    class Enough(Exception):
        pass

    def local(_frame, event, _arg):
        nonlocal count
        if event == "line":
            count += 1
            if count > limit:
                raise Enough
        return local

    def calls(frame, _event, _arg):
        return local if frame.f_code.co_filename == home else None

    sys.settrace(calls)
    try:
        func()
    except Enough:
        pass
    finally:
        sys.settrace(None)
    return count


def _side_by_side(n: int) -> Drawing:
    """``n`` two-point strokes side by side, none overlapping: n groups to close to ten."""
    return Drawing(100_000.0, 280.0, [[(i * 25.0, 100.0), (i * 25.0, 180.0)] for i in range(n)])


def _overlapping_runs(n: int) -> Drawing:
    """``n`` strokes (34 px wide with the pen), each overlapping the one before by 16 px, a
    little less than half: n groups, all gaps equal (the leftmost is closed first)."""
    return Drawing(100_000.0, 280.0, [[(i * 18.0, 0.0), (i * 18.0 + 14.0, 50.0)] for i in range(n)])


@pytest.mark.parametrize("make", [_side_by_side, _overlapping_runs])
def test_grouping_work_grows_linearly_with_the_strokes(make: Callable[[int], Drawing]) -> None:
    """10,000 strokes side by side once took 15 s (every stroke compared with every group).
    Now each stroke costs a bounded number of lines, 1,000 or 4,000 of them alike."""
    per_stroke = 60
    for n in (1000, 4000):
        drawing = make(n)
        lines = _lines_run(lambda d=drawing: stroke_groups(d), per_stroke * n)
        assert lines <= per_stroke * n, f"{n} strokes: more than {per_stroke} lines a stroke"

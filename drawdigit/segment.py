"""Cut ink into the pieces a number may be made of, and the candidate digits those pieces form.

A person writes a number digit by digit, side by side; a single digit may take several strokes
(a 4, a 5, a crossed 7, a European 1) whose strokes overlap horizontally. So strokes are first
joined into *groups* wherever they overlap horizontally by a good part of the narrower one;
then every run of up to ``MAX_GROUPS_PER_PART`` neighbouring groups (ordered by x) is a
*candidate part*. ``decide`` reads all candidates in one forward pass and keeps the split the
network is surest of (a dynamic programme over the groups), so grouping only has to avoid
joining two digits: joining too little is repaired by the candidates that span several groups.

Pictures have no strokes: their groups are the runs of ink columns between empty columns
(digits of a number written side by side do not share a column), with specks dropped.

Every candidate goes through the same ``preprocess`` as a whole drawing, so a part of a number
looks to the network exactly like the same digit drawn alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from drawdigit.preprocess import INK_THRESHOLD, MIN_CONTRAST, preprocess
from drawdigit.strokes import Drawing, pen_width

# Strokes whose x-extents (pen included) overlap by at least this share of the narrower one
# belong to one group: the bar of a 4 or a 5, the cross of a 7 lie over their stem.
OVERLAP_SHARE = 0.5
# A candidate part spans at most this many groups: no single digit of unipen-dev has more
# than two (2% have two); each candidate costs a rendering and a forward pass.
MAX_GROUPS_PER_PART = 2
# At most this many groups are considered; beyond it the narrowest gaps are closed first.
MAX_GROUPS = 10
# Picture columns: a column is ink when its brightest ink pixel passes INK_THRESHOLD; a run of
# ink columns narrower than this share of the ink's height is a speck of noise, not a digit.
SPECK_SHARE = 0.04

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in the input's pixels


@dataclass(frozen=True)
class Candidate:
    """One candidate digit: groups ``first``..``last`` (inclusive), its box and 28x28 input."""

    first: int
    last: int
    box: Box
    image28: np.ndarray


@dataclass(frozen=True)
class Pieces:
    """The ink cut into ``groups`` (left to right) and every candidate part over them."""

    groups: int
    candidates: list[Candidate]
    whole: Candidate  # the whole ink as one digit (also in ``candidates``)
    # For each pair of neighbouring groups: the horizontal gap between their ink boxes as a
    # share of the taller one's height (negative: the boxes overlap a little).
    gaps: list[float]


def _relative_gaps(boxes: list[Box]) -> list[float]:
    gaps = []
    for a, b in zip(boxes, boxes[1:], strict=False):
        height = max(a[3] - a[1], b[3] - b[1], 1e-6)
        gaps.append((b[0] - a[2]) / height)
    return gaps


def cut(source: Drawing | np.ndarray) -> Pieces | None:
    """The groups and candidate parts of a drawing or a grayscale picture; None: no ink."""
    if isinstance(source, Drawing):
        return _cut_drawing(source)
    return _cut_image(np.asarray(source))


# --------------------------------------------------------------------------- strokes


def stroke_groups(drawing: Drawing) -> list[list[int]]:
    """Indices of the non-empty strokes, joined into groups by horizontal overlap, by x."""
    pen = pen_width(drawing.width, drawing.height)
    spans = []
    for i, stroke in enumerate(drawing.strokes):
        if stroke:
            xs = [p[0] for p in stroke]
            spans.append((min(xs) - pen / 2, max(xs) + pen / 2, i))
    spans.sort()
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
    groups = _merge_overlapping(groups)
    while len(groups) > MAX_GROUPS:
        gaps = [groups[k + 1][0] - groups[k][1] for k in range(len(groups) - 1)]
        k = int(np.argmin(gaps))
        a, b = groups[k], groups[k + 1]
        groups[k : k + 2] = [(a[0], max(a[1], b[1]), a[2] + b[2])]
    return [sorted(members) for _, _, members in groups]


def _merge_overlapping(
    groups: list[tuple[float, float, list[int]]],
) -> list[tuple[float, float, list[int]]]:
    """Join groups that became overlapping after growing, until none does; sort by x."""
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
    return groups


def _cut_drawing(drawing: Drawing) -> Pieces | None:
    groups = stroke_groups(drawing)
    if not groups:
        return None
    candidates = []
    for first in range(len(groups)):
        for last in range(first, min(len(groups), first + MAX_GROUPS_PER_PART)):
            indices = sorted(i for g in groups[first : last + 1] for i in g)
            part = Drawing(drawing.width, drawing.height, [drawing.strokes[i] for i in indices])
            image28 = preprocess(part)
            if image28 is not None:
                candidates.append(Candidate(first, last, _stroke_box(part), image28))
    whole = _whole(len(groups), candidates)
    if whole is None:
        image28 = preprocess(drawing)
        if image28 is None:
            return None
        whole = Candidate(0, len(groups) - 1, _stroke_box(drawing), image28)
        candidates.append(whole)
    singles = {c.first: c.box for c in candidates if c.first == c.last}
    gaps = (
        _relative_gaps([singles[g] for g in sorted(singles)]) if len(singles) == len(groups) else []
    )
    return Pieces(len(groups), candidates, whole, gaps or [0.0] * (len(groups) - 1))


def _stroke_box(drawing: Drawing) -> Box:
    points = np.array([p for s in drawing.strokes for p in s], dtype=np.float64)
    x0, y0 = points.min(axis=0)
    x1, y1 = points.max(axis=0)
    return (float(x0), float(y0), float(x1), float(y1))


def _whole(groups: int, candidates: list[Candidate]) -> Candidate | None:
    for c in candidates:
        if c.first == 0 and c.last == groups - 1:
            return c
    return None


# --------------------------------------------------------------------------- pictures


def _ink_mask(gray: np.ndarray) -> np.ndarray | None:
    """Ink strength in [0, 1] (ink bright) the way ``normalise_image`` sees it; None: blank."""
    from drawdigit.preprocess import _to_unit_gray

    g = _to_unit_gray(gray)
    if g.size == 0:
        return None
    border = np.concatenate([g[0], g[-1], g[:, 0], g[:, -1]])
    background = float(np.median(border))
    if background > 0.5:
        g = 1.0 - g
        background = 1.0 - background
    contrast = float(g.max()) - background
    if contrast < MIN_CONTRAST:
        return None
    return np.clip((g - background) / contrast, 0.0, 1.0)


def image_groups(ink: np.ndarray) -> list[tuple[int, int]]:
    """Column ranges [c0, c1) of the runs of ink columns, specks dropped, left to right."""
    mask = ink > INK_THRESHOLD
    columns = mask.any(axis=0)
    rows = np.flatnonzero(mask.any(axis=1))
    if not columns.any():
        return []
    height = rows[-1] - rows[0] + 1
    edges = np.flatnonzero(np.diff(np.concatenate([[0], columns.astype(np.int8), [0]])))
    runs = [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]
    keep = [r for r in runs if r[1] - r[0] >= SPECK_SHARE * height or _mass(mask, r) > 0.2]
    runs = keep or runs
    while len(runs) > MAX_GROUPS:
        gaps = [runs[k + 1][0] - runs[k][1] for k in range(len(runs) - 1)]
        k = int(np.argmin(gaps))
        runs[k : k + 2] = [(runs[k][0], runs[k + 1][1])]
    return runs


def _mass(mask: np.ndarray, run: tuple[int, int]) -> float:
    """A run's share of all the ink (a narrow but heavy run, e.g. a "1", is not a speck)."""
    return float(mask[:, run[0] : run[1]].sum()) / max(1.0, float(mask.sum()))


def _cut_image(image: np.ndarray) -> Pieces | None:
    ink = _ink_mask(image)
    if ink is None:
        return None
    runs = image_groups(ink)
    if not runs:
        return None
    candidates = []
    for first in range(len(runs)):
        for last in range(first, min(len(runs), first + MAX_GROUPS_PER_PART)):
            c0, c1 = runs[first][0], runs[last][1]
            part = np.zeros_like(ink)
            part[:, c0:c1] = ink[:, c0:c1]
            rows = np.flatnonzero((part > INK_THRESHOLD).any(axis=1))
            if rows.size == 0:
                continue
            image28 = preprocess(part)
            if image28 is not None:
                box = (float(c0), float(rows[0]), float(c1 - 1), float(rows[-1]))
                candidates.append(Candidate(first, last, box, image28))
    # The whole picture is read exactly as a single digit always was: from the original.
    image28 = preprocess(image)
    if image28 is None:
        return None
    rows = np.flatnonzero((ink > INK_THRESHOLD).any(axis=1))
    box = (float(runs[0][0]), float(rows[0]), float(runs[-1][1] - 1), float(rows[-1]))
    whole = Candidate(0, len(runs) - 1, box, image28)
    candidates = [c for c in candidates if (c.first, c.last) != (0, len(runs) - 1)]
    candidates.append(whole)
    singles = {c.first: c.box for c in candidates if c.first == c.last}
    gaps = (
        _relative_gaps([singles[g] for g in sorted(singles)]) if len(singles) == len(runs) else []
    )
    return Pieces(len(runs), candidates, whole, gaps or [0.0] * (len(runs) - 1))

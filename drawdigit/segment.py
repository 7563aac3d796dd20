"""Cut ink into the pieces a number may be made of, and the candidate digits those pieces form.

A person writes a number digit by digit, side by side; a single digit may take several strokes
(a 4, a 5, a crossed 7, a European 1) whose strokes overlap horizontally. So strokes are first
joined into *groups* wherever they overlap horizontally by a good part of the narrower one;
then every run of up to ``MAX_GROUPS_PER_PART`` neighbouring groups (ordered by x) is a
*candidate part*. ``decide`` reads all candidates in one forward pass and keeps the split the
network is surest of (a dynamic programme over the groups), so grouping only has to avoid
joining two digits: joining too little is repaired by the candidates that span several groups.

Pictures have no strokes: their groups are the runs of ink columns between empty columns
(digits of a number written side by side do not share a column), with specks dropped. A
photo's cleaning proposes several candidate pieces of ink (``pictures.digit_candidates``);
each is cut so, and ``decide`` reads them all.

Every candidate goes through the same ``preprocess`` as a whole drawing, so a part of a number
looks to the network exactly like the same digit drawn alone.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from drawdigit.field import INK_THRESHOLD
from drawdigit.pictures import MIN_CONTRAST, picture_candidates, unit_gray
from drawdigit.preprocess import preprocess
from drawdigit.strokes import Drawing, pen_width

# Strokes whose x-extents (pen included) overlap by at least this share of the narrower one
# belong to one group: the bar of a 4 or a 5, the cross of a 7 lie over their stem.
OVERLAP_SHARE = 0.5
# A candidate part spans at most this many groups: no single digit of unipen-dev has more
# than two (2% have two); each candidate costs a rendering and a forward pass.
MAX_GROUPS_PER_PART = 2
# Two groups whose ink boxes are further apart than this share of their height are not
# joined into one candidate digit: the pieces of one digit nearly touch (a 4 whose stem stands
# just right of its bar), the digits of a number do not. Chosen by looking at the dev sets.
NEAR_GAP = 0.15
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
    # A photo's other candidate pieces of ink, each cut the same way; ``decide`` reads them
    # all and answers for the first the network finds plausibly one digit (``pick``).
    alternatives: tuple[Pieces, ...] = ()
    # False: the cleaning doubts that this ink is ink at all (it is no darker than the
    # darker side of the paper around it: a shadow's rim, the sheet's edge); never sure.
    trusted: bool = True


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


def stroke_groups(drawing: Drawing, boxes: list[Box | None] | None = None) -> list[list[int]]:
    """Indices of the non-empty strokes, joined into groups by horizontal overlap, by x.
    ``boxes``: the drawing's ``stroke_boxes`` when the caller has them already.

    Three passes, each linear in the strokes after one sort (a file may hold 10,000 strokes,
    and the window answers while the pen moves): join each stroke to the first group it
    overlaps enough (``_join_spans``), join the groups that came to overlap by growing
    (``_merge_overlapping``), then close the narrowest gaps until at most ``MAX_GROUPS``
    are left (``_close_narrowest_gaps``).
    """
    pen = pen_width(drawing.width, drawing.height)
    if boxes is None:
        boxes = stroke_boxes(drawing)
    spans = sorted(
        (box[0] - pen / 2, box[2] + pen / 2, i) for i, box in enumerate(boxes) if box is not None
    )
    groups = _close_narrowest_gaps(_merge_overlapping(_join_spans(spans)), MAX_GROUPS)
    return [sorted(members) for _, _, members in groups]


_Group = tuple[float, float, list[int]]  # x0, x1 (pen included) and the strokes' indices


def _overlaps(a0: float, a1: float, b0: float, b1: float) -> bool:
    """Whether two x-extents overlap by at least ``OVERLAP_SHARE`` of the narrower one."""
    return min(a1, b1) - max(a0, b0) >= OVERLAP_SHARE * min(a1 - a0, b1 - b0)


def _join_spans(spans: list[tuple[float, float, int]]) -> list[_Group]:
    """Each span (sorted by its left end) joins the first group, in the order the groups were
    made, that it overlaps enough (``_overlaps``); else it starts a group of its own.

    A group ending left of the span's left end overlaps it by less than nothing, and the left
    ends only grow: a group the spans have passed is never joined again and is dropped from
    the ones looked at. So each span looks at the few groups around its left end, not at
    every group made so far.
    """
    groups: list[_Group] = []
    open_groups: list[int] = []  # indices into groups, in the order they were made
    for x0, x1, i in spans:
        open_groups = [g for g in open_groups if groups[g][1] >= x0]
        for g in open_groups:
            g0, g1, members = groups[g]
            if _overlaps(x0, x1, g0, g1):
                members.append(i)
                groups[g] = (min(x0, g0), max(x1, g1), members)
                break
        else:
            open_groups.append(len(groups))
            groups.append((x0, x1, [i]))
    return groups


def _merge_overlapping(groups: list[_Group]) -> list[_Group]:
    """Join neighbouring groups (by centre) that overlap enough, leftmost pair first, until
    none does; sorted by centre.

    The union of two neighbours has its centre between theirs, so it keeps their place in
    the order: nothing is sorted again, and the pairs left of it were checked already. The
    scan goes back one place after a join (the union may now overlap its left neighbour).
    """
    groups = sorted(groups, key=lambda g: (g[0] + g[1]) / 2)
    k = 0
    while k < len(groups) - 1:
        (a0, a1, am), (b0, b1, bm) = groups[k], groups[k + 1]
        if _overlaps(a0, a1, b0, b1):
            groups[k : k + 2] = [(min(a0, b0), max(a1, b1), _joined(am, bm))]
            k = max(k - 1, 0)
        else:
            k += 1
    return groups


def _joined(a: list[int], b: list[int]) -> list[int]:
    """Both lists' members in one of them (the shorter copied into the longer: joining
    10,000 groups one by one stays linear; the order is sorted out at the end)."""
    if len(a) < len(b):
        a, b = b, a
    a.extend(b)
    return a


def _close_narrowest_gaps(groups: list[_Group], most: int) -> list[_Group]:
    """Join the two neighbours with the narrowest gap (the leftmost of equal ones) until at
    most ``most`` groups are left. A heap of the gaps: each join changes only the gap to
    the right of the pair (the union starts where its left group did)."""
    if len(groups) <= most:
        return groups
    ends = [g[1] for g in groups]
    members = [g[2] for g in groups]
    right = list(range(1, len(groups) + 1))  # the next group still there (len: none)
    alive = [True] * len(groups)
    heap = [(groups[k + 1][0] - ends[k], k) for k in range(len(groups) - 1)]
    heapq.heapify(heap)
    left_count = len(groups)
    while left_count > most:
        gap, k = heapq.heappop(heap)
        b = right[k]
        if not alive[k] or b >= len(groups) or gap != groups[b][0] - ends[k]:
            continue  # a gap that has changed since it was pushed
        ends[k] = max(ends[k], ends[b])
        members[k] = _joined(members[k], members[b])
        alive[b] = False
        right[k] = right[b]
        left_count -= 1
        if right[k] < len(groups):
            heapq.heappush(heap, (groups[right[k]][0] - ends[k], k))
    return [(groups[k][0], ends[k], members[k]) for k in range(len(groups)) if alive[k]]


def _cut_drawing(drawing: Drawing) -> Pieces | None:
    each = stroke_boxes(drawing)
    groups = stroke_groups(drawing, each)
    if not groups:
        return None

    def strokes_of(first: int, last: int) -> Drawing:
        indices = sorted(i for g in groups[first : last + 1] for i in g)
        return Drawing(drawing.width, drawing.height, [drawing.strokes[i] for i in indices])

    def box_of(first: int, last: int) -> Box:
        inside = [each[i] for g in groups[first : last + 1] for i in g]
        return _union([b for b in inside if b is not None])

    def render(first: int, last: int) -> tuple[Box, np.ndarray | None]:
        return box_of(first, last), preprocess(strokes_of(first, last))

    boxes = [box_of(g, g) for g in range(len(groups))]
    return _assemble(boxes, render, (box_of(0, len(groups) - 1), preprocess(drawing)))


def _assemble(
    boxes: list[Box],
    render: Callable[[int, int], tuple[Box, np.ndarray | None]],
    whole: tuple[Box, np.ndarray | None],
) -> Pieces | None:
    """The candidates over groups with these ink ``boxes``: each group, each pair of NEAR
    groups, and the ``whole`` ink (box and 28x28); ``render(first, last)`` makes one."""
    n = len(boxes)
    if whole[1] is None:
        return None
    gaps = _relative_gaps(boxes)
    candidates = []
    for first in range(n):
        for last in range(first, min(n, first + MAX_GROUPS_PER_PART)):
            if (first, last) == (0, n - 1) or any(g > NEAR_GAP for g in gaps[first:last]):
                continue  # the whole comes last; far-apart groups are not one digit
            box, image28 = render(first, last)
            if image28 is not None:
                candidates.append(Candidate(first, last, box, image28))
    candidates.append(Candidate(0, n - 1, whole[0], whole[1]))
    return Pieces(n, candidates, candidates[-1], gaps)


def stroke_boxes(drawing: Drawing) -> list[Box | None]:
    """Each stroke's point box (x0, y0, x1, y1); None for an empty stroke."""
    out: list[Box | None] = []
    for stroke in drawing.strokes:
        if not stroke:
            out.append(None)
            continue
        xs, ys = zip(*stroke, strict=True)
        out.append((float(min(xs)), float(min(ys)), float(max(xs)), float(max(ys))))
    return out


def _union(boxes: list[Box]) -> Box:
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


# --------------------------------------------------------------------------- pictures


def _ink_mask(gray: np.ndarray) -> np.ndarray | None:
    """Ink strength in [0, 1] (ink bright) the way ``normalise_image`` sees it; None: blank."""
    a = np.asarray(gray)
    if a.ndim == 3 and a.shape[2] in (3, 4):
        a = a[..., :3].mean(axis=2)
    if a.ndim != 2:
        raise ValueError(f"expected a picture (H, W) or (H, W, 3|4), got shape {a.shape}")
    g = unit_gray(a)
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
    """A clean picture is cut as it is; a photo's candidate pieces of ink (its cleaning's
    proposals) are each cut as a clean picture, the first with the others as alternatives."""
    inks = picture_candidates(image)
    if inks is None:
        return _cut_clean(image)
    pieces = []
    for candidate in inks:
        cut_ink = _cut_clean(candidate.ink)
        if cut_ink is not None:
            pieces.append(replace(cut_ink, trusted=candidate.trusted))
    if not pieces:
        return None
    return replace(pieces[0], alternatives=tuple(pieces[1:]))


def _cut_clean(image: np.ndarray) -> Pieces | None:
    ink = _ink_mask(image)
    if ink is None:
        return None
    runs = image_groups(ink)
    if not runs:
        return None

    def render(first: int, last: int) -> tuple[Box, np.ndarray | None]:
        c0, c1 = runs[first][0], runs[last][1]
        part = np.zeros_like(ink)
        part[:, c0:c1] = ink[:, c0:c1]
        return _column_box(ink, c0, c1), preprocess(part)

    boxes = [_column_box(ink, c0, c1) for c0, c1 in runs]
    # The whole picture is read exactly as a single digit always was: from the original.
    whole_box = _column_box(ink, runs[0][0], runs[-1][1])
    return _assemble(boxes, render, (whole_box, preprocess(image)))


def _column_box(ink: np.ndarray, c0: int, c1: int) -> Box:
    rows = np.flatnonzero((ink[:, c0:c1] > INK_THRESHOLD).any(axis=1))
    top, bottom = (rows[0], rows[-1]) if rows.size else (0, ink.shape[0] - 1)
    return (float(c0), float(top), float(c1 - 1), float(bottom))

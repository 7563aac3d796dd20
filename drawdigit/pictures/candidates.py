"""The candidate pieces of a photo's ink that may be its digit, most likely first.

After the light is flattened, the ink is thresholded against its noise and straight lines
are removed (``rulings``); the marks left are labelled, and the strongest that could be a
digit (no specks, no slivers along the picture, no remnants of removed lines) each grow
into a candidate with the marks near them: inside the picture first, then along its border
(a tightly cropped digit touches the frame). A mark no darker than the darker side of the
paper around it (a shadow's rim, the sheet's edge) is untrusted. The network then reads
every candidate and chooses (``segment.cut``, ``decide.pick``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from drawdigit.pictures.paper import MIN_FLOOR, MIN_INK, NOISE_SIGMAS
from drawdigit.pictures.rulings import straight_lines
from drawdigit.pictures.stroke_weight import INK_FRACTION, weighed

# The digit's group is chosen among marks at least this fraction as dark as the darkest.
SEED_FRACTION = 0.5
# Marks with less than this fraction of the longest mark's pen line are specks.
SPECK_FRACTION = 0.08
# A mark touching the border along more than this fraction of that side is a paper edge or
# a shadow's rim, not a stroke of the digit.
BORDER_SPAN = 0.5
# At most this many seeds are grown into candidate digits for the network to choose from.
MAX_CANDIDATES = 3
# A mark along the border may be a tightly cropped digit when it spans at least CROPPED_SPAN
# of the picture one way and CROPPED_WIDTH the other (a sliver of the table does not).
CROPPED_SPAN = 0.6
CROPPED_WIDTH = 0.25
# Cropped marks come first when they outweigh every mark inside this many times.
CROPPED_DOMINANCE = 4.0
# A mark along SLIVER_SPAN of the picture and at most SLIVER_WIDTH of it across is the sheet's
# edge or a shadow's rim, never a digit.
SLIVER_SPAN = 0.85
SLIVER_WIDTH = 0.05
# Ink is darker than the darker side of the paper around it by this share of its contrast
# with the paper (the rim of a shadow, the sheet's edge against the table, are not).
RIM_SHARE = 0.4
# A mark with this share of its pixels near a removed line is what is left of the line.
REMNANT_SHARE = 0.7
# A digit's longer side is at least this share of the picture's shorter side (less: a speck).
MIN_SEED = 0.04
# A mark in a corner of the picture weighs this much less than one in the middle.
CENTRE_PRIOR = 0.5
# A mark along at least LONG_LINE of the picture that lies within STRAIGHT_SPREAD of its
# length of a straight line is a line (the sheet's edge, a margin), not a digit's stroke.
LONG_LINE = 0.4
STRAIGHT_SPREAD = 0.012
# ...or along SIDE_LINE of it with its middle within SIDE_BAND of a side.
SIDE_LINE = 0.25
SIDE_BAND = 0.12
# ...or along EDGE_LINE of it with its middle within EDGE_BAND of the picture's edge.
EDGE_LINE = 0.08
EDGE_BAND = 0.03
# Pieces whose box lies within this fraction of the digit's size from it belong to the digit.
GROUP_REACH = 0.35


@dataclass(frozen=True)
class InkCandidate:
    """One candidate piece of a photo's ink: ``ink`` (the digit's ink alone, bright on 0,
    cropped) and ``trusted``: darker than the paper on every side of it. A shadow's rim or
    the sheet's edge against the table is not (it is a step in the light that the
    flattening left behind), and is never answered as a sure digit (``segment.cut``)."""

    ink: np.ndarray
    trusted: bool = True


def digit_ink(ink: np.ndarray) -> np.ndarray | None:
    """Ink strength -> the cleaning's own first choice of the digit (``digit_candidates``'s
    first), or None when no ink stands out from the paper."""
    candidates = digit_candidates(ink)
    return candidates[0].ink if candidates else None


def digit_candidates(ink: np.ndarray, gray: np.ndarray | None = None) -> list[InkCandidate]:
    """Ink strength -> the pieces of ink that may be the digit, most likely first.

    Each is the digit's ink only, in [0, 1] (1 = the ink's own tone), cropped, with paper
    edges, shadows' rims, ruling and grid lines, specks and other marks removed and the
    stroke weight brought into MNIST's range. The cleaning orders them by how much pen line
    they hold, how dark and how central they are; the network then reads them all and the
    first it finds plausibly one digit is the answer (``segment.cut``, ``decide.pick``).
    Empty when no ink stands out."""
    from scipy import ndimage

    # Components at a low threshold; the digit's group is then chosen among those that hold
    # ink well above the noise (seeds), so faint pencil stays whole but shadows do not seed.
    # The threshold is set by the noise of the ink as it is thresholded (3x3 means: a third
    # of the pixels' own noise, or more where JPEG made it coarse).
    smooth = ndimage.uniform_filter(ink, 3)
    sample = smooth[::4, ::4]
    centre = float(np.median(sample))
    spread = 1.4826 * float(np.median(np.abs(sample - centre)))
    floor = max(centre + NOISE_SIGMAS * spread, MIN_FLOOR)
    if float(ink.max(initial=0.0)) < max(floor, MIN_INK):
        return []
    mask = smooth > floor
    if float(ink[mask].max(initial=0.0)) < MIN_INK:
        return []
    # Straight lines (ruling, a grid, a notebook's margin, the sheet's edge, a shadow's
    # edge) are never the digit: they go first, except where the digit's strokes cross them.
    # A lone straight line may be a digit's own stroke (a 1, a 4's stem cropped tightly):
    # the candidates without the lone lines come first, then those with them.
    ruling, lone = straight_lines(mask)
    groups = []
    for removed in (ruling | lone, ruling) if lone.any() else (ruling,):
        near = ndimage.maximum_filter(removed, 9) if removed.any() else None
        groups += _candidate_groups(mask & ~removed, smooth, floor, near, gray)
    out = []
    h, w = ink.shape
    for labels, group, trusted in groups:
        chosen = _chosen(labels, group)
        digit = weighed(ink, chosen, MIN_INK)
        if digit is None:
            continue
        # what the network would see of it (``weighed``): one long straight line?
        kept = chosen & (ink > INK_FRACTION * float(np.percentile(ink[chosen], 90)))
        trusted = trusted and not _is_long_straight_line(*np.nonzero(kept), h, w)
        out.append(InkCandidate(digit, trusted))
    # ink first; what may be a rim of light and shade after it
    return sorted(out, key=lambda c: not c.trusted)


def _candidate_groups(
    mask: np.ndarray,
    smooth: np.ndarray,
    floor: float,
    near_lines: np.ndarray | None,
    gray: np.ndarray | None = None,
) -> list:
    """(labels, chosen components) for each candidate digit in ``mask``, most likely first.

    Candidates: the groups grown from the MAX_CANDIDATES strongest seeds inside the picture;
    only when there are none, from marks along its border (a paper edge, the table, a
    shadow's rim: but also a tightly cropped digit, which touches the frame). Remnants of
    removed lines (marks lying mostly along them, ``near_lines``) and specks smaller than
    MIN_SEED of the picture never seed."""
    from scipy import ndimage

    labels, count, areas, strength, boxes = _components(mask, smooth)
    if count == 0:
        return []
    h, w = mask.shape
    if near_lines is not None:  # remnants of lines: mostly within reach of a removed line
        along = np.bincount(labels[mask & near_lines], minlength=count + 1)[1:]
        remnant = along >= REMNANT_SHARE * areas
    else:
        remnant = np.zeros(count, bool)
    # The digit is the most pen line, not the most ink: a mark's length is its area over its
    # width (twice its deepest distance to the paper), so a dark blob (the table, a shadow's
    # core, a thumb) cannot outweigh the strokes.
    depth = np.zeros(count + 1, np.int32)  # (ndimage.maximum sorts: 10x slower)
    np.maximum.at(depth, labels[mask], ndimage.distance_transform_cdt(mask, "chessboard")[mask])
    # (weighed by contrast squared: a shadow's long soft rim is faint along all its length)
    weight = areas / (2.0 * depth[1:] - 1.0) * strength**2
    candidates = (areas >= 3) & (strength >= floor)
    if not candidates.any():
        return []
    # Marks along the border (the table, the sheet's edge, a shadow's rim) do not set the
    # scale the digit's ink is measured against while other ink stands out.
    border = np.array([_is_border_mark(box, h, w) for box in boxes], bool)
    digitlike = np.array([_could_be_digit(box, h, w) for box in boxes], bool)
    # Nor does a long straight line (the sheet's edge, a margin, a shadow's edge, a grid
    # line the search missed): it joins no digit, and alone is never a sure one (a 1).
    straight = np.array(
        [c and _long_straight_line(labels, i, boxes[i], h, w) for i, c in enumerate(candidates)],
        bool,
    )
    inside = candidates & ~border & digitlike & ~straight & (strength * 2.0 >= MIN_INK)
    strongest = float(strength[inside if inside.any() else candidates].max())
    joinable = candidates & (strength >= INK_FRACTION * strongest)
    if not joinable.any():
        return []
    scale = weight[joinable & ~border & ~straight].max(initial=0.0)
    joinable &= weight >= SPECK_FRACTION * scale
    seeds = joinable & (strength >= SEED_FRACTION * strongest) & ~remnant
    seeds &= digitlike
    if not seeds.any():
        return []
    # People put the digit in the middle of the picture; edges and corners of the sheet
    # are at its rim. A mark at a corner counts for half of one at the centre.
    centre = np.array(
        [[(b[0].start + b[0].stop) / h - 1.0, (b[1].start + b[1].stop) / w - 1.0] for b in boxes]
    )
    prior = 1.0 - CENTRE_PRIOR * np.sqrt((centre**2).sum(axis=1) / 2.0)
    # Marks inside the picture first, by weight, grown with other marks inside; then the
    # border's marks that could be a tightly cropped digit (across most of the picture one
    # way and a fair part of it the other way; not a sliver of the table along one side),
    # grown with any marks.
    cropped = border & np.array([_could_be_cropped_digit(box, h, w) for box in boxes])
    joinable &= ~remnant & ~straight
    passes = [(seeds & ~border, joinable & ~border), (seeds & cropped, joinable)]
    # ...unless a cropped mark outweighs everything inside by far (bits of a grid inside a
    # tightly cropped digit, not the digit)
    best = [float((weight * prior)[first].max(initial=0.0)) for first, _ in passes]
    if best[1] > CROPPED_DOMINANCE * best[0]:
        passes.reverse()
    out = []
    for first_seeds, allowed in passes:
        ranked = np.flatnonzero(first_seeds)
        ranked = ranked[np.argsort(-(weight * prior)[ranked], kind="stable")]
        for first in ranked[:MAX_CANDIDATES]:
            grow = allowed.copy()
            grow[first] = True
            # ink, or perhaps a rim of light and shade (see _darker_than_around)?
            ink = gray is None or _darker_than_around(
                gray, labels, first, boxes[first], depth[first + 1]
            )
            out.append((labels, _main_group(boxes, int(first), grow), ink))
    return out


def _darker_than_around(
    gray: np.ndarray, labels: np.ndarray, index: int, box: tuple[slice, slice], depth: int
) -> bool:
    """Whether mark ``index`` (a label less one) is ink: darker in the picture itself than
    even the darker side of the paper around it. A pen's stroke is; the rim of a shadow or
    the sheet's edge against the table is a step in the light that the flattening left
    behind, as dark as the darker side of the step, no darker."""
    from scipy import ndimage

    reach = 2 * int(depth) + 3
    h, w = gray.shape
    rows = slice(max(0, box[0].start - reach), min(h, box[0].stop + reach))
    cols = slice(max(0, box[1].start - reach), min(w, box[1].stop + reach))
    own = labels[rows, cols] == index + 1
    near = ndimage.maximum_filter(own, 2 * reach + 1)
    ring = near & ~ndimage.maximum_filter(own, 5) & (labels[rows, cols] == 0)
    if not ring.any():
        return True
    patch = gray[rows, cols]
    core = float(np.median(patch[own]))
    around = patch[ring]
    contrast = float(np.median(around)) - core
    darker_side = float(np.percentile(around, 5)) - core
    return contrast > 0 and darker_side >= RIM_SHARE * contrast


def _components(mask: np.ndarray, smooth: np.ndarray) -> tuple:
    """Labels (8-connected), count, and per component: area, mean ink, bounding box."""
    from scipy import ndimage

    labels, count = ndimage.label(mask, structure=np.ones((3, 3), bool))
    if count == 0:
        return labels, 0, np.zeros(0, np.int64), np.zeros(0), []
    # (bincounts over the ink's pixels only: ndimage.mean costs ten times as much)
    inked = labels[mask]
    areas = np.bincount(inked, minlength=count + 1)[1:]
    total = np.bincount(inked, weights=smooth[mask], minlength=count + 1)[1:]
    strength = total / np.maximum(areas, 1)
    return labels, count, areas, strength, ndimage.find_objects(labels)


def _chosen(labels: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """The pixels of the components marked in ``chosen`` (one bool per label from 1): a table
    lookup, where np.isin sorts."""
    return np.concatenate([[False], chosen])[labels]


def _long_straight_line(
    labels: np.ndarray, index: int, box: tuple[slice, slice], h: int, w: int
) -> bool:
    """Whether mark ``index`` (a label less one) is one long straight line
    (``_is_long_straight_line``)."""
    ys, xs = np.nonzero(labels[box] == index + 1)
    return _is_long_straight_line(ys + box[0].start, xs + box[1].start, h, w)


def _is_long_straight_line(ys: np.ndarray, xs: np.ndarray, h: int, w: int) -> bool:
    """Whether the pixels (ys, xs) of an h x w picture are one long straight line: along at
    least LONG_LINE of the picture's height (or width), SIDE_LINE near a side parallel to
    it (a sheet's edge, broken into pieces by the noise), EDGE_LINE along the picture's
    very edge (the table's or the sheet's edge cut by the frame), and within
    STRAIGHT_SPREAD of their length (or 1.5 px, 2.5 px along the edge) of a straight line
    fitted along them. A digit's strokes curve or turn; a 1 that long is a tightly cropped
    one, then answered "not sure"."""
    if ys.size < 3:
        return False
    tall = (int(ys.max()) - int(ys.min()) + 1) / h
    wide = (int(xs.max()) - int(xs.min()) + 1) / w
    if tall >= wide:  # how far its middle lies from the nearer side along it
        middle = (int(xs.min()) + int(xs.max()) + 1) / (2.0 * w)
    else:
        middle = (int(ys.min()) + int(ys.max()) + 1) / (2.0 * h)
    side = min(middle, 1.0 - middle)
    least, loose = (EDGE_LINE, 2.5) if side <= EDGE_BAND else (LONG_LINE, 1.5)
    if SIDE_BAND >= side > EDGE_BAND:
        least = SIDE_LINE
    if max(tall, wide) < least:
        return False
    along, across = (ys, xs) if tall >= wide else (xs, ys)
    length = float(along.max() - along.min() + 1)
    slope, intercept = np.polyfit(along.astype(np.float64), across.astype(np.float64), 1)
    spread = float(np.std(across - (slope * along + intercept)))
    return spread <= max(loose, STRAIGHT_SPREAD * length)


def _could_be_digit(box: tuple[slice, slice], h: int, w: int) -> bool:
    """Whether a mark's box may hold a digit: not a speck (MIN_SEED of the picture's shorter
    side), nor a sliver along nearly the whole picture (the sheet's edge, a shadow's rim)."""
    rows, cols = box
    long, short = sorted(((rows.stop - rows.start) / h, (cols.stop - cols.start) / w))[::-1]
    if max(rows.stop - rows.start, cols.stop - cols.start) < MIN_SEED * min(h, w):
        return False
    return not (long >= SLIVER_SPAN and short <= SLIVER_WIDTH)


def _could_be_cropped_digit(box: tuple[slice, slice], h: int, w: int) -> bool:
    """A mark at the border that may be a digit cropped tightly: it spans CROPPED_SPAN of
    the picture one way and CROPPED_WIDTH of it the other way."""
    rows, cols = box
    spans = sorted(((rows.stop - rows.start) / h, (cols.stop - cols.start) / w))
    return spans[1] >= CROPPED_SPAN and spans[0] >= CROPPED_WIDTH


def _is_border_mark(box: tuple[slice, slice], h: int, w: int) -> bool:
    """A component in a corner or along much of one side: a paper edge, a shadow's rim or the
    table. (Only dropped while other ink remains: a tightly cropped digit touches the border.)"""
    rows, cols = box
    span_rows = (rows.stop - rows.start) / h
    span_cols = (cols.stop - cols.start) / w
    near_y, near_x = max(1, h // 100), max(1, w // 100)  # within 1% of the border
    touches_side = cols.start < near_x or cols.stop > w - near_x
    touches_end = rows.start < near_y or rows.stop > h - near_y
    across = (cols.start < near_x and cols.stop > w - near_x) or (
        rows.start < near_y and rows.stop > h - near_y
    )
    return (
        (touches_side and touches_end)  # a corner: the table, a shadow's corner
        or (touches_side and span_rows > BORDER_SPAN)
        or (touches_end and span_cols > BORDER_SPAN)
        or across  # from one side to the other: a shadow's edge, a fold
    )


def _main_group(boxes: list, first: int, joinable: np.ndarray) -> np.ndarray:
    """Component ``first`` plus every joinable one whose box comes within GROUP_REACH of the
    group's size (grown until nothing more joins): the digit's pieces, not other marks."""
    index = np.flatnonzero(joinable)
    group = np.zeros_like(joinable)
    group[first] = True
    top, bottom = boxes[first][0].start, boxes[first][0].stop
    left, right = boxes[first][1].start, boxes[first][1].stop
    grew = True
    while grew:
        grew = False
        reach = GROUP_REACH * max(bottom - top, right - left)
        for i in index:
            if group[i]:
                continue
            rows, cols = boxes[i]
            gap_y = max(top - rows.stop, rows.start - bottom, 0)
            gap_x = max(left - cols.stop, cols.start - right, 0)
            if max(gap_y, gap_x) <= reach:
                group[i] = grew = True
                top, bottom = min(top, rows.start), max(bottom, rows.stop)
                left, right = min(left, cols.start), max(right, cols.stop)
    return group

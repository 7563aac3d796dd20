"""Straight lines found and removed: rulings, grids, margins, a sheet's or shadow's edge.

A Hough transform on the ink reduced ``LINE_REDUCE`` times finds lines within ``LINE_TILT``
degrees of horizontal and vertical; three or more parallel ones at a regular pitch are a
ruling (whatever the pitch, colour, contrast or perspective), and a lone line counts only
where it crosses nearly the whole picture away from its edges. Each line's own course is
fitted, and only its pixels go: where a stroke of the digit lies along it or crosses it,
the digit's pixels stay.
"""

from __future__ import annotations

import numpy as np

from drawdigit.pictures.grid import as_blocks

# Straight lines (ruling, grids, margins, straight paper or shadow edges) are looked for
# within LINE_TILT degrees of horizontal and vertical, every LINE_STEP degrees, on the mask
# reduced LINE_REDUCE times; a line runs along at least LINE_VOTES of the picture, and a lone
# line (not one of a ruling) along LINE_SPAN of it.
LINE_TILT = 16.0
LINE_STEP = 0.5
LINE_REDUCE = 4
LINE_VOTES = 0.35
LINE_SPAN = 0.9
# ...and, for a lone line, at least this share of the picture away from its edges.
EDGE_CLEAR = 0.1
# This many parallel lines or more are a ruling (or a grid's lines in one direction).
RULING_LINES = 3
# ...within this many radians of the ruling's median angle (perspective tilts them apart).
RULING_TILT = np.deg2rad(4.0)
# ...and holding at least this share of the votes of the third strongest line.
RULING_SHARE = 0.6
# A printed line is at most this share of 3 reduced pixels wide; wider, a marker's stroke.
LINE_FILL = 0.5


def straight_lines(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixels of ``mask`` on long straight lines within LINE_TILT of horizontal or vertical,
    minus where a stroke of the digit crosses them: (a ruling's lines: ruled paper, a grid at
    any pitch, seen at an angle; lone lines: a margin, the sheet's or a shadow's straight
    edge, but perhaps a digit's own long stroke).

    A Hough transform on the mask reduced LINE_REDUCE times: each edge pixel (the top of a
    run for near-horizontal lines, the left for near-vertical ones, so a line votes once per
    pixel of its length whatever its width) votes for every line through it; a line holds
    votes along LINE_VOTES of the picture. RULING_LINES such parallel lines at a regular
    pitch are a ruling; other lines count only where they cross nearly the whole picture
    (LINE_SPAN) away from its edges."""
    from scipy import ndimage

    f = LINE_REDUCE
    small = as_blocks(mask, f).max(axis=(1, 3))
    # First every line's band of ink pixels, both directions (a line is thin: along its
    # length, the median over its columns, ink fills a small part of the band around it;
    # a marker's stroke fills it, and then it is the digit's)...
    bands: list[tuple[int, np.ndarray, bool]] = []  # (axis, pixel indices, in a ruling)
    for axis in (0, 1):  # 0: near-horizontal lines (running along x), 1: near-vertical
        m = small if axis == 0 else small.T
        length = m.shape[1]
        edges = m & ~np.pad(m, ((1, 0), (0, 0)))[:-1]
        ys, xs = np.nonzero(edges)
        if ys.size < LINE_VOTES * length:
            continue
        peaks = _hough_peaks(ys, xs, m.shape, LINE_VOTES * length, LINE_SPAN * length)
        if not peaks:
            continue
        ys, xs = np.nonzero(mask if axis == 0 else mask.T)
        for theta, lines in peaks.items():
            # distances from each ink pixel to the line family at this angle, full scale
            rho = (ys + 0.5) * np.cos(theta) - (xs + 0.5) * np.sin(theta)
            for r, _votes, regular in lines:
                near = _line_pixels(rho, xs, f * (r + 1.0), f)
                if near.size == 0:
                    continue
                across = np.bincount(xs[near])
                if np.median(across[across > 0]) > LINE_FILL * 3 * f:
                    continue
                rows, cols = (ys[near], xs[near]) if axis == 0 else (xs[near], ys[near])
                bands.append((axis, np.ravel_multi_index((rows, cols), mask.shape), regular))
    # ...then, where the ink across a line (less the lines crossing it) is much wider than
    # the line, a stroke lies along it: those pixels stay.
    crossing = [np.zeros(mask.size, bool), np.zeros(mask.size, bool)]
    for axis, pixels, _ in bands:
        crossing[axis][pixels] = True
    found = {True: np.zeros(mask.size, bool), False: np.zeros(mask.size, bool)}
    for axis, pixels, regular in bands:
        own = pixels[~crossing[1 - axis][pixels]]
        along = np.unravel_index(own, mask.shape)[1 - axis]  # position along the line
        if own.size == 0:
            found[regular][pixels] = True
            continue
        across = np.bincount(along)
        width = float(np.median(across[across > 0]))
        wide = np.zeros(mask.shape[1 - axis], bool)
        wide[: across.size] = across > 1.5 * width + 1.0
        position = np.unravel_index(pixels, mask.shape)[1 - axis]
        found[regular][pixels[~wide[position]]] = True
    found = {k: v.reshape(mask.shape) for k, v in found.items()}
    ruling, lone = found[True], found[False]
    if not (ruling.any() or lone.any()):
        return ruling, lone
    # Keep line pixels bridged by ink on both sides across the line: the digit crossing it.
    rest = mask & ~ruling & ~lone
    bridged = np.zeros_like(rest)
    for axis in (0, 1):  # a closing across the line, one axis at a time (1-D filters: fast)
        wide = ndimage.maximum_filter1d(rest, 3 * f + 1, axis=axis)
        bridged |= ndimage.minimum_filter1d(wide, 3 * f + 1, axis=axis)
    return ruling & ~bridged, lone & ~bridged


def _line_pixels(rho: np.ndarray, along: np.ndarray, centre: float, f: int) -> np.ndarray:
    """Indices of the ink pixels on one line found near offset ``centre`` (``rho``: each ink
    pixel's offset at the line's angle; ``along``: its position along the line). The Hough
    angle is only good to a reduced pixel over the line's length, so the line's own course
    is fitted first: the median offset in each eighth of its length, a straight line
    through them; then the pixels within half its width (plus 1.5 px) of that course."""
    wide = np.flatnonzero(np.abs(rho - centre) <= 3 * f)
    if wide.size < 8:
        return wide[:0]
    pos, off = along[wide], rho[wide]
    edges = np.linspace(pos.min(), pos.max() + 1, 9)
    which = np.digitize(pos, edges) - 1
    points = [
        (float(np.median(pos[which == k])), float(np.median(off[which == k])))
        for k in range(8)
        if np.count_nonzero(which == k) >= 3
    ]
    if len(points) >= 2:
        slope, intercept = np.polyfit(*np.array(points).T, 1)
        course = slope * pos + intercept
    else:
        course = np.full(pos.shape, np.median(off))
    distance = np.abs(off - course)
    core = distance <= f
    counts = np.bincount(pos[core])
    width = float(np.median(counts[counts > 0])) if core.any() else 1.0
    return wide[distance <= width / 2.0 + 1.5]


def _hough_peaks(
    ys: np.ndarray, xs: np.ndarray, shape: tuple[int, int], least: float, alone: float
) -> dict[float, list[tuple[int, int, bool]]]:
    """The lines (angle -> (offset, votes, in a ruling), in pixels of ``shape``) through at
    least ``least`` of the points (ys, xs) that form a ruling (``_regular``), and those that
    hold ``alone`` points (across nearly the whole picture) clear of its edges."""
    h, w = shape
    angles = np.deg2rad(np.arange(-LINE_TILT, LINE_TILT + 1e-9, LINE_STEP))
    offset = int(np.ceil(w * np.sin(np.deg2rad(LINE_TILT)))) + 1
    bins = h + 2 * offset + 2
    py, px = ys + 0.5, xs + 0.5
    votes = np.empty((angles.size, bins), np.int32)
    for k, theta in enumerate(angles):
        rho = np.floor(py * np.cos(theta) - px * np.sin(theta)).astype(np.int64) + offset
        votes[k] = np.bincount(rho, minlength=bins)[:bins]
    # a line one pixel wide may fall across two neighbouring bins
    votes[:, :-1] += votes[:, 1:]
    from scipy import ndimage

    peak = votes == ndimage.maximum_filter(votes, size=(5, 5), mode="constant")
    ks, rs = np.nonzero(peak & (votes >= least))
    # one line per offset (a plateau of equal votes is one line, not several)
    order = np.argsort(-votes[ks, rs], kind="stable")
    kept: list[tuple[int, int]] = []
    for k, r in zip(ks[order].tolist(), rs[order].tolist(), strict=True):
        if all(abs(r - r2) > 2 or abs(k - k2) > 4 for k2, r2 in kept):
            kept.append((k, r))
    # A ruling: RULING_LINES or more parallel lines at a regular pitch (the pitch may drift
    # across the picture with the perspective); a digit's strokes are neither. Other lines
    # go only where they cross nearly the whole picture clear of its edges (a margin, a
    # shadow's edge: a tightly cropped digit's stroke along the frame is neither).
    middle = [(r - offset + 0.5 * w * np.sin(angles[k])) / np.cos(angles[k]) for k, r in kept]
    ruling = _regular(kept, [int(votes[k, r]) for k, r in kept], middle, angles)
    clear = EDGE_CLEAR * h
    found: dict[float, list[tuple[int, int, bool]]] = {}
    for (k, r), y, regular in zip(kept, middle, ruling, strict=True):
        if regular or (votes[k, r] >= alone and clear <= y <= h - clear):
            found.setdefault(float(angles[k]), []).append((r - offset, int(votes[k, r]), regular))
    return found


def _regular(
    kept: list[tuple[int, int]], votes: list[int], middle: list[float], angles: np.ndarray
) -> list[bool]:
    """Which of the lines (angle index, offset; their ``votes``, strongest first; ``middle``:
    where each crosses the picture's middle) belong to a ruling: about as strong as the
    ruling's lines (the third strongest: a ruling has three or more), near their median
    angle, and each a whole number of pitches (the median gap between neighbours) from a
    neighbour of the ruling. (Weaker lines across the grid's crossings at other angles,
    and the picture's own edge, are not.)"""
    out = [False] * len(kept)
    if len(kept) < RULING_LINES:
        return out
    strong = [i for i in range(len(kept)) if votes[i] >= RULING_SHARE * votes[RULING_LINES - 1]]
    main = float(np.median([angles[kept[i][0]] for i in strong]))
    near = [i for i in strong if abs(angles[kept[i][0]] - main) <= RULING_TILT]
    if len(near) < RULING_LINES:
        return out
    near.sort(key=lambda i: middle[i])
    gaps = np.diff([middle[i] for i in near])
    pitch = float(np.median(gaps))
    if pitch < 3.0:
        return out
    steps = gaps / pitch
    whole = (np.abs(steps - np.round(steps)) <= 0.25) & (np.round(steps) >= 1) & (steps <= 3.5)
    for j, i in enumerate(near):
        if (j > 0 and whole[j - 1]) or (j < len(whole) and whole[j]):
            out[i] = True
    if sum(out) < RULING_LINES:
        return [False] * len(kept)
    return out

"""Stroke weight: a candidate's ink at its own tone, cropped, its stroke brought to MNIST's.

A fine pen is thickened and a fat marker thinned with a distance transform (thinning opens
a loop, it never closes one); the crop is first reduced to ``DETAIL`` px, a fat marker's
shape by block means so that its small loops stay open, a hairline's by block maxima so
that it stays a line.
"""

from __future__ import annotations

import numpy as np

from drawdigit.field import BOX
from drawdigit.pictures.grid import as_blocks

# The digit is what is darker than this fraction of its own typical tone.
INK_FRACTION = 0.35
# Stroke width in the 28x28 field (ink's longer side = 20 px) that pictures are brought to,
# and the band within which a picture's own width is kept as it is (measured: docs/benchmarks.md).
STROKE_TARGET = 2.6
# The digit's crop is reduced to at most this many pixels (4x the 20 px it becomes) before
# its stroke weight is measured and changed.
DETAIL = 80
STROKE_BAND = (0.4, 2.5)


def weighed(ink: np.ndarray, digit: np.ndarray, least: float) -> np.ndarray | None:
    """The digit's pixels at the ink's own tone, cropped, with MNIST's stroke weight; None
    when the digit's ink peaks below ``least`` (MIN_CONTRAST for a clean picture as it is,
    MIN_INK for a photo's flattened ink)."""
    if not digit.any():
        return None
    # The ink's own tone: a high quantile over the digit's pixels (a pen's core, not its
    # anti-aliased edge), so a faint pencil and a black marker both reach 1.
    peak = float(np.percentile(ink[digit], 90))
    if peak < least:
        return None
    tone = np.clip(ink / peak, 0.0, 1.0)
    return stroke_weight(digit & (tone > INK_FRACTION), tone)


def stroke_weight(digit: np.ndarray, tone: np.ndarray) -> np.ndarray:
    """The digit's ink, cropped and at most DETAIL px, with its stroke width brought into
    MNIST's range.

    The crop is first reduced to DETAIL px (four times the 20 px it becomes: the distance
    transforms then cost the same for a photo as for a thumbnail). Width = twice the
    distance transform along the strokes' ridge, minus one. Inside STROKE_BAND of the target
    the picture's own anti-aliased ink is kept; a hairline is thickened and a fat marker
    thinned to the target on the binary shape.
    """
    from scipy import ndimage

    rows = np.flatnonzero(digit.any(axis=1))
    cols = np.flatnonzero(digit.any(axis=0))
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    near = ndimage.maximum_filter(digit[r0:r1, c0:c1], 3)  # (binary_dilation: 10x slower)
    patch = (tone[r0:r1, c0:c1] * near).astype(np.float32)
    mask = digit[r0:r1, c0:c1]
    if max(patch.shape) > DETAIL:
        # Block means for the ink; for the shape, block maxima (a hairline stays a line)
        # unless the strokes are wide even so, then the blocks mostly inked (the maxima
        # would close a fat marker's small loops: the holes of a 6, 8 or 9).
        f = -(-max(patch.shape) // DETAIL)
        patch = as_blocks(patch, f).mean(axis=(1, 3))
        inked = as_blocks(mask, f).mean(axis=(1, 3))
        mask = inked >= 0.5
        if not mask.any() or np.median(ndimage.distance_transform_cdt(mask)[mask]) < 2:
            mask = inked > 0
    pad = 4 + int(0.1 * max(patch.shape))
    patch, mask = np.pad(patch, pad), np.pad(mask, pad)
    if not mask.any():
        return patch
    inside = ndimage.distance_transform_edt(mask)
    ridge = mask & (inside >= ndimage.maximum_filter(inside, 3) - 1e-6)
    width = 2.0 * float(np.median(inside[ridge])) - 1.0
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    extent = float(max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1)
    target = STROKE_TARGET * extent / BOX  # in patch pixels
    ratio = width / target
    if STROKE_BAND[0] <= ratio <= STROKE_BAND[1]:
        return patch
    if ratio < STROKE_BAND[0]:
        outside = ndimage.distance_transform_edt(~mask)
        return (outside <= (target - width) / 2.0).astype(np.float32)
    return ((inside > (width - target) / 2.0) | ridge).astype(np.float32)

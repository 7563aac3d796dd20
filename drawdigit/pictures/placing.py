"""The digit's ink into the 28x28 field as MNIST's were placed: cropped, its longer side
scaled to 20 px, softened, its centre of mass at the centre."""

from __future__ import annotations

import numpy as np

from drawdigit.field import BOX, CENTRE, INK_THRESHOLD, SIZE, brightest_at_one, centre_of_mass


def to_field(ink: np.ndarray) -> np.ndarray | None:
    """The digit's ink -> cropped, longer side 20 px, softened, centre of mass at the centre."""
    rows = np.flatnonzero((ink > INK_THRESHOLD).any(axis=1))
    cols = np.flatnonzero((ink > INK_THRESHOLD).any(axis=0))
    if rows.size == 0:
        return None
    ink = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    ink = np.where(ink > INK_THRESHOLD * 0.5, ink, 0.0).astype(np.float32)
    patch = soften(resize_longer_side(ink, BOX))
    mass = float(patch.sum())
    if mass <= 1e-6:
        return None
    cy, cx = centre_of_mass(patch, mass)
    return brightest_at_one(place(patch, CENTRE - cy, CENTRE - cx))


def resize_longer_side(ink: np.ndarray, box: float) -> np.ndarray:
    """Scale so the longer side is ``box`` px, anti-aliased (area-weighted when shrinking)."""
    from PIL import Image

    h, w = ink.shape
    scale = box / max(h, w)
    new_w = max(1, round(w * scale))
    new_h = max(1, round(h * scale))
    resized = Image.fromarray(ink, mode="F").resize((new_w, new_h), Image.Resampling.BILINEAR)
    return np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)


def soften(patch: np.ndarray, side: float = 0.15) -> np.ndarray:
    """A light separable [0.15, 0.7, 0.15] blur (one pixel wider): a picture's edges are
    crisp after resizing; this brings them near the soft edge the strokes are rendered with
    (on unipen drawings saved as PNG: 97.4% -> 97.8% unflagged, the strokes giving 97.6%)."""
    centre = 1.0 - 2.0 * side
    padded = np.pad(patch, 2)
    rows = side * padded[:-2] + centre * padded[1:-1] + side * padded[2:]
    out = side * rows[:, :-2] + centre * rows[:, 1:-1] + side * rows[:, 2:]
    return out.astype(np.float32)


def place(patch: np.ndarray, dy: float, dx: float, size: int = SIZE) -> np.ndarray:
    """Put ``patch`` into the size x size field shifted by (dy, dx) px; sub-pixel = bilinear."""
    iy, ix = int(np.floor(dy)), int(np.floor(dx))
    fy, fx = dy - iy, dx - ix
    h, w = patch.shape
    padded = np.zeros((h + 1, w + 1), dtype=np.float32)
    padded[:h, :w] += patch * ((1 - fy) * (1 - fx))
    padded[1:, :w] += patch * (fy * (1 - fx))
    padded[:h, 1:] += patch * ((1 - fy) * fx)
    padded[1:, 1:] += patch * (fy * fx)
    out = np.zeros((size, size), dtype=np.float32)
    top, left = iy, ix
    sy0, sx0 = max(0, -top), max(0, -left)
    dy0, dx0 = max(0, top), max(0, left)
    hh = min(h + 1 - sy0, size - dy0)
    ww = min(w + 1 - sx0, size - dx0)
    if hh > 0 and ww > 0:
        out[dy0 : dy0 + hh, dx0 : dx0 + ww] = padded[sy0 : sy0 + hh, sx0 : sx0 + ww]
    return out

"""Paper and light: colour to ink contrast, a clean drawing told from a photo, uneven light
flattened into even paper.

Ink is the minority, so the paper is the median tone and ink lies on the side of it that
reaches further. The paper's brightness is estimated on a coarse grid with a grey closing
wide enough for a fat marker, and again at half scale with a closing a few pen widths wide
when the pen is far thinner (a closing keeps a hard shadow's edge sharp); dividing by it
turns shadows, vignetting and the table around a sheet into paper.
"""

from __future__ import annotations

import numpy as np

from drawdigit.pictures.grid import as_blocks, enlarged

# The paper's brightness is estimated on a grid of this many cells along the longer side and
# closed over CLOSING_CELLS cells: ink narrower than ~CLOSING_CELLS/GRID_CELLS of the picture
# is removed from the estimate, larger dark regions (shadows, the table) are kept in it.
GRID_CELLS = 128
CLOSING_CELLS = 24
# When the pen is thinner, the paper is measured again at half scale with a closing this many
# times the pen's width (and at least FINE_LEAST of the picture's longer side).
FINE_WIDTHS = 4.0
FINE_LEAST = 0.015
# The paper's residual level is measured in blocks of 1/LEVEL_CELLS of the longer side and
# trusted up to LEVEL_LIMIT.
LEVEL_CELLS = 8
LEVEL_LIMIT = 0.1
# A picture is a clean drawing when at least this fraction of it is within CLEAN_TOLERANCE of
# one paper tone (see clean_ink).
CLEAN_PAPER = 0.5
CLEAN_TOLERANCE = 2.5 / 255
# A clean picture whose ink differs from its paper by less than this has no digit (also
# drawdigit.segment's test for a blank picture)...
MIN_CONTRAST = 0.15
# ...and a photo's, once its light is flattened and its noise measured: faint pencil under
# a shadow reaches 0.1 (synthetic pencil photos: 58% read at 0.15, 75% at 0.08).
MIN_INK = 0.08
# Ink is measured from at least this far above the paper (below it: shadows' soft rims).
MIN_FLOOR = 0.05
# Light ink on dark paper is checked against the paper's level in this many blocks a side.
POLARITY_CELLS = 8
# Ink is darker than the paper by more than this many deviations of its noise.
NOISE_SIGMAS = 5.0


def contrast_gray(rgb: np.ndarray) -> np.ndarray:
    """Colour (H, W, 3), uint8 or floats in [0, 1] -> one float32 channel in which the ink
    stands out most.

    Light paper: divide each channel by the paper's colour (its median: ink is the minority)
    and take the darkest channel, so red ink on pink paper or blue ink on a yellow note is as
    dark as black ink on white, while the paper (and faint blue ruling) stays light. Dark
    paper: the brightest channel, so any light ink shows. Gray pictures pass unchanged.
    (Channel by channel: numpy's reductions over a last axis of 3 cost ten times as much.)
    """
    rgb = np.asarray(rgb)
    unit = np.float32(1.0 / 255.0 if rgb.dtype == np.uint8 else 1.0)
    sample = rgb[::4, ::4].astype(np.float32) * unit
    red = rgb[..., 0].astype(np.float32) * unit
    if np.ptp(sample, axis=2).max(initial=0.0) < 1.0 / 64:  # gray stored as colour
        return red
    green, blue = (rgb[..., c].astype(np.float32) * unit for c in (1, 2))
    if not ink_is_dark(0.299 * red + 0.587 * green + 0.114 * blue):
        return np.maximum(np.maximum(red, green), blue)
    paper = np.maximum(np.median(sample.reshape(-1, 3), axis=0), 1.0 / 32)
    balanced = np.minimum(np.minimum(red / paper[0], green / paper[1]), blue / paper[2])
    # Paper in better light than the median (half a sheet in shadow) is brighter than 1: scale
    # it back rather than clip it, or the ink written there would be clipped away with it.
    top = float(np.percentile(balanced[::4, ::4], 99.5))
    return np.clip(balanced / max(top, 1.0), 0.0, 1.0)


def clean_ink(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """A clean drawing's ink and where it is; None when the picture needs the photo cleaning.

    Clean: most of the picture is one exact paper tone (a paint program's canvas, a cleaned
    scan; a photo's paper is never that even) and no ink touches its border (no paper edge,
    shadow or table). Such a picture has nothing to flatten, threshold against noise or
    remove, so it skips all of that: a 280x280 drawing costs ~1 ms instead of ~11 ms
    (benchmarks/bench_pictures.py) and reads the same.
    """
    sample = gray[::3, ::3]
    paper = float(np.median(sample))
    if np.count_nonzero(np.abs(sample - paper) <= CLEAN_TOLERANCE) < CLEAN_PAPER * sample.size:
        return None
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    if np.abs(border - paper).max() > CLEAN_TOLERANCE:
        return None
    dark = float(sample.mean()) <= paper  # ink is whatever is not paper, all on one side
    ink = (
        (paper - gray) / max(paper, 1.0 / 64)
        if dark
        else (gray - paper) / max(1.0 - paper, 1.0 / 64)
    )
    ink = np.clip(ink, 0.0, 1.0).astype(np.float32)
    return ink, ink > MIN_FLOOR


def ink_strength(gray: np.ndarray) -> np.ndarray:
    """Gray picture -> how much darker than its paper each pixel is (paper at 0).

    Light paper with dark ink either way round; the light flattened, so 0 is paper wherever
    it lies (in a shadow or not) and 0.6 is ink that reflects 40% of what its paper does.
    """
    if not ink_is_dark(gray):
        gray = 1.0 - gray
    ink = 1.0 - gray / _paper_brightness(gray)
    # The closing lifts the estimate by the noise's highs, more where the paper is dim (in a
    # shadow): the paper's own level, block by block, is taken off.
    ink -= _local_level(ink)
    # Paper sits at 0 give or take its noise (its median: ink is the minority).
    level = float(np.median(ink[::4, ::4]))
    return np.maximum(ink - level, 0.0).astype(np.float32)


def dark_ink(gray: np.ndarray) -> np.ndarray:
    """``gray`` with its ink dark (light ink on dark paper turned over)."""
    return gray if ink_is_dark(gray) else 1.0 - gray


def ink_is_dark(gray: np.ndarray) -> bool:
    """Ink is the minority: the paper is the median tone, and ink lies on the side of it that
    reaches further (a dim photo of white paper still has dark ink).

    A sheet half in a hard shadow has two papers, and its lit half reaches further above
    the median (the shadowed paper) than dark ink below it: 42 of 630 synthetic photos were
    read as light ink on dark paper. So light ink is believed only if it also reaches
    further from the paper around it, the median of each of POLARITY_CELLS x POLARITY_CELLS
    blocks (which steps with the shadow: 11 of 630 then). A fat marker that covers much of
    its blocks fools that test, never the first one, which says dark for it."""
    sample = gray[:: max(1, gray.shape[0] // 128), :: max(1, gray.shape[1] // 128)]
    paper = float(np.median(sample))
    low, high = np.percentile(gray[::2, ::2], [0.05, 99.95])
    if paper - float(low) >= float(high) - paper:
        return True
    f = max(1, -(-max(gray.shape) // 512))
    small = as_blocks(gray, f, mode="edge").mean(axis=(1, 3)) if f > 1 else gray
    h, w = small.shape
    cell = max(2, -(-max(h, w) // POLARITY_CELLS))
    blocks = as_blocks(small, cell, mode="edge")
    gh, gw = blocks.shape[0], blocks.shape[2]
    level = np.median(blocks.transpose(0, 2, 1, 3).reshape(gh, gw, -1), axis=2)
    around = small - enlarged(level.astype(np.float32), cell, (h, w))
    low, high = np.percentile(around, [0.05, 99.95])
    return -float(low) >= float(high)


def _paper_brightness(gray: np.ndarray) -> np.ndarray:
    """The paper's brightness under each pixel; dividing by it turns uneven light into even
    paper.

    First from a coarse grid: the mean of each cell (noise averages out; the brightest pixel
    would follow the noise), then a grey closing over CLOSING_CELLS cells (ink is gone,
    shadows stay), smoothly enlarged back. That closing is wide enough for a fat marker,
    but a grid's cell blurs a hard shadow's edge over a cell on each side, and the dim side
    of that blur reads as a stroke along the edge. So when the ink it finds is drawn with a
    pen far thinner than the closing (a ballpoint, a pencil: most photos), the paper is
    measured again at half the scale with a closing FINE_WIDTHS times the pen's width: a
    closing keeps a step exactly, so the shadow's edge stays sharp."""
    from scipy import ndimage

    h, w = gray.shape
    cell = max(1, int(np.ceil(max(h, w) / GRID_CELLS)))
    grid = as_blocks(gray, cell, mode="edge").mean(axis=(1, 3))
    grid = ndimage.grey_closing(grid, size=(CLOSING_CELLS, CLOSING_CELLS), mode="nearest")
    coarse = np.maximum(enlarged(grid, cell, (h, w)), 1.0 / 64)
    half = as_blocks(gray, 2, mode="edge").mean(axis=(1, 3))
    width = _pen_width(1.0 - half / coarse[::2, ::2][: half.shape[0], : half.shape[1]])
    window = int(np.ceil(max(FINE_WIDTHS * width, FINE_LEAST * max(h, w) / 2.0)))
    if width <= 0.0 or window >= CLOSING_CELLS * cell / 2:
        return coarse
    half = ndimage.uniform_filter(half, 3, mode="nearest")
    fine = ndimage.grey_closing(half, size=(window, window), mode="nearest")
    return np.maximum(enlarged(fine, 2, (h, w)), 1.0 / 64)


def _pen_width(ink: np.ndarray) -> float:
    """The typical width in pixels of the strokes in ``ink``: the median length of the runs
    of ink across rows and columns (each run counted once, so the many short runs across a
    pen's strokes outvote the few long ones of a blob: the table, a shadow the coarse
    closing filled), counting what stands well above the noise away from the picture's
    rim; 0 when nothing does."""
    h, w = ink.shape
    ink = ink[h // 10 : h - h // 10, w // 10 : w - w // 10]
    sample = ink[::4, ::4]
    centre = float(np.median(sample))
    spread = 1.4826 * float(np.median(np.abs(sample - centre)))
    mask = ink > max(centre + 2 * NOISE_SIGMAS * spread, MIN_INK)
    if not mask.any():
        return 0.0
    lengths = []
    for m in (mask, mask.T):
        padded = np.pad(m, ((0, 0), (1, 1))).astype(np.int8)
        step = np.diff(padded, axis=1).ravel()
        lengths.append(np.flatnonzero(step == -1) - np.flatnonzero(step == 1))
    return float(np.median(np.concatenate(lengths)))


def _local_level(ink: np.ndarray) -> np.ndarray:
    """The paper's level in ``ink`` under each pixel: the median of blocks 1/LEVEL_CELLS of the
    longer side (ink is the minority), smoothly enlarged, kept within LEVEL_LIMIT (a block
    that a marker's stroke mostly covers; measured: the lower quartile read 1% fewer photos)."""
    h, w = ink.shape
    cell = max(2, int(np.ceil(max(h, w) / LEVEL_CELLS))) // 2 * 2
    blocks = as_blocks(ink[::2, ::2], cell // 2, mode="edge")
    gh, gw = blocks.shape[0], blocks.shape[2]
    level = np.median(blocks.transpose(0, 2, 1, 3).reshape(gh, gw, -1), axis=2)
    return enlarged(np.clip(level, -LEVEL_LIMIT, LEVEL_LIMIT), cell, (h, w))

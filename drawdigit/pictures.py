"""Pictures of one handwritten digit (phone photos, scans, paint programs) -> MNIST-like ink.

A drawing on the canvas is clean by construction; a picture is not. A phone photo of a
sticky note carries a rotation tag, uneven light, a shadow, the paper's edge and the table
around it, JPEG noise, coloured ink on coloured paper, and a pen far thinner (or a marker far
fatter) than MNIST's strokes. Every step here exists because one of those broke the old
"median of the border, crop to anything dark" reading (benchmarks/bench_pictures.py):

1. read upright (EXIF orientation) and small: a 12-megapixel photo is reduced while it is
   decoded (JPEG draft mode) or right after, to ``WORK_SIDE`` px, before any per-pixel work;
2. colour -> one channel in which ink contrasts with the paper: white-balanced by the paper's
   own colour, then the darkest channel (red or blue ink, yellow or pink paper); paper lit
   better than the median is scaled back, not clipped (clipping erased the pencil written
   on the lit half of a half-shadowed sheet);
   a clean drawing (one exact paper tone, nothing at the border: a paint program's) has
   nothing to clean and goes straight to step 7 (``clean_ink``);
3. paper vs ink: ink is the minority, so the paper is the median and ink is on the side of it
   that reaches further (a dim photo of white paper stays dark ink on light paper);
4. uneven light flattened: the paper's brightness is estimated on a grid (GRID_CELLS) with a
   grey closing wider than any stroke, and the picture is divided by it; shadows, vignetting
   and the table around a sheet become paper. When the pen is far thinner than that closing
   (a ballpoint, a pencil), the paper is measured again at half scale with a closing a few
   pen widths wide, which keeps a hard shadow's edge sharp (the grid blurred it into a band
   that read as a stroke). The closing rides on the noise's highs, more so in a shadow, so
   the paper's remaining level is taken off block by block;
5. a threshold at NOISE_SIGMAS deviations of the noise of the smoothed ink that is
   thresholded (the pixels' own noise put faint pencil under it: 58% of pencil photos read
   before, 93% after); straight lines found by a Hough transform and removed where no stroke
   lies along or across them: a ruling or a grid (three or more parallel lines at a regular
   pitch, whatever the pitch, colour, contrast or perspective), a margin, a straight paper
   or shadow edge across the picture (``_straight_lines``);
6. candidates, not one choice: the strongest marks that could be a digit (no specks, no
   slivers along the picture, no remnants of removed lines), each with the pieces close to
   it (a 4 drawn in two strokes, a broken pencil line), inside the picture first and then
   along its border (a digit cropped tightly touches the frame); a mark no darker than the
   darker side of the paper around it (a shadow's rim) is untrusted. ``segment.cut`` cuts
   each like a clean drawing, and ``decide`` reads them all: the first the network finds
   plausibly one digit is the answer (``digit_candidates``, ``decide.pick``);
7. stroke weight: measured with a distance transform and brought into MNIST's range by
   thickening or thinning (see ``STROKE_TARGET``; thinning opens a fat marker's loops, it
   never closes them), then cropped, scaled to 20 px, softened and centred exactly like
   before.

The method and its figures: docs/pictures.md (benchmarks/bench_pictures.py measures them).

scipy.ndimage does the labelling, the distance transforms and the filters (C, one pass each);
it is imported only when a picture is read, so the app's start and the strokes path never pay
for it (docs/pictures.md: install size and import time measured).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drawdigit.field import BOX, CENTRE, INK_THRESHOLD, SIZE, brightest_at_one, centre_of_mass

# A picture is reduced to at most this many pixels on its longer side before any per-pixel
# work: a 4000x3000 photo then costs what a 1024x768 one does, and a digit that fills a tenth
# of the frame still spans ~100 px, five times the 20 px it becomes.
WORK_SIDE = 1024
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
# Ink is darker than the paper by more than this many noise deviations...
NOISE_SIGMAS = 5.0
# ...the digit's group is chosen among marks at least this fraction as dark as the darkest...
SEED_FRACTION = 0.5
# ...and the digit is what is darker than this fraction of its own typical tone.
INK_FRACTION = 0.35
# Marks with less than this fraction of the longest mark's pen line are specks.
SPECK_FRACTION = 0.08
# A mark touching the border along more than this fraction of that side is a paper edge or
# a shadow's rim, not a stroke of the digit.
BORDER_SPAN = 0.5
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
# Pieces whose box lies within this fraction of the digit's size from it belong to the digit.
GROUP_REACH = 0.35
# Stroke width in the 28x28 field (ink's longer side = 20 px) that pictures are brought to,
# and the band within which a picture's own width is kept as it is (measured: docs/benchmarks.md).
STROKE_TARGET = 2.6
# The digit's crop is reduced to at most this many pixels (4x the 20 px it becomes) before
# its stroke weight is measured and changed.
DETAIL = 80
STROKE_BAND = (0.4, 2.5)


class ImageError(Exception):
    """An image file cannot be read as a picture of a digit; the message names the file."""


@dataclass(frozen=True)
class InkCandidate:
    """One candidate piece of a photo's ink: ``ink`` (the digit's ink alone, bright on 0,
    cropped) and ``trusted``: darker than the paper on every side of it. A shadow's rim or
    the sheet's edge against the table is not (it is a step in the light that the
    flattening left behind), and is never answered as a sure digit (``segment.cut``)."""

    ink: np.ndarray
    trusted: bool = True


@dataclass(frozen=True)
class Picture:
    """A picture as read from a file: upright, transparency composited, at most WORK_SIDE px.

    ``rgb`` is what the window shows (uint8, (H, W, 3)); ``gray`` is what ``preprocess``
    reads (float32 in [0, 1], 1 = white), already converted so that coloured ink contrasts
    with coloured paper. Both have the same size, so what is shown is what is read.
    """

    rgb: np.ndarray
    gray: np.ndarray


def read_picture(path: Path | str) -> Picture:
    """Read an image file upright (EXIF orientation applied) and reduced to WORK_SIDE px.

    Transparency is composited onto paper that contrasts with the ink, so black or white ink
    on a transparent background reads as a digit. Raises ``ImageError`` naming the file for
    anything unreadable, empty, or larger than Pillow's decompression-bomb limit.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as opened:
            # JPEG decodes straight at 1/2, 1/4 or 1/8 size (the smallest that keeps at least
            # WORK_SIDE/2): a 12 MP photo at 1000x750 in a tenth of the time.
            opened.draft("RGB", (WORK_SIDE // 2, WORK_SIDE // 2))
            opened.load()
            image = ImageOps.exif_transpose(opened)
    except FileNotFoundError as exc:
        raise ImageError(f"{path}: no such file") from exc
    except Image.DecompressionBombError as exc:
        raise ImageError(
            f"{path}: the image is too large to open safely "
            f"(more than {2 * Image.MAX_IMAGE_PIXELS:,} pixels)"
        ) from exc
    except (UnidentifiedImageError, SyntaxError) as exc:
        raise ImageError(f"{path}: not an image Pillow can read") from exc
    except (OSError, ValueError) as exc:  # truncated or damaged data
        raise ImageError(f"{path}: damaged or unreadable image ({exc})") from exc
    if image.width == 0 or image.height == 0:
        raise ImageError(f"{path}: the image is empty (0 pixels)")
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        gray = np.asarray(_reduced(image.convert("F")), dtype=np.float32)
        top = float(gray.max())
        gray = np.clip(gray / (top if top > 1.0 else 1.0), 0.0, 1.0)
        rgb = np.repeat((gray * 255.0 + 0.5).astype(np.uint8)[..., None], 3, axis=2)
        return Picture(rgb=rgb, gray=gray)
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    if not has_alpha:
        rgb = np.asarray(_reduced(image.convert("RGB")))
        return Picture(rgb=rgb, gray=contrast_gray(rgb))
    rgba = np.asarray(_reduced(image.convert("RGBA")), np.float32)
    colour = rgba[..., :3] / 255.0
    if has_alpha:
        alpha = rgba[..., 3:] / 255.0
        if alpha.max() <= 0.0:
            raise ImageError(f"{path}: the image is fully transparent")
        # Ink is what is opaque; put it on paper of the opposite brightness.
        luma = colour @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        ink_level = float((luma * alpha[..., 0]).sum() / alpha.sum())
        paper = 1.0 if ink_level < 0.5 else 0.0
        colour = colour * alpha + paper * (1.0 - alpha)
    rgb = (colour * 255.0 + 0.5).astype(np.uint8)
    return Picture(rgb=rgb, gray=contrast_gray(colour))


def load_image(path: Path | str) -> np.ndarray:
    """An image file as float32 grayscale in [0, 1] (1 = white): ``read_picture(path).gray``."""
    return read_picture(path).gray


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
    if not _ink_is_dark(0.299 * red + 0.587 * green + 0.114 * blue):
        return np.maximum(np.maximum(red, green), blue)
    paper = np.maximum(np.median(sample.reshape(-1, 3), axis=0), 1.0 / 32)
    balanced = np.minimum(np.minimum(red / paper[0], green / paper[1]), blue / paper[2])
    # Paper in better light than the median (half a sheet in shadow) is brighter than 1: scale
    # it back rather than clip it, or the ink written there would be clipped away with it.
    top = float(np.percentile(balanced[::4, ::4], 99.5))
    return np.clip(balanced / max(top, 1.0), 0.0, 1.0)


def normalise_picture(image: np.ndarray) -> np.ndarray | None:
    """A picture of a digit (any size; gray, RGB or RGBA) -> MNIST-style 28x28, or None.

    None means no ink stands out from the paper (a blank page, a uniform colour, noise).
    """
    gray = work_gray(image)
    if gray.size == 0:
        return None
    clean = clean_ink(gray)
    if clean is None:
        candidates = digit_candidates(ink_strength(gray), _dark_ink(gray))
        digit = candidates[0].ink if candidates else None
    else:
        digit = _weighed(*clean, MIN_CONTRAST)
    if digit is None:
        return None
    return _to_field(digit)


def picture_candidates(image: np.ndarray) -> list[InkCandidate] | None:
    """A picture -> the candidate pieces of ink that may be its digit (``digit_candidates``,
    the cleaning's own choice first), each a clean picture (ink bright on 0, cropped); None
    for a clean drawing, which has nothing to choose from and is read as it is."""
    gray = work_gray(image)
    if gray.size == 0:
        return []
    if clean_ink(gray) is not None:
        return None
    return digit_candidates(ink_strength(gray), _dark_ink(gray))


# --------------------------------------------------------------------------- steps


def work_gray(image: np.ndarray) -> np.ndarray:
    """Any numeric picture -> float32 gray in [0, 1], reduced to at most WORK_SIDE px."""
    a = np.asarray(image)
    if a.ndim == 3 and a.shape[2] in (3, 4) and a.dtype == np.uint8:
        from PIL import Image  # reduce the bytes first: 12 MP of floats cost ~0.5 s

        small = _reduced(Image.fromarray(np.ascontiguousarray(a[..., :3]), mode="RGB"))
        return contrast_gray(np.asarray(small))
    if a.ndim == 3 and a.shape[2] in (3, 4):
        return contrast_gray(_reduced_array(unit_gray(a[..., :3])))
    if a.ndim != 2:
        raise ValueError(f"expected a picture (H, W) or (H, W, 3|4), got shape {a.shape}")
    return _reduced_array(unit_gray(a))


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
    if not _ink_is_dark(gray):
        gray = 1.0 - gray
    ink = 1.0 - gray / _paper_brightness(gray)
    # The closing lifts the estimate by the noise's highs, more where the paper is dim (in a
    # shadow): the paper's own level, block by block, is taken off.
    ink -= _local_level(ink)
    # Paper sits at 0 give or take its noise (its median: ink is the minority).
    level = float(np.median(ink[::4, ::4]))
    return np.maximum(ink - level, 0.0).astype(np.float32)


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
    ruling, lone = _straight_lines(mask)
    groups = []
    for removed in (ruling | lone, ruling) if lone.any() else (ruling,):
        near = ndimage.maximum_filter(removed, 5) if removed.any() else None
        groups += _candidate_groups(mask & ~removed, smooth, floor, near, gray)
    out = []
    for labels, group, trusted in groups:
        digit = _weighed(ink, _chosen(labels, group), MIN_INK)
        if digit is not None:
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
    inside = candidates & ~border & digitlike & (strength * 2.0 >= MIN_INK)
    strongest = float(strength[inside if inside.any() else candidates].max())
    joinable = candidates & (strength >= INK_FRACTION * strongest)
    if not joinable.any():
        return []
    joinable &= weight >= SPECK_FRACTION * weight[joinable & ~border].max(initial=0.0)
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
    joinable &= ~remnant
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


def _weighed(ink: np.ndarray, digit: np.ndarray, least: float) -> np.ndarray | None:
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
    return _stroke_weight(digit & (tone > INK_FRACTION), tone)


# --------------------------------------------------------------------------- helpers


def _reduced(image):  # PIL.Image -> PIL.Image
    """Shrink a PIL image so its longer side is at most WORK_SIDE (area average)."""
    from PIL import Image

    longer = max(image.width, image.height)
    if longer <= WORK_SIDE:
        return image
    factor = WORK_SIDE / longer
    size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
    return image.resize(size, Image.Resampling.BOX, reducing_gap=2.0)


def _reduced_array(a: np.ndarray) -> np.ndarray:
    """Float (H, W) or (H, W, 3) in [0, 1] -> at most WORK_SIDE px on the longer side."""
    longer = max(a.shape[0], a.shape[1])
    if longer <= WORK_SIDE:
        return a
    from PIL import Image

    factor = WORK_SIDE / longer
    size = (max(1, round(a.shape[1] * factor)), max(1, round(a.shape[0] * factor)))
    if a.ndim == 2:
        return np.asarray(
            Image.fromarray(a, mode="F").resize(size, Image.Resampling.BOX), dtype=np.float32
        )
    as8 = Image.fromarray((a * 255.0 + 0.5).astype(np.uint8), mode="RGB")
    return np.asarray(as8.resize(size, Image.Resampling.BOX), dtype=np.float32) / 255.0


def unit_gray(a: np.ndarray) -> np.ndarray:
    """Any numeric array -> float32 in [0, 1] (uint8, wider integers, bool, 0..1 or 0..255)."""
    if a.dtype == np.bool_:
        return a.astype(np.float32)
    if np.issubdtype(a.dtype, np.integer):
        top = 255.0 if a.dtype == np.uint8 or a.max(initial=0) <= 255 else float(a.max())
        return a.astype(np.float32) / top
    a = np.nan_to_num(a.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0)
    if a.size and a.max() > 1.0:  # floats on a 0..255 scale
        a = a / 255.0
    return np.clip(a, 0.0, 1.0)


def _dark_ink(gray: np.ndarray) -> np.ndarray:
    """``gray`` with its ink dark (light ink on dark paper turned over)."""
    return gray if _ink_is_dark(gray) else 1.0 - gray


def _ink_is_dark(gray: np.ndarray) -> bool:
    """Ink is the minority: the paper is the median tone, and ink lies on the side of it that
    reaches further (a dim photo of white paper still has dark ink)."""
    sample = gray[:: max(1, gray.shape[0] // 128), :: max(1, gray.shape[1] // 128)]
    paper = float(np.median(sample))
    low, high = np.percentile(gray[::2, ::2], [0.05, 99.95])
    return paper - float(low) >= float(high) - paper


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
    grid = _blocks(gray, cell, mode="edge").mean(axis=(1, 3))
    grid = ndimage.grey_closing(grid, size=(CLOSING_CELLS, CLOSING_CELLS), mode="nearest")
    coarse = np.maximum(_enlarged(grid, cell, (h, w)), 1.0 / 64)
    half = _blocks(gray, 2, mode="edge").mean(axis=(1, 3))
    width = _pen_width(1.0 - half / coarse[::2, ::2][: half.shape[0], : half.shape[1]])
    window = int(np.ceil(max(FINE_WIDTHS * width, FINE_LEAST * max(h, w) / 2.0)))
    if width <= 0.0 or window >= CLOSING_CELLS * cell / 2:
        return coarse
    half = ndimage.uniform_filter(half, 3, mode="nearest")
    fine = ndimage.grey_closing(half, size=(window, window), mode="nearest")
    return np.maximum(_enlarged(fine, 2, (h, w)), 1.0 / 64)


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
    blocks = _blocks(ink[::2, ::2], cell // 2, mode="edge")
    gh, gw = blocks.shape[0], blocks.shape[2]
    level = np.median(blocks.transpose(0, 2, 1, 3).reshape(gh, gw, -1), axis=2)
    return _enlarged(np.clip(level, -LEVEL_LIMIT, LEVEL_LIMIT), cell, (h, w))


def _enlarged(grid: np.ndarray, cell: int, shape: tuple[int, int]) -> np.ndarray:
    """A grid of cell x cell blocks back to pixels (bilinear, cell centres to pixel centres)."""
    from PIL import Image

    gh, gw = grid.shape
    big = Image.fromarray(grid.astype(np.float32), mode="F").resize(
        (gw * cell, gh * cell), Image.Resampling.BILINEAR
    )
    return np.asarray(big, dtype=np.float32)[: shape[0], : shape[1]]


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


def _blocks(a: np.ndarray, f: int, mode: str = "constant") -> np.ndarray:
    """``a`` padded to whole f x f blocks, as (rows, f, cols, f): reduce over axes 1 and 3."""
    h, w = a.shape
    gh, gw = -(-h // f), -(-w // f)
    padded = np.pad(a, ((0, gh * f - h), (0, gw * f - w)), mode=mode)
    return padded.reshape(gh, f, gw, f)


def _straight_lines(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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
    small = _blocks(mask, f).max(axis=(1, 3))
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


def _stroke_weight(digit: np.ndarray, tone: np.ndarray) -> np.ndarray:
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
        patch = _blocks(patch, f).mean(axis=(1, 3))
        inked = _blocks(mask, f).mean(axis=(1, 3))
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


def _to_field(ink: np.ndarray) -> np.ndarray | None:
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

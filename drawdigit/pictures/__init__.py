"""Pictures of one handwritten digit (phone photos, scans, paint programs) -> MNIST-like ink.

A drawing on the canvas is clean by construction; a picture is not. A phone photo of a
sticky note carries a rotation tag, uneven light, a shadow, the paper's edge and the table
around it, JPEG noise, coloured ink on coloured paper, and a pen far thinner (or a marker far
fatter) than MNIST's strokes. Every step exists because one of those broke the old "median
of the border, crop to anything dark" reading (benchmarks/bench_pictures.py). The steps, by
the module that holds each:

1. ``reading``: the file read upright (EXIF orientation) and small: reduced while it is
   decoded, to ``WORK_SIDE`` px, before any per-pixel work; clear refusals;
2. ``paper``: colour -> one channel in which ink contrasts with the paper (white-balanced
   by the paper's own colour, then the darkest channel); a clean drawing (one exact paper
   tone, nothing at the border: a paint program's) has nothing to clean and goes straight
   to step 5 (``clean_ink``); otherwise paper told from ink (ink is the minority) and the
   uneven light flattened (``ink_strength``): shadows, vignetting and the table around a
   sheet become paper, a hard shadow's edge stays sharp;
3. ``rulings``: on the ink as ``candidates`` thresholds it (NOISE_SIGMAS deviations of its
   noise), straight lines found by a Hough transform and removed where no stroke lies along
   or across them: a ruling or a grid (three or more parallel lines at a regular pitch,
   whatever the pitch, colour, contrast or perspective), a margin, a straight paper or
   shadow edge;
4. ``candidates``: not one choice but the strongest marks that could be a digit, each with
   the pieces close to it, inside the picture first and then along its border (a tightly
   cropped digit touches the frame); a mark no darker than the darker side of the paper
   around it (a shadow's rim) is untrusted. ``segment.cut`` cuts each like a clean drawing,
   and ``decide`` reads them all: the first the network finds plausibly one digit is the
   answer (``digit_candidates``, ``decide.pick``);
5. ``stroke_weight``: measured with a distance transform and brought into MNIST's range by
   thickening or thinning (thinning opens a fat marker's loops, it never closes them);
   ``placing``: cropped, scaled to 20 px, softened and centred like every drawing.
   (``grid``: the block reductions several steps share.)

This package's own functions are the two ways through: ``normalise_picture`` (the 28x28 of
the cleaning's first choice) and ``picture_candidates`` (every candidate, for the network
to choose from). The method and its figures: docs/pictures.md.

scipy.ndimage does the labelling, the distance transforms and the filters (C, one pass each);
it is imported only when a picture is read, so the app's start and the strokes path never pay
for it (docs/pictures.md: install size and import time measured).
"""

from __future__ import annotations

import numpy as np

from drawdigit.pictures.candidates import InkCandidate, digit_candidates, digit_ink
from drawdigit.pictures.paper import (
    MIN_CONTRAST,
    clean_ink,
    contrast_gray,
    dark_ink,
    ink_strength,
)
from drawdigit.pictures.placing import to_field
from drawdigit.pictures.reading import (
    WORK_SIDE,
    ImageError,
    Picture,
    load_image,
    read_picture,
    unit_gray,
    work_gray,
)
from drawdigit.pictures.stroke_weight import weighed

__all__ = [
    "MIN_CONTRAST",
    "WORK_SIDE",
    "ImageError",
    "InkCandidate",
    "Picture",
    "clean_ink",
    "contrast_gray",
    "digit_candidates",
    "digit_ink",
    "ink_strength",
    "load_image",
    "normalise_picture",
    "picture_candidates",
    "read_picture",
    "unit_gray",
    "work_gray",
]


def normalise_picture(image: np.ndarray) -> np.ndarray | None:
    """A picture of a digit (any size; gray, RGB or RGBA) -> MNIST-style 28x28, or None.

    None means no ink stands out from the paper (a blank page, a uniform colour, noise).
    """
    gray = work_gray(image)
    if gray.size == 0:
        return None
    clean = clean_ink(gray)
    if clean is None:
        candidates = digit_candidates(ink_strength(gray), dark_ink(gray))
        digit = candidates[0].ink if candidates else None
    else:
        digit = weighed(*clean, MIN_CONTRAST)
    if digit is None:
        return None
    return to_field(digit)


def picture_candidates(image: np.ndarray) -> list[InkCandidate] | None:
    """A picture -> the candidate pieces of ink that may be its digit (``digit_candidates``,
    the cleaning's own choice first), each a clean picture (ink bright on 0, cropped); None
    for a clean drawing, which has nothing to choose from and is read as it is."""
    gray = work_gray(image)
    if gray.size == 0:
        return []
    if clean_ink(gray) is not None:
        return None
    return digit_candidates(ink_strength(gray), dark_ink(gray))

"""The 28x28 field MNIST's digits sit in, and the two measures every route into it shares.

MNIST's digits were cropped to their ink, scaled so the longer side is ``BOX`` px, and placed
in a ``SIZE`` x ``SIZE`` field with the centre of mass at ``CENTRE``. Strokes
(``drawdigit.preprocess``) and pictures (``drawdigit.pictures``) both end in this field, so
its geometry lives here, below both: neither has to import the other for it.
"""

from __future__ import annotations

import numpy as np

SIZE = 28  # the network's input side
BOX = 20.0  # MNIST: the ink's longer side, in pixels
# MNIST's centre of mass lies at index 14 (pixel centres at integer indices), not at 13.5:
# measured on the test set (mean 13.99 / 14.01, spread of +-0.5 from integer shifts).
CENTRE = 14.0
# Below this a pixel is not ink (pictures: relative to the ink's contrast).
INK_THRESHOLD = 0.2


def centre_of_mass(image: np.ndarray, mass: float) -> tuple[float, float]:
    """(row, column) of the centre of mass of ``image`` (whose sum is ``mass``), pixel
    centres at integer indices."""
    rows = np.arange(image.shape[0], dtype=np.float32)
    cols = np.arange(image.shape[1], dtype=np.float32)
    cy = float(image.sum(axis=1) @ rows) / mass
    cx = float(image.sum(axis=0) @ cols) / mass
    return cy, cx


def brightest_at_one(image: np.ndarray) -> np.ndarray:
    """``image`` scaled in place so that its brightest pixel is 1 (a no-op when it is).

    MNIST's ink always peaks at full brightness; with a soft edge a dot or a short stroke
    whose centre falls between pixel centres would not."""
    top = float(image.max())
    if 0.0 < top < 1.0:
        image *= np.float32(1.0 / top)
    return image

"""Numpy arrays as QImages, for display and PNG export: one converter for the whole GUI.

The 28x28 network input (float in [0, 1]), an opened image's pixels (float or uint8) and the
samples' thumbnails all go through ``gray_to_qimage``, so what the panel shows, what a
thumbnail shows and what "Export Model Input" writes are the same bytes. An opened picture
is shown in colour (``rgb_to_qimage``); "What the model sees" stays its cleaned 28x28.
``gray_icon`` is the thumbnail: whole pixels enlarged (no smoothing), as the panel shows
the input.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QIcon, QImage, QPixmap

if TYPE_CHECKING:
    import numpy as np


def gray_to_qimage(pixels: np.ndarray) -> QImage:
    """A 2-D grayscale array as an 8-bit QImage that owns its bytes (a deep copy).

    uint8 is taken as is; anything else is read as intensity in [0, 1], clipped, and
    rounded to the nearest of 0..255 (so 0.5 -> 128, as MNIST's own rounding).
    """
    import numpy as np  # numpy is imported lazily: the window must appear before heavy imports

    a = np.asarray(pixels)
    if a.ndim != 2:
        raise ValueError(f"a grayscale image must be 2-D, not of shape {a.shape}")
    if a.dtype != np.uint8:
        a = (np.clip(a.astype(np.float32), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    a = np.ascontiguousarray(a)
    height, width = a.shape
    return QImage(a.tobytes(), width, height, width, QImage.Format.Format_Grayscale8).copy()


def rgb_to_qimage(pixels: np.ndarray) -> QImage:
    """An (H, W, 3) uint8 colour array (a picture as read, upright) as a QImage that owns its
    bytes: the window shows an opened photo in its own colours, not the gray it is read in."""
    import numpy as np

    a = np.asarray(pixels)
    if a.ndim != 3 or a.shape[2] != 3 or a.dtype != np.uint8:
        raise ValueError(f"a colour image must be (H, W, 3) uint8, not {a.shape} {a.dtype}")
    a = np.ascontiguousarray(a)
    height, width = a.shape[:2]
    return QImage(a.tobytes(), width, height, 3 * width, QImage.Format.Format_RGB888).copy()


def gray_icon(pixels: np.ndarray, side: int) -> QIcon:
    """A grayscale array as an icon ``side`` px on its longer side, pixels kept crisp."""
    pixmap = QPixmap.fromImage(gray_to_qimage(pixels)).scaled(
        side, side, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation
    )
    return QIcon(pixmap)

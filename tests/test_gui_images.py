"""The one numpy-to-QImage converter: exact bytes for uint8, MNIST rounding for floats."""

from __future__ import annotations

import numpy as np
import pytest

from drawdigit.gui.images import gray_icon, gray_to_qimage


def pixels_of(image) -> np.ndarray:
    return np.array(
        [
            [image.pixelColor(x, y).red() for x in range(image.width())]
            for y in range(image.height())
        ]
    )


def test_uint8_is_taken_as_is_and_the_image_owns_its_bytes():
    a = np.arange(12 * 5, dtype=np.uint8).reshape(5, 12) * 4
    image = gray_to_qimage(a)
    assert (image.width(), image.height()) == (12, 5)  # rows are height, not transposed
    a[:] = 0  # the image keeps its own copy
    assert np.array_equal(pixels_of(image), np.arange(60).reshape(5, 12) * 4)


def test_floats_are_clipped_and_rounded_to_the_nearest_level():
    a = np.array([[-0.5, 0.0, 0.5 / 255, 0.5, 1.0, 7.0]], dtype=np.float64)
    assert pixels_of(gray_to_qimage(a)).tolist() == [[0, 0, 1, 128, 255, 255]]


def test_a_colour_array_is_refused():
    with pytest.raises(ValueError, match="2-D"):
        gray_to_qimage(np.zeros((4, 4, 3), dtype=np.uint8))


def test_the_icon_keeps_pixels_crisp(qtbot):
    a = np.zeros((28, 28), dtype=np.float32)
    a[:, 14:] = 1.0
    image = gray_icon(a, 56).pixmap(56, 56).toImage()
    assert image.width() == 56
    row = [image.pixelColor(x, 20).red() for x in range(56)]
    assert row == [0] * 28 + [255] * 28  # no grey blur at the edge

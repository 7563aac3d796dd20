"""Arrays as QImages (exact bytes for uint8, MNIST rounding for floats; colour kept), and an
opened picture shown upright in its colours."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from PySide6.QtWidgets import QWidget

from drawdigit.gui.canvas import DrawingCanvas
from drawdigit.gui.images import gray_icon, gray_to_qimage, rgb_to_qimage
from drawdigit.gui.window.document import Document
from drawdigit.pictures import read_picture


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


def colours_of(image) -> np.ndarray:
    return np.array(
        [
            [image.pixelColor(x, y).getRgb()[:3] for x in range(image.width())]
            for y in range(image.height())
        ]
    )


def test_a_colour_array_keeps_its_colours():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)  # odd width: rows are not padded
    image = rgb_to_qimage(a)
    assert (image.width(), image.height()) == (7, 5)
    assert np.array_equal(colours_of(image), a)
    with pytest.raises(ValueError, match="colour"):
        rgb_to_qimage(a[..., 0])


def test_an_opened_photo_is_shown_upright_in_colour(qtbot, tmp_path):
    """A phone photo stored sideways with its rotation tag (6) and blue ink on a yellow note:
    the canvas shows it upright and yellow, and recognition reads its gray."""
    upright = np.zeros((40, 60, 3), np.uint8)
    upright[:] = (250, 230, 120)  # a yellow note
    upright[10:30, 20:24] = (30, 40, 160)  # a blue "1"
    upright[0, 0] = (255, 0, 0)  # a red mark in the top-left corner
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "note.png"
    Image.fromarray(upright).transpose(Image.Transpose.ROTATE_90).save(path, exif=exif.tobytes())
    window = QWidget()
    qtbot.addWidget(window)
    canvas = DrawingCanvas(window)
    document = Document(window, canvas, lambda: None)
    with qtbot.waitSignal(document.opened, timeout=30_000):
        document.open_path(path)
    picture = canvas.picture()
    assert picture is not None
    assert np.array_equal(colours_of(picture.image), upright)
    assert np.array_equal(picture.pixels, read_picture(path).gray)

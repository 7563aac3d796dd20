"""Reading a picture file: decoded upright (EXIF orientation) and small, with clear refusals.

A 12-megapixel photo is reduced while it is decoded (JPEG draft mode) or right after, to
``WORK_SIDE`` px, before any per-pixel work; transparency is composited onto paper that
contrasts with the ink; anything unreadable, empty or past Pillow's decompression-bomb
limit is an ``ImageError`` naming the file. ``work_gray`` brings an array already in memory
to the same size and scale.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from drawdigit.pictures.paper import contrast_gray

if TYPE_CHECKING:
    from PIL.Image import Image

# A picture is reduced to at most this many pixels on its longer side before any per-pixel
# work: a 4000x3000 photo then costs what a 1024x768 one does, and a digit that fills a tenth
# of the frame still spans ~100 px, five times the 20 px it becomes.
WORK_SIDE = 1024
# A picture that cannot be decoded a part at a time (formats other than PNG and JPEG, an
# interlaced PNG) is decoded whole in its own mode: at most this many bytes (Pillow keeps 1
# byte a pixel of grey or palette pictures, 4 of colour ones), so that reading it stays
# within ~300 MB (a grey picture at Pillow's own limit of 179 million pixels fits).
DECODE_BUDGET = 200_000_000
# A large picture is converted and reduced in strips of rows of about this many bytes.
STRIP_BYTES = 4_000_000
# Bytes a pixel in Pillow's memory, by mode (4 for any mode not listed).
_BYTES_PER_PIXEL = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2, "I;16N": 2}


class ImageError(Exception):
    """An image file cannot be read as a picture of a digit; the message names the file."""


@dataclass(frozen=True)
class Picture:
    """A picture as read from a file: upright, transparency composited, at most WORK_SIDE px.

    ``rgb`` is what the window shows (uint8, (H, W, 3)); ``gray`` is what ``preprocess``
    reads (float32 in [0, 1], 1 = white), already converted so that coloured ink contrasts
    with coloured paper. Both have the same size, so what is shown is what is read.
    """

    rgb: np.ndarray
    gray: np.ndarray


def read_picture(path: Path | str, check: Callable[[], None] | None = None) -> Picture:
    """Read an image file upright (EXIF orientation applied) and reduced to WORK_SIDE px.

    Transparency is composited onto paper that contrasts with the ink, so black or white ink
    on a transparent background reads as a digit. Raises ``ImageError`` naming the file for
    anything unreadable, empty, larger than Pillow's decompression-bomb limit, or (a
    picture that cannot be decoded a part at a time) larger than DECODE_BUDGET decoded.
    ``check`` is called between strips of a large picture; it may raise to stop the work.
    """
    from PIL import Image, UnidentifiedImageError

    from drawdigit.pictures.png_strips import PngError

    path = Path(path)
    try:
        with Image.open(path) as opened:
            # JPEG decodes straight at 1/2, 1/4 or 1/8 size (the smallest that keeps at least
            # WORK_SIDE/2): a 12 MP photo at 1000x750 in a tenth of the time.
            opened.draft("RGB", (WORK_SIDE // 2, WORK_SIDE // 2))
            if opened.width == 0 or opened.height == 0:
                raise ImageError(f"{path}: the image is empty (0 pixels)")
            target, image = _decoded_small(opened, path, check)
            image = _upright(image, opened)
    except FileNotFoundError as exc:
        raise ImageError(f"{path}: no such file") from exc
    except Image.DecompressionBombError as exc:
        raise ImageError(
            f"{path}: the image is too large to open safely "
            f"(more than {2 * Image.MAX_IMAGE_PIXELS:,} pixels)"
        ) from exc
    except (UnidentifiedImageError, SyntaxError) as exc:
        raise ImageError(f"{path}: not an image Pillow can read") from exc
    except (OSError, ValueError, PngError) as exc:  # truncated or damaged data
        raise ImageError(f"{path}: damaged or unreadable image ({exc})") from exc
    if target == "F":
        gray = np.asarray(image, dtype=np.float32)
        top = float(gray.max())
        gray = np.clip(gray / (top if top > 1.0 else 1.0), 0.0, 1.0)
        rgb = np.repeat((gray * 255.0 + 0.5).astype(np.uint8)[..., None], 3, axis=2)
        return Picture(rgb=rgb, gray=gray)
    if target == "RGB":
        rgb = np.asarray(image)
        return Picture(rgb=rgb, gray=contrast_gray(rgb))
    rgba = np.asarray(image, np.float32)
    colour = rgba[..., :3] / 255.0
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


def _target_mode(image: Image) -> str:
    """The mode a picture is read in: "F" for wide grey samples (16-bit, integer, float),
    "RGBA" when it has transparency, else "RGB"."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        return "F"
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        return "RGBA"
    return "RGB"


def _decoded_small(
    opened: Image, path: Path, check: Callable[[], None] | None
) -> tuple[str, Image]:
    """The opened picture decoded and reduced to at most WORK_SIDE px, in its target mode
    (``_target_mode``), with the target mode.

    A PNG too large to keep as it is is decoded a strip of rows at a time
    (``png_strips``); a JPEG was decoded at a fraction of its size already (``draft``);
    any other picture is decoded whole in its own mode (at most DECODE_BUDGET bytes,
    else refused), and all are then converted and reduced a strip at a time, so no
    full-size copy is ever made."""
    from drawdigit.pictures.png_strips import PngStrips

    w, h = opened.size
    if opened.format == "PNG" and max(w, h) > WORK_SIDE:
        with open(path, "rb") as file:
            png = PngStrips(file)
            if not png.interlaced:
                target = _target_mode(opened)
                rows = _strip_rows(w, h)
                image = _reduced_strips(png.strips(rows, check), w, h, target)
                # (an eXIf after the image data; and never Pillow's look for one, which
                # decodes the whole picture)
                opened.info.setdefault("exif", png.exif or b"")
                return target, image
    needed = w * h * _BYTES_PER_PIXEL.get(opened.mode, 4)
    if needed > DECODE_BUDGET:
        raise ImageError(
            f"{path}: the image is too large to read ({w:,} x {h:,} pixels of "
            f"{opened.format or 'its format'}, {needed / 1e6:.0f} MB decoded; at most "
            f"{DECODE_BUDGET / 1e6:.0f} MB: save it as a PNG or JPEG, or smaller)"
        )
    opened.load()
    target = _target_mode(opened)
    rows = _strip_rows(w, h)
    strips = (opened.crop((0, y, w, min(h, y + rows))) for y in range(0, h, rows))
    return target, _reduced_strips(_checked(strips, check), w, h, target)


def _checked(strips: Iterator[Image], check: Callable[[], None] | None) -> Iterator[Image]:
    for strip in strips:
        if check is not None:
            check()
        yield strip


def _strip_rows(w: int, h: int) -> int:
    """Rows per strip: about STRIP_BYTES of pixels (4 bytes each), a whole number of the
    rows the reduction averages together (``_reduction``)."""
    factor = _reduction(w, h)[1][1]
    rows = max(1, STRIP_BYTES // (4 * w * factor)) * factor
    return min(rows, -(-h // factor) * factor)


def _reduction(w: int, h: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """The size a w x h picture is reduced to (at most WORK_SIDE px on its longer side,
    ``reduced``) and the whole factors Pillow first averages it by on the way (its
    ``reducing_gap`` of 2: the rest is done by the BOX filter)."""
    longer = max(w, h)
    if longer <= WORK_SIDE:
        return (w, h), (1, 1)
    scale = WORK_SIDE / longer
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return size, (int(w / size[0] / 2.0) or 1, int(h / size[1] / 2.0) or 1)


def _reduced_strips(strips: Iterator[Image], w: int, h: int, target: str) -> Image:
    """Strips of rows of a w x h picture (top to bottom, each a whole number of the
    reduction's rows) -> the picture in mode ``target``, reduced as ``reduced`` reduces it
    (the same numbers: each strip averaged by whole blocks, as Pillow's ``reduce`` does
    the whole picture, then the BOX filter over the result; with transparency, on
    premultiplied colour, as Pillow's ``resize`` does)."""
    from PIL import Image as PILImage

    size, (fx, fy) = _reduction(w, h)
    work = "RGBa" if target == "RGBA" else target
    out = None
    y = 0
    for strip in strips:
        part = strip.convert(target)
        if work != target:
            part = part.convert(work)
        if fx > 1 or fy > 1:
            part = part.reduce((fx, fy))
        if out is None and strip.height == h:
            out = part  # one strip: the whole picture
        else:
            out = out or PILImage.new(work, (-(-w // fx), -(-h // fy)))
            out.paste(part, (0, y // fy))
        y += strip.height
    assert out is not None
    if (w, h) != size:
        out = out.resize(size, PILImage.Resampling.BOX, box=(0, 0, w / fx, h / fy))
    return out.convert(target) if work != target else out


# EXIF orientation -> the transposition that puts the picture upright.
_UPRIGHT = {2: 0, 3: 3, 4: 1, 5: 5, 6: 4, 7: 6, 8: 2}  # PIL.Image.Transpose values


def _upright(image: Image, opened: Image) -> Image:
    """``image`` (the opened picture, reduced) turned upright by the opened file's EXIF
    orientation, as ``PIL.ImageOps.exif_transpose`` turns a picture."""
    from PIL import Image as PILImage

    try:
        orientation = opened.getexif().get(0x0112, 1)
    except (SyntaxError, ValueError, TypeError, KeyError, OSError):  # a damaged EXIF block
        return image
    method = _UPRIGHT.get(orientation) if isinstance(orientation, int) else None
    return image if method is None else image.transpose(PILImage.Transpose(method))


def load_image(path: Path | str) -> np.ndarray:
    """An image file as float32 grayscale in [0, 1] (1 = white): ``read_picture(path).gray``."""
    return read_picture(path).gray


def work_gray(image: np.ndarray) -> np.ndarray:
    """Any numeric picture -> float32 gray in [0, 1], reduced to at most WORK_SIDE px."""
    a = np.asarray(image)
    if a.ndim == 3 and a.shape[2] in (3, 4) and a.dtype == np.uint8:
        from PIL import Image  # reduce the bytes first: 12 MP of floats cost ~0.5 s

        small = reduced(Image.fromarray(np.ascontiguousarray(a[..., :3]), mode="RGB"))
        return contrast_gray(np.asarray(small))
    if a.ndim == 3 and a.shape[2] in (3, 4):
        return contrast_gray(reduced_array(unit_gray(a[..., :3])))
    if a.ndim != 2:
        raise ValueError(f"expected a picture (H, W) or (H, W, 3|4), got shape {a.shape}")
    return reduced_array(unit_gray(a))


def reduced(image):  # PIL.Image -> PIL.Image
    """Shrink a PIL image so its longer side is at most WORK_SIDE (area average)."""
    from PIL import Image

    size, _ = _reduction(image.width, image.height)
    if size == image.size:
        return image
    return image.resize(size, Image.Resampling.BOX, reducing_gap=2.0)


def reduced_array(a: np.ndarray) -> np.ndarray:
    """Float (H, W) or (H, W, 3) in [0, 1] -> at most WORK_SIDE px on the longer side."""
    size, _ = _reduction(a.shape[1], a.shape[0])
    if size == (a.shape[1], a.shape[0]):
        return a
    from PIL import Image

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

"""Reading a picture file: decoded upright (EXIF orientation) and small, with clear refusals.

A 12-megapixel photo is reduced while it is decoded (JPEG draft mode) or right after, to
``WORK_SIDE`` px, before any per-pixel work; transparency is composited onto paper that
contrasts with the ink; anything unreadable, empty or past Pillow's decompression-bomb
limit is an ``ImageError`` naming the file. ``work_gray`` brings an array already in memory
to the same size and scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drawdigit.pictures.paper import contrast_gray

# A picture is reduced to at most this many pixels on its longer side before any per-pixel
# work: a 4000x3000 photo then costs what a 1024x768 one does, and a digit that fills a tenth
# of the frame still spans ~100 px, five times the 20 px it becomes.
WORK_SIDE = 1024


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
        gray = np.asarray(reduced(image.convert("F")), dtype=np.float32)
        top = float(gray.max())
        gray = np.clip(gray / (top if top > 1.0 else 1.0), 0.0, 1.0)
        rgb = np.repeat((gray * 255.0 + 0.5).astype(np.uint8)[..., None], 3, axis=2)
        return Picture(rgb=rgb, gray=gray)
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    if not has_alpha:
        rgb = np.asarray(reduced(image.convert("RGB")))
        return Picture(rgb=rgb, gray=contrast_gray(rgb))
    rgba = np.asarray(reduced(image.convert("RGBA")), np.float32)
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

    longer = max(image.width, image.height)
    if longer <= WORK_SIDE:
        return image
    factor = WORK_SIDE / longer
    size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
    return image.resize(size, Image.Resampling.BOX, reducing_gap=2.0)


def reduced_array(a: np.ndarray) -> np.ndarray:
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

"""Examples of ink that is NOT one digit, made here, for the digit-ness model.

The network was only ever shown digits, so it reads an H as a 4 with full confidence. To learn
what is not a digit, the digit-ness model (``make_digitness``) is shown, beside MNIST's digits,
ink of five kinds made by this module, each as the same MNIST-style 28x28 input
``preprocess`` makes:
- letters and symbols rendered from TrueType/OpenType fonts (the characters people also write
  as digits are left out, e.g. O, I, l, S, Z, B, |, /); DejaVu is never used, so the tests
  can check the decision on a font it never saw;
- random scribbles: smooth pen paths with several turns, drawn through ``render_drawing``;
- parts of digits: an MNIST digit with a third to a half cut away (a half-drawn stroke);
- two MNIST digits side by side or overlapping, squeezed into one input (a wrong split).
All randomness comes from the ``numpy.random.Generator`` passed in (reproducible).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from drawdigit.preprocess import normalise_image

# Upper- and lower-case letters and ASCII symbols that are not written like a digit. Left out:
# O o Q D (a 0), I l i j | ! / \ ( ) (a 1), Z z (a 2), S s (a 5), b G (a 6), T (a 7), B (an 8),
# q g (a 9), and the single marks and dots ' ` , . ; (no shape of their own).
CHARACTERS = 'ACEFHJKLMNPRUVWXYacdefhkmnprtuvwxy#$%&*+-<=>?@[]^_{}~":'
# Font families never used for training (the tests' "font the decision never saw").
HELD_OUT_FAMILIES = ("dejavu",)
FONT_SUFFIXES = (".ttf", ".otf")
# Fonts that are not letters (symbols, dingbats) or cover another script only.
SKIPPED_FONTS = ("standardsymbols", "d050000l", "droidsansfallback")
# Parts of digits narrower than this share of their height are left out (see digit_parts).
NARROW = 0.45
FONT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"))


def find_fonts(dirs: tuple[Path, ...] = FONT_DIRS) -> list[Path]:
    """Every usable font file, sorted, DejaVu and symbol fonts excluded."""
    found = []
    for root in dirs:
        if not root.is_dir():
            continue
        for path in root.rglob("*"):
            name = path.name.lower()
            if path.suffix.lower() not in FONT_SUFFIXES:
                continue
            if any(s in name for s in SKIPPED_FONTS + HELD_OUT_FAMILIES):
                continue
            if any(s in str(path).lower() for s in HELD_OUT_FAMILIES):
                continue
            found.append(path)
    return sorted(found)


def render_glyph(font_path: Path | str, char: str, size: int = 64) -> np.ndarray | None:
    """One character of a font as the network's 28x28 input; None when the font lacks it."""
    from PIL import Image, ImageDraw, ImageFont

    try:
        font = ImageFont.truetype(str(font_path), size)
    except OSError:
        return None
    canvas = Image.new("L", (size * 3, size * 3), 0)
    draw = ImageDraw.Draw(canvas)
    draw.text((size, size // 2), char, fill=255, font=font)
    ink = np.asarray(canvas, dtype=np.float32) / 255.0
    if ink.max() < 0.5 or (ink > 0.5).sum() < 8:
        return None
    return normalise_image(ink)


def font_glyphs(fonts: list[Path], characters: str = CHARACTERS) -> np.ndarray:
    """(N, 28, 28) of every character in every font (missing glyphs skipped)."""
    images = []
    for font in fonts:
        notdef = render_glyph(font, "\uffff")  # how this font draws a missing glyph
        for char in characters:
            image = render_glyph(font, char)
            if image is None:
                continue
            if notdef is not None and np.abs(image - notdef).max() < 1e-3:
                continue
            if _narrow(image):  # J, [ and ] in a narrow font are a 1 to a reader
                continue
            images.append(image)
    return np.stack(images).astype(np.float32)


def scribbles(n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 28, 28) random pen paths: 1-3 strokes of smooth curves with several turns.

    Drawn as pictures with a random pen and normalised like every other training image, so
    the way of rendering cannot tell digits from the rest. Paths that turn little or end up
    as narrow as a "1" are drawn again: they would teach the model to refuse real 1s."""
    from PIL import Image, ImageDraw

    out = np.zeros((n, 28, 28), dtype=np.float32)
    k = 0
    while k < n:
        image = Image.new("L", (280, 280), 0)
        draw = ImageDraw.Draw(image)
        turning = 0.0
        for _ in range(int(rng.integers(1, 4))):
            steps = int(rng.integers(30, 120))
            bend = rng.normal(0.0, rng.uniform(0.1, 0.5), steps)
            if rng.random() < 0.3:  # a zigzag: sharp turns
                bend += np.repeat(rng.choice([-2.2, 2.2], steps // 10 + 1), 10)[:steps] / 10
            turning += float(np.abs(bend).sum())
            heading = rng.uniform(0, 2 * np.pi) + bend.cumsum()
            start = rng.uniform(60, 220, 2)
            step = np.stack([np.cos(heading), np.sin(heading)], 1) * rng.uniform(2, 5)
            path = start + np.cumsum(step, axis=0)
            draw.line([tuple(p) for p in path], fill=255, width=int(rng.integers(8, 28)))
        image28 = normalise_image(np.asarray(image, dtype=np.float32) / 255.0)
        if turning < 2 * np.pi or image28 is None or _narrow(image28):
            continue
        out[k] = image28
        k += 1
    return out


def _narrow(image28: np.ndarray) -> bool:
    """True when the ink is as narrow as a "1" (width below ``NARROW`` of its height)."""
    rows = np.flatnonzero(image28.max(axis=1) > 0.2)
    cols = np.flatnonzero(image28.max(axis=0) > 0.2)
    return rows.size == 0 or cols.size < NARROW * rows.size


def digit_parts(digits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(N, 28, 28): each MNIST digit with 35-55% of its ink box cut away on a random side.

    Parts left as narrow as a "1" stay blank (all zeros): callers drop blank rows."""
    out = np.zeros_like(digits, dtype=np.float32)
    for k, digit in enumerate(digits):
        rows = np.flatnonzero(digit.max(axis=1) > 0.2)
        cols = np.flatnonzero(digit.max(axis=0) > 0.2)
        part = digit.astype(np.float32).copy()
        share = rng.uniform(0.35, 0.55)
        side = int(rng.integers(4))
        span = rows if side < 2 else cols
        cut = int(share * (span[-1] - span[0] + 1))
        keep_from, keep_to = (span[0] + cut, None) if side % 2 == 0 else (None, span[-1] + 1 - cut)
        view = part if side < 2 else part.T
        if keep_from is not None:
            view[:keep_from] = 0.0
        else:
            view[keep_to:] = 0.0
        # A part as narrow as a "1" IS a 1 to anyone; teaching "not a digit" on it would
        # teach the model to refuse real ones.
        if _narrow(part):
            continue
        image = normalise_image(part)
        if image is not None:
            out[k] = image
    return out


def digit_pairs(digits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(N, 28, 28): pairs of MNIST digits side by side (gap -12..+4 px), as one input."""
    n = len(digits)
    partners = rng.permutation(n)
    out = np.zeros((n, 28, 28), dtype=np.float32)
    for k in range(n):
        a, b = digits[k], digits[partners[k]]
        shift = 28 + int(rng.integers(-12, 5))
        canvas = np.zeros((28, 28 + shift), dtype=np.float32)
        canvas[:, :28] = a
        canvas[:, shift : shift + 28] = np.maximum(canvas[:, shift : shift + 28], b)
        image = normalise_image(canvas)
        if image is not None:
            out[k] = image
    return out

"""Synthetic phone photos of one handwritten digit on paper, for measuring the picture cleaning.

A real user's photo is a digit written with some pen on some paper, under some light, taken
from some angle and cropped somehow. Each of those is drawn at random here, independently,
so that a cleaning that learnt one combination by heart does not score on the others:

- the pen: ballpoint, pencil (grainy graphite), felt pen, fat marker, charcoal (grainy,
  broken, textured strokes);
- the paper: white, cream, yellow, pink, blue or green; plain, ruled, squared or graph paper
  (thin lines with a bolder one every 5) at a pitch of 4-10 mm, the lines grey, blue or green
  and from clearly visible down to as faint as the paper's noise; a red notebook margin;
- the light: a gradient, a soft or a hard shadow across part of the sheet;
- the camera: perspective (a keystone up to 16%) and a rotation up to 8 degrees, the table
  beyond the sheet's edge, blur, sensor noise, JPEG and an EXIF rotation tag;
- the framing: the whole sheet, or a tight crop where the digit touches (or is cut by) the
  frame;
- a few pictures with no digit at all (a grid alone, a blank page with a shadow).

Where the digits come from is pluggable (``digits``): unipen-dev's pen drawings, or MNIST's
test digits thinned to their skeleton and redrawn with the chosen pen (never trained on by
any model the project makes; see bench_pictures.py).

Seeds: ``TUNE_SEEDS`` are the ones looked at while developing the cleaning (pictures saved,
failures studied); ``REPORT_SEEDS`` are never looked at until a change is finished, and the
figure measured on them is the one reported.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

# Looked at while developing (saved as PNGs, failures studied, parameters tuned).
TUNE_SEEDS = (0, 1)
# Never looked at while developing: the figure that counts.
REPORT_SEEDS = (1000, 1001, 1002)

PAPERS = {
    "white": (245, 245, 242),
    "cream": (238, 230, 205),
    "yellow": (250, 235, 120),
    "pink": (250, 200, 215),
    "blue": (150, 185, 235),
    "green": (190, 230, 190),
}
INKS = {"black": (25, 25, 30), "blue": (30, 45, 150), "red": (190, 30, 35)}
GRAPHITE = (70, 70, 75)
LINE_COLOURS = {"grey": (120, 120, 125), "blue": (80, 120, 210), "green": (90, 170, 120)}
MARGIN_COLOUR = (215, 60, 70)
TOOLS = ("ballpoint", "ballpoint", "pencil", "felt", "marker", "charcoal")
RULINGS = ("plain", "plain", "ruled", "squared", "squared", "graph")
# A share of the pictures shows no digit (a grid alone, a blank page with a shadow).
NO_DIGIT_SHARE = 0.05
# EXIF orientation -> how the stored pixels are turned so that the tag makes them upright
TAGS = {1: None, 3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90}
TAGS[8] = Image.Transpose.ROTATE_270


@dataclass(frozen=True)
class Sample:
    """One digit to photograph: strokes in any units (x, y), and its label (None: no digit)."""

    strokes: list[np.ndarray]
    label: int | None


@dataclass(frozen=True)
class Photo:
    """A synthetic photo as JPEG bytes, its label (None: no digit) and how it was made."""

    jpeg: bytes
    label: int | None
    tags: dict[str, str]


# --------------------------------------------------------------------------- digit sources


def unipen_samples(count: int, rng: np.random.Generator, directory=None) -> list[Sample]:
    """``count`` unipen-dev drawings (a seeded subset), as strokes."""
    from unipen import load_unipen

    from drawdigit.strokes import load_drawing

    samples = load_unipen(directory)
    picked = sorted(rng.choice(len(samples), size=min(count, len(samples)), replace=False))
    out = []
    for i in picked:
        drawing = load_drawing(samples[i].path)
        strokes = [np.asarray(s, np.float64) for s in drawing.strokes if s]
        out.append(Sample(strokes, samples[i].label))
    return out


def mnist_samples(count: int, rng: np.random.Generator, mnist_dir: Path) -> list[Sample]:
    """``count`` MNIST test digits (a seeded subset), as pen strokes along their skeleton.

    Each digit is enlarged MNIST_UPSCALE times (bicubic: smooth outlines, not 28 px stairs),
    thinned to a 1-pixel skeleton, and each pair of neighbouring skeleton pixels becomes a
    short pen segment, so that it can be redrawn with any pen at any size."""
    from drawdigit.mnist import read_idx
    from drawdigit.thinning import skeleton

    images = read_idx(mnist_dir / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(mnist_dir / "t10k-labels-idx1-ubyte.gz")
    picked = sorted(rng.choice(len(labels), size=min(count, len(labels)), replace=False))
    side = 28 * MNIST_UPSCALE
    out = []
    for begin in range(0, len(picked), 64):
        chunk = picked[begin : begin + 64]
        big = np.stack(
            [
                np.asarray(
                    Image.fromarray(images[i]).resize((side, side), Image.Resampling.BICUBIC)
                )
                for i in chunk
            ]
        )
        for line, i in zip(skeleton(big > 110), chunk, strict=True):
            out.append(Sample(skeleton_strokes(line), int(labels[i])))
    return out


# MNIST digits are thinned at this many times their 28 px (finer: smoother, slower).
MNIST_UPSCALE = 4
BICUBIC = Image.Resampling.BICUBIC


def skeleton_strokes(line: np.ndarray) -> list[np.ndarray]:
    """A 1-pixel skeleton -> two-point segments between neighbouring pixels, (x, y) units.

    A diagonal step is left out where the two pixels already share an orthogonal neighbour
    (it would draw a little triangle, a loop that the digit does not have)."""
    ys, xs = np.nonzero(line)
    on = {(int(y), int(x)) for y, x in zip(ys, xs, strict=True)}
    strokes = []
    for y, x in sorted(on):
        for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1)):
            q = (y + dy, x + dx)
            if q not in on:
                continue
            if dy and dx and ((y, x + dx) in on or (y + dy, x) in on):
                continue
            strokes.append(np.array([[x, y], [q[1], q[0]]], np.float64))
    if not strokes:  # a dot
        strokes = [np.array([[x, y]], np.float64) for y, x in sorted(on)[:1]]
    return strokes


# --------------------------------------------------------------------------- drawing


def draw_strokes(
    size: tuple[int, int], strokes: list[np.ndarray], width: float, ink: int = 255
) -> Image.Image:
    """Strokes (already in the picture's pixels) as a round pen on an L layer."""
    layer = Image.new("L", size, 0)
    draw = ImageDraw.Draw(layer)
    r = width / 2.0
    for s in strokes:
        points = [tuple(p) for p in s]
        if len(points) > 1:
            draw.line(points, fill=ink, width=max(1, round(width)))
        if width > 2 or len(points) == 1:  # round joints and ends
            for x, y in points:
                draw.ellipse([x - r, y - r, x + r, y + r], fill=ink)
    return layer


def _texture(rng: np.random.Generator, shape: tuple[int, int], grain: float) -> np.ndarray:
    """Paper-tooth texture in [0, 1]: noise blurred to ``grain`` px, stretched to full range."""
    noise = Image.fromarray((rng.random(shape) * 255).astype(np.uint8), "L")
    blurred = np.asarray(noise.filter(ImageFilter.GaussianBlur(grain)), np.float32)
    low, high = np.percentile(blurred, [2, 98])
    return np.clip((blurred - low) / max(high - low, 1e-3), 0.0, 1.0)


def _ruling(
    rng: np.random.Generator, w: int, h: int, kind: str, pitch: float, width: float
) -> np.ndarray:
    """Line coverage (H, W) in [0, 1]: ruled, squared or graph paper at ``pitch`` px."""
    lines = Image.new("L", (w, h), 0)
    d = ImageDraw.Draw(lines)
    thin, bold = max(1, round(width)), max(2, round(width * 2.2))

    def family(length: int, vertical: bool) -> None:
        offset = rng.uniform(0, pitch)
        k, position = 0, offset
        while position < length:
            wide = kind == "graph" and k % 5 == 0
            xy = [(position, 0), (position, h)] if vertical else [(0, position), (w, position)]
            d.line(xy, fill=255, width=bold if wide else thin)
            k, position = k + 1, position + pitch

    family(h, vertical=False)
    if kind in ("squared", "graph"):
        family(w, vertical=True)
    cover = np.asarray(lines, np.float32) / 255.0
    if kind == "graph":
        cover = cover * 0.8
    return cover


def photo(sample: Sample, rng: np.random.Generator, size: tuple[int, int] = (800, 600)) -> Photo:
    """A phone photo of ``sample`` written on paper (see the module's docstring)."""
    w, h = int(size[0]), int(size[1])
    if rng.random() < 0.5:
        w, h = h, w
    tool = str(rng.choice(TOOLS))
    paper_name = str(rng.choice(list(PAPERS)))
    ruling = str(rng.choice(RULINGS))
    ink_name = "graphite" if tool in ("pencil", "charcoal") else str(rng.choice(list(INKS)))
    tags = {"tool": tool, "paper": paper_name, "ruling": ruling}
    paper = np.array(PAPERS[paper_name], np.float32) / 255.0
    image = np.broadcast_to(paper, (h, w, 3)).copy()
    # the digit: 15-60% of the shorter side, anywhere not too near the edge
    height = rng.uniform(0.15, 0.6) * min(w, h)
    layer = np.zeros((h, w), np.float32)
    if sample.label is not None:
        points = np.concatenate(sample.strokes)
        low, high = points.min(axis=0), points.max(axis=0)
        extent = float((high - low).max()) or 1.0
        scale = height / extent
        box = (high - low) * scale
        origin = np.array(
            [rng.uniform(0.15 * w, 0.85 * w - box[0]), rng.uniform(0.15 * h, 0.85 * h - box[1])]
        )
        strokes = [(s - low) * scale + origin for s in sample.strokes]
        pen = {
            "ballpoint": rng.uniform(1.5, 3.5),
            "pencil": rng.uniform(1.5, 3.0),
            "felt": rng.uniform(0.04, 0.07) * height,
            "marker": rng.uniform(0.08, 0.15) * height,
            "charcoal": rng.uniform(0.04, 0.1) * height,
        }[tool]
        layer = np.asarray(draw_strokes((w, h), strokes, max(pen, 1.0)), np.float32) / 255.0
        if tool == "pencil":  # graphite is grainy
            layer = layer * rng.uniform(0.6, 1.0, layer.shape).astype(np.float32)
        if tool == "charcoal":  # grainy, broken by the paper's tooth, uneven pressure
            tooth = _texture(rng, (h, w), rng.uniform(0.6, 1.5))
            pressure = _texture(rng, (h, w), rng.uniform(8, 20))
            layer = layer * np.clip(1.4 * tooth + 0.2, 0, 1) * (0.55 + 0.45 * pressure)
    else:
        tags["tool"] = "none"
    # the paper's ruling, its pitch in mm scaled by the digit's size (a digit spans 1-4 pitches)
    if ruling != "plain":
        pitch = max(height / rng.uniform(1.0, 4.0), 6.0)
        line_width = rng.uniform(0.8, 2.2)
        contrast = float(np.exp(rng.uniform(np.log(0.04), np.log(0.45))))
        line_name = str(rng.choice(list(LINE_COLOURS)))
        cover = _ruling(rng, w, h, ruling, pitch, line_width) * contrast
        colour = np.array(LINE_COLOURS[line_name], np.float32) / 255.0
        image = image * (1 - cover[..., None]) + colour * cover[..., None]
        tags["lines"] = f"{line_name}, {contrast:.2f}"
    if ruling in ("ruled", "squared") and rng.random() < 0.35:  # a notebook's red margin
        x = rng.uniform(0.05, 0.35) * w
        if rng.random() < 0.5:
            x = w - x
        margin = Image.new("L", (w, h), 0)
        ImageDraw.Draw(margin).line([(x, 0), (x, h)], fill=255, width=int(rng.integers(1, 4)))
        a = np.asarray(margin, np.float32)[..., None] / 255.0 * rng.uniform(0.3, 0.8)
        image = image * (1 - a) + np.array(MARGIN_COLOUR, np.float32) / 255.0 * a
        tags["ruling"] = ruling + "+margin"
    darkness = {
        "ballpoint": rng.uniform(0.65, 0.9),
        "pencil": rng.uniform(0.3, 0.55),
        "felt": rng.uniform(0.8, 0.95),
        "marker": rng.uniform(0.85, 0.95),
        "charcoal": rng.uniform(0.6, 0.9),
    }.get(tool, 0.0)
    ink_colour = np.array(INKS.get(ink_name, GRAPHITE), np.float32) / 255.0
    a = layer[..., None] * darkness
    image = image * (1 - a) + ink_colour * a
    # uneven light: a gradient, and a soft or hard shadow over part of the sheet
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(angle) * xx / w + np.sin(angle) * yy / h) * rng.uniform(0.1, 0.35)
    light = rng.uniform(0.55, 1.0) * (1.0 - ramp + ramp.mean())
    shadow_kind = str(rng.choice(["none", "soft", "hard"], p=[0.4, 0.35, 0.25]))
    if shadow_kind != "none":
        shadow = Image.new("L", (w, h), 0)
        side = rng.integers(4)
        depth = rng.uniform(0.15, 0.55) * (w if side < 2 else h)
        corners = {
            0: [(0, 0), (depth, 0), (depth * 0.7, h), (0, h)],
            1: [(w, 0), (w - depth, 0), (w - depth * 1.2, h), (w, h)],
            2: [(0, 0), (w, 0), (w, depth), (0, depth * 0.6)],
            3: [(0, h), (w, h), (w, h - depth), (0, h - depth * 1.3)],
        }[int(side)]
        ImageDraw.Draw(shadow).polygon(corners, fill=255)
        blur = rng.uniform(5, 40) if shadow_kind == "soft" else rng.uniform(0.5, 2.5)
        shadow = shadow.filter(ImageFilter.GaussianBlur(blur))
        light = light * (1.0 - np.asarray(shadow, np.float32) / 255.0 * rng.uniform(0.25, 0.5))
    tags["shadow"] = shadow_kind
    image = image * light[..., None]
    tight = sample.label is not None and rng.random() < 0.2
    if not tight and rng.random() < 0.4:  # the paper's edge, and the table beyond it
        edge = int(rng.uniform(0.03, 0.1) * w)
        table = np.array(rng.uniform(0.15, 0.6, 3), np.float32)
        if rng.random() < 0.5:
            image[:, w - edge :] = table
        else:
            image[h - edge :, :] = table
    out = Image.fromarray((np.clip(image, 0, 1) * 255).astype(np.uint8), "RGB")
    ink_image = Image.fromarray((layer * 255).astype(np.uint8), "L")
    # perspective: a keystone up to 16% and a rotation up to 8 degrees about the centre
    out, ink_image = _camera(rng, out, ink_image)
    tags["framing"] = "frame"
    if tight:
        box = ink_image.getbbox()
        if box is not None:
            bw, bh = box[2] - box[0], box[3] - box[1]
            m = rng.uniform(-0.03, 0.04, 4) * np.array([bw, bh, bw, bh])
            crop = (box[0] - m[0], box[1] - m[1], box[2] + m[2], box[3] + m[3])
            crop = tuple(int(round(v)) for v in crop)
            if crop[2] - crop[0] >= 24 and crop[3] - crop[1] >= 24:
                out = out.crop(crop)
                tags["framing"] = "tight"
    out = out.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.5)))
    noisy = np.asarray(out, np.float32) + rng.normal(0, rng.uniform(2, 8), out.size[::-1] + (3,))
    out = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), "RGB")
    tag = int(rng.choice(list(TAGS)))
    if TAGS[tag] is not None:
        out = out.transpose(TAGS[tag])
    exif = Image.Exif()
    exif[274] = tag
    buffer = io.BytesIO()
    out.save(buffer, "JPEG", quality=int(rng.integers(60, 92)), exif=exif.tobytes())
    return Photo(buffer.getvalue(), sample.label, tags)


def _camera(rng: np.random.Generator, image: Image.Image, ink: Image.Image):
    """The same perspective (keystone and rotation) applied to the photo and its ink layer."""
    w, h = image.size
    angle = np.deg2rad(rng.uniform(-8, 8))
    keystone = rng.uniform(-0.16, 0.16)
    # where the output's corners come from in the flat sheet (PIL maps output -> input)
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float64)
    centre = np.array([w / 2, h / 2])
    squeeze = np.array([[keystone / 2, 0], [-keystone / 2, 0], [0, 0], [0, 0]])
    if rng.random() < 0.5:  # narrower at the bottom, or at a side
        squeeze = squeeze[[3, 2, 1, 0]]
    source = corners + squeeze * np.array([w, h])
    c, s = np.cos(angle), np.sin(angle)
    source = (source - centre) @ np.array([[c, -s], [s, c]]) + centre
    coeffs = _perspective_coeffs(corners, source)
    table = tuple(int(v) for v in rng.integers(40, 160, 3))
    warped = image.transform(
        (w, h), Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BILINEAR, fillcolor=table
    )
    warped_ink = ink.transform(
        (w, h), Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BILINEAR
    )
    return warped, warped_ink


def _perspective_coeffs(out_corners: np.ndarray, in_corners: np.ndarray) -> tuple:
    """PIL's 8 perspective coefficients mapping output corners to input corners."""
    rows = []
    for (x, y), (u, v) in zip(out_corners, in_corners, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
    solution = np.linalg.solve(np.array(rows), in_corners.reshape(-1))
    return tuple(float(v) for v in solution)


def photos(samples: list[Sample], seed: int, size: tuple[int, int] = (800, 600)) -> Iterator[Photo]:
    """One photo per sample, then NO_DIGIT_SHARE as many with no digit, all from ``seed``
    (made one at a time: a thousand JPEGs need not sit in memory together)."""
    rng = np.random.default_rng([seed, 1])
    extra = int(round(NO_DIGIT_SHARE * len(samples)))
    for sample in [*samples, *[Sample([], None)] * extra]:
        yield photo(sample, rng, size)

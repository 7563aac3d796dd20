"""How well pictures of digits read: real photos and paint drawings, a synthetic photo set,
unipen drawings saved as PNGs against their strokes, and what a picture costs.

    python benchmarks/bench_pictures.py [--photos 1000] [--pngs 1000] [--seed 0]
                                        [--repeat 7] [--skip-real] [--json]

- real-images-dev (../shared/real-images-dev): right answers per kind (paper-photo, paint),
  the wrong ones listed with their confidence;
- synthetic photos: ``--photos`` unipen-dev drawings (seeded subset) rendered as ballpoint,
  pencil or marker on white, cream, yellow, pink or blue paper, some ruled or squared, with
  uneven light, a shadow from one side, a paper edge with the table beyond it, a slight
  perspective and rotation, blur, noise, JPEG and an EXIF rotation tag; written to a temp
  dir, read back through ``load_input`` (never kept, never trained on);
- unipen PNGs: ``--pngs`` drawings as 280x280 PNGs (18 px round pen, black on white) against
  the same drawings' strokes (unflagged only);
- costs (medians of ``--repeat``, wall and CPU time, with the load average): a 4000x3000
  JPEG photo through ``load_input`` and as an array through ``preprocess``; a 280x280
  drawing (array) through ``preprocess``.

The answer is the model's single best digit (argmax) with the bundled model
(``load_predictor``); its confidence is reported for right and wrong answers apart.
The machine these were measured on is shared: compare medians taken in the same conditions.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from unipen import load_unipen

from drawdigit.inference import load_predictor
from drawdigit.preprocess import load_input, preprocess
from drawdigit.strokes import Drawing, load_drawing

REAL_DIR = Path(__file__).resolve().parents[2] / "shared" / "real-images-dev"
PAPERS = {
    "white": (245, 245, 242),
    "cream": (238, 230, 205),
    "yellow": (250, 235, 120),
    "pink": (250, 200, 215),
    "blue": (150, 185, 235),
}
INKS = {"black": (25, 25, 30), "blue": (30, 45, 150), "red": (190, 30, 35)}
# EXIF orientation -> how the stored pixels are turned so that the tag makes them upright
TAGS = {1: None, 3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90}
TAGS[8] = Image.Transpose.ROTATE_270


def draw_strokes(
    size: tuple[int, int], strokes: list[np.ndarray], width: float, ink: int = 255
) -> Image.Image:
    """Strokes (canvas coordinates already mapped to ``size``) as a round pen on an L layer."""
    layer = Image.new("L", size, 0)
    draw = ImageDraw.Draw(layer)
    r = width / 2.0
    for s in strokes:
        points = [tuple(p) for p in s]
        if len(points) > 1:
            draw.line(points, fill=ink, width=max(1, round(width)))
        if width > 2:  # round joints and ends (Pillow's wide joints leave gaps)
            for x, y in points:
                draw.ellipse([x - r, y - r, x + r, y + r], fill=ink)
    return layer


def drawing_png(drawing: Drawing, pen: float = 18.0) -> Image.Image:
    """The drawing as a paint program saves it: black round pen on a white 280x280 canvas."""
    scale = 280.0 / max(drawing.width, drawing.height)
    strokes = [np.asarray(s, dtype=np.float64) * scale for s in drawing.strokes if s]
    ink = draw_strokes((280, 280), strokes, pen)
    return Image.eval(ink, lambda v: 255 - v)


def photo(drawing: Drawing, rng: np.random.Generator, size: tuple[int, int] = (800, 600)):
    """A phone photo of the drawing written on paper; returns (JPEG bytes, description)."""
    w, h = int(size[0]), int(size[1])
    if rng.random() < 0.5:
        w, h = h, w
    tool = str(rng.choice(["ballpoint", "pencil", "marker"]))
    paper_name = str(rng.choice(list(PAPERS)))
    ink_name = "gray" if tool == "pencil" else str(rng.choice(list(INKS)))
    # the digit: 25-60% of the shorter side, anywhere not too near the edge
    points = np.concatenate([np.asarray(s, float) for s in drawing.strokes if s])
    low, high = points.min(axis=0), points.max(axis=0)
    extent = float((high - low).max()) or 1.0
    height = rng.uniform(0.25, 0.6) * min(w, h)
    scale = height / extent
    box = (high - low) * scale
    origin = np.array(
        [rng.uniform(0.15 * w, 0.85 * w - box[0]), rng.uniform(0.15 * h, 0.85 * h - box[1])]
    )
    strokes = [(np.asarray(s, float) - low) * scale + origin for s in drawing.strokes if s]
    pen = {"ballpoint": rng.uniform(1.5, 3.5), "pencil": rng.uniform(1.5, 3.0)}
    pen["marker"] = rng.uniform(0.06, 0.12) * height
    layer = np.asarray(draw_strokes((w, h), strokes, pen[tool]), np.float32) / 255.0
    darkness = {"ballpoint": rng.uniform(0.65, 0.9), "pencil": rng.uniform(0.3, 0.55)}
    darkness["marker"] = rng.uniform(0.85, 0.95)
    paper = np.array(PAPERS[paper_name], np.float32) / 255.0
    ink_colour = np.array(INKS.get(ink_name, (70, 70, 75)), np.float32) / 255.0
    image = np.broadcast_to(paper, (h, w, 3)).copy()
    ruling = str(rng.choice(["plain", "plain", "ruled", "squared"]))
    if ruling != "plain":
        lines = Image.new("L", (w, h), 0)
        d = ImageDraw.Draw(lines)
        step = int(rng.integers(25, 45))
        for y in range(int(rng.integers(0, step)), h, step):
            d.line([(0, y), (w, y)], fill=255, width=1)
        if ruling == "squared":
            for x in range(int(rng.integers(0, step)), w, step):
                d.line([(x, 0), (x, h)], fill=255, width=1)
        a = np.asarray(lines, np.float32)[..., None] / 255.0 * 0.3
        image = image * (1 - a) + np.array([0.45, 0.6, 0.85], np.float32) * a
    if tool == "pencil":  # graphite is grainy
        layer = layer * rng.uniform(0.6, 1.0, layer.shape).astype(np.float32)
    a = layer[..., None] * darkness[tool]
    image = image * (1 - a) + ink_colour * a
    # uneven light: a gradient, and a soft shadow over part of the sheet from one side
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(angle) * xx / w + np.sin(angle) * yy / h) * rng.uniform(0.1, 0.35)
    light = rng.uniform(0.55, 1.0) * (1.0 - ramp + ramp.mean())
    if rng.random() < 0.6:
        shadow = Image.new("L", (w, h), 0)
        side = rng.integers(4)
        depth = rng.uniform(0.15, 0.45) * (w if side < 2 else h)
        corners = {
            0: [(0, 0), (depth, 0), (depth * 0.7, h), (0, h)],
            1: [(w, 0), (w - depth, 0), (w - depth * 1.2, h), (w, h)],
            2: [(0, 0), (w, 0), (w, depth), (0, depth * 0.6)],
            3: [(0, h), (w, h), (w, h - depth), (0, h - depth * 1.3)],
        }[int(side)]
        ImageDraw.Draw(shadow).polygon(corners, fill=255)
        shadow = shadow.filter(ImageFilter.GaussianBlur(rng.uniform(5, 40)))
        light = light * (1.0 - np.asarray(shadow, np.float32) / 255.0 * rng.uniform(0.25, 0.5))
    image = image * light[..., None]
    if rng.random() < 0.4:  # the paper's edge, and the table beyond it
        edge = int(rng.uniform(0.03, 0.1) * w)
        table = np.array(rng.uniform(0.15, 0.6, 3), np.float32)
        if rng.random() < 0.5:
            image[:, w - edge :] = table
        else:
            image[h - edge :, :] = table
    out = Image.fromarray((np.clip(image, 0, 1) * 255).astype(np.uint8), "RGB")
    # slight perspective and rotation
    tilt = rng.uniform(-0.04, 0.04, 2) / np.array([w, h])  # up to 4% narrower at one end
    shear = rng.uniform(-0.05, 0.05, 2)
    coeffs = (1.0, float(shear[0]), 0.0, float(shear[1]), 1.0, 0.0, float(tilt[0]), float(tilt[1]))
    table = tuple(int(v) for v in rng.integers(40, 160, 3))
    out = out.transform(
        (w, h), Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BILINEAR, fillcolor=table
    )
    out = out.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.5)))
    noisy = np.asarray(out, np.float32) + rng.normal(0, rng.uniform(2, 8), (h, w, 3))
    out = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), "RGB")
    tag = int(rng.choice(list(TAGS)))
    if TAGS[tag] is not None:
        out = out.transpose(TAGS[tag])
    exif = Image.Exif()
    exif[274] = tag
    buffer = io.BytesIO()
    out.save(buffer, "JPEG", quality=int(rng.integers(60, 92)), exif=exif.tobytes())
    return buffer.getvalue(), f"{tool}/{paper_name}/{ruling}"


def answers(predictor, inputs: list[np.ndarray | None]) -> tuple[np.ndarray, np.ndarray]:
    """(digit, confidence) per input; -1 and 0 where there was no ink."""
    blank = np.zeros((28, 28), np.float32)
    probs = predictor.predict(np.stack([blank if x is None else x for x in inputs]))
    digits = probs.argmax(axis=1)
    confidence = probs.max(axis=1)
    missing = np.array([x is None for x in inputs])
    digits[missing], confidence[missing] = -1, 0.0
    return digits, confidence


def confidences(right: np.ndarray, confidence: np.ndarray) -> str:
    def median(a: np.ndarray) -> str:
        return f"{np.median(a):.2f}" if a.size else "-"

    sure_wrong = int(((~right) & (confidence >= 0.9)).sum())
    return (
        f"median confidence right {median(confidence[right])}, wrong {median(confidence[~right])}"
        f"; wrong at >= 0.9: {sure_wrong} of {int((~right).sum())}"
    )


def real_images(predictor) -> dict:
    with open(REAL_DIR / "labels.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    inputs = [load_input(REAL_DIR / r["file"]) for r in rows]
    digits, confidence = answers(predictor, inputs)
    labels = np.array([int(r["label"]) for r in rows])
    kinds = np.array([r["kind"] for r in rows])
    right = digits == labels
    result = {"right": int(right.sum()), "count": len(rows)}
    print(f"real-images-dev: {right.sum()} of {len(rows)} right")
    for kind in sorted(set(kinds)):
        k = kinds == kind
        result[kind] = [int(right[k].sum()), int(k.sum())]
        print(f"  {kind:12s} {right[k].sum()} of {k.sum()}")
    print("  " + confidences(right, confidence))
    for i in np.flatnonzero(~right):
        print(f"  wrong: {rows[i]['file']} {labels[i]} -> {digits[i]} ({confidence[i]:.2f})")
    return result


def synthetic(predictor, samples, count: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    picked = sorted(rng.choice(len(samples), size=min(count, len(samples)), replace=False))
    kinds, labels, inputs = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for n, i in enumerate(picked):
            data, kind = photo(load_drawing(samples[i].path), rng)
            path = Path(tmp) / f"{n}.jpg"
            path.write_bytes(data)
            inputs.append(load_input(path))
            kinds.append(kind)
            labels.append(samples[i].label)
    digits, confidence = answers(predictor, inputs)
    right = digits == np.array(labels)
    print(f"synthetic photos: {right.sum()} of {len(right)} right ({right.mean() * 100:.2f}%)")
    result = {"right": int(right.sum()), "count": len(right)}
    for part in range(3):
        names = sorted({k.split("/")[part] for k in kinds})
        cells = []
        for name in names:
            k = np.array([kind.split("/")[part] == name for kind in kinds])
            cells.append(f"{name} {right[k].mean() * 100:.1f}% ({k.sum()})")
            result[name] = float(right[k].mean())
        print("  " + ", ".join(cells))
    print("  " + confidences(right, confidence))
    return result


def pngs(predictor, samples, count: int, seed: int) -> dict:
    clean = [s for s in samples if not s.flagged]
    rng = np.random.default_rng(seed + 1)
    picked = [clean[i] for i in sorted(rng.choice(len(clean), min(count, len(clean)), False))]
    drawings = [load_drawing(s.path) for s in picked]
    labels = np.array([s.label for s in picked])
    from_strokes = answers(predictor, [preprocess(d) for d in drawings])[0] == labels
    with tempfile.TemporaryDirectory() as tmp:
        inputs = []
        for n, d in enumerate(drawings):
            path = Path(tmp) / f"{n}.png"
            drawing_png(d).save(path)
            inputs.append(load_input(path))
    from_png = answers(predictor, inputs)[0] == labels
    s, p = from_strokes.mean() * 100, from_png.mean() * 100
    print(f"unipen-dev unflagged, {len(picked)} drawings: strokes {s:.2f}%, PNG {p:.2f}%")
    return {"count": len(picked), "strokes": float(s), "png": float(p)}


def costs(samples, repeat: int) -> dict:
    rng = np.random.default_rng(7)
    data, _ = photo(load_drawing(samples[0].path), rng, size=(4000, 3000))
    big = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    small = np.asarray(drawing_png(load_drawing(samples[1].path)))

    def median_ms(function) -> dict[str, float]:
        """Wall and CPU time (this process's): on a shared machine the CPU time is what
        the work costs, the wall time what waiting for the cores added to it."""
        function()  # first call imports what it needs
        wall, cpu = [], []
        for _ in range(repeat):
            start, start_cpu = time.perf_counter(), time.process_time()
            function()
            wall.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        return {"wall": float(np.median(wall) * 1e3), "cpu": float(np.median(cpu) * 1e3)}

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "photo.jpg"
        path.write_bytes(data)
        result = {
            "photo_4000x3000_jpeg_file_ms": median_ms(lambda: load_input(path)),
            "photo_4000x3000_array_ms": median_ms(lambda: preprocess(big)),
            "drawing_280x280_array_ms": median_ms(lambda: preprocess(small)),
        }
    load = os.getloadavg()[0]
    for name, ms in result.items():
        print(f"{name:32s} {ms['wall']:8.1f} ms, CPU {ms['cpu']:6.1f} ms (medians of {repeat})")
    print(f"  (load average {load:.1f} on {os.cpu_count()} cores)")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=1000, help="synthetic photos (0: none)")
    parser.add_argument("--pngs", type=int, default=1000, help="unipen PNGs (0: none)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=7, help="timing runs (0: no timing)")
    parser.add_argument("--skip-real", action="store_true")
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    predictor, _ = load_predictor()
    samples = load_unipen()
    summary: dict = {}
    if not args.skip_real:
        summary["real"] = real_images(predictor)
    if args.photos:
        summary["synthetic"] = synthetic(predictor, samples, args.photos, args.seed)
    if args.pngs:
        summary["pngs"] = pngs(predictor, samples, args.pngs, args.seed)
    if args.repeat:
        summary["costs"] = costs(samples, args.repeat)
    if args.json:
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

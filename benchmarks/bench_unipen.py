"""Accuracy on real pen-drawn digits (unipen-dev), the figure that says the app works for people.

    python benchmarks/bench_unipen.py [--model PATH] [--data-dir DIR] [--variants] [--fonts]
        [--json]

Prints accuracy on all samples and on the unflagged ones, per class, the commonest
confusions, and a naive baseline (the whole canvas resized to 28x28, no MNIST-style
normalisation) for comparison. ``--variants`` also scores the alternative stroke renderings
that were measured when choosing preprocess.DEFAULT_STYLE (pen thickness rule, centring,
anti-aliased edge, the sideways squeeze, the clamp), so the choice can be re-checked on any
model (each variant changes one thing; the others stay at the default, squeeze included).
With ``--model``, the default rendering is also compared with the bundled model writer by
writer: a gain made by one writer's habits is noise, not a better model.
``--fonts`` also reads the digits 0-9 of every installed font (printed digits: a new model
should read them as the bundled one does) and says how many answers differ from the bundled
model's.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from unipen import Score, load_unipen, score

from drawdigit.preprocess import (
    DEFAULT_STYLE,
    StrokeStyle,
    load_input,
    preprocess,
    rasterise,
)
from drawdigit.store import bundled_model_path, load_checkpoint
from drawdigit.strokes import Drawing, load_drawing, pen_width

# The renderings compared when choosing the default (issue 2; docs/benchmarks.md, "From
# strokes to the 28x28").
VARIANTS: dict[str, StrokeStyle] = {
    **{
        f"canvas pen {px} px": StrokeStyle(thickness="canvas", pen_fraction=px / 280, edge=1.0)
        for px in (14, 18, 20, 24, 28)
    },
    "clamped canvas pen 2.0-3.2": StrokeStyle(thickness="clamped", pen_fraction=20 / 280, edge=1.0),
    **{
        f"fixed pen {p} px, edge {e}": StrokeStyle(thickness="fixed", pen28=p, edge=e)
        for p in (1.8, 2.2, 2.6, 3.0, 3.4)
        for e in (1.0, 2.0)
    },
    **{
        f"fixed pen 2.6 px, edge {e}": StrokeStyle(thickness="fixed", pen28=2.6, edge=e)
        for e in (1.5, 2.5, 3.0)
    },
    "canvas pen 20 px, edge 2.5": StrokeStyle(thickness="canvas", pen_fraction=20 / 280),
    "fixed 2.6, edge 2.5, integer centring": StrokeStyle(
        thickness="fixed", pen28=2.6, edge=2.5, centring="integer"
    ),
    "canvas 20, edge 1, integer centring": StrokeStyle(
        thickness="canvas", pen_fraction=20 / 280, edge=1.0, centring="integer"
    ),
    # issue 16: the sideways squeeze (StrokeStyle.narrow) and the clamp that keeps ink inside
    **{f"narrow {k}": StrokeStyle(narrow=k) for k in (1.0, 0.9, 0.85, 0.75, 0.7)},
    "centring may cut ink (no keep_inside)": StrokeStyle(keep_inside=False),
}


def naive_resize(drawing: Drawing) -> np.ndarray:
    """The whole canvas shrunk to 28x28 with the canvas pen: no crop, no centring."""
    scale = 28.0 / max(drawing.width, drawing.height)
    # canvas pixel-centre convention: canvas x maps to output x * scale - 0.5
    strokes = [np.asarray(s, dtype=np.float64) * scale - 0.5 for s in drawing.strokes if s]
    return rasterise(strokes, pen_width(drawing.width, drawing.height) * scale)


def draw_png(drawing: Drawing, path: Path) -> None:
    """The drawing as a picture: black canvas-pen ink on white, as a screenshot would be."""
    from PIL import Image, ImageDraw

    image = Image.new("L", (round(drawing.width), round(drawing.height)), 255)
    draw = ImageDraw.Draw(image)
    width = pen_width(drawing.width, drawing.height)
    r = width / 2
    for stroke in drawing.strokes:
        for (x0, y0), (x1, y1) in zip(stroke[:-1], stroke[1:], strict=True):
            draw.line([(x0, y0), (x1, y1)], fill=0, width=round(width))
        for x, y in stroke:
            draw.ellipse([x - r, y - r, x + r, y + r], fill=0)
    image.save(path)


def predict(model: torch.nn.Module, inputs: np.ndarray) -> np.ndarray:
    with torch.inference_mode():
        batch = torch.from_numpy(np.ascontiguousarray(inputs, dtype=np.float32)).unsqueeze(1)
        return torch.cat([model(b).argmax(1) for b in batch.split(1000)]).numpy()


def prepare(drawings: list[Drawing], render) -> tuple[np.ndarray, float]:
    """Inputs for every drawing (blank where there is no ink) and the mean ms per drawing."""
    start = time.perf_counter()
    images = [render(d) for d in drawings]
    ms = (time.perf_counter() - start) / len(drawings) * 1e3
    blank = np.zeros((28, 28), dtype=np.float32)
    return np.stack([blank if im is None else im for im in images]), ms


def describe(name: str, s: Score) -> str:
    return f"{name:34s} {s.all * 100:6.2f}% {s.unflagged * 100:9.2f}%"


def top_confusions(s: Score, n: int = 8) -> list[tuple[int, int, int]]:
    c = s.confusion.copy()
    np.fill_diagonal(c, 0)
    order = np.argsort(-c.ravel())[:n]
    return [(int(i // 10), int(i % 10), int(c.flat[i])) for i in order if c.flat[i] > 0]


def font_digits() -> tuple[np.ndarray, np.ndarray]:
    """(N, 28, 28) images of the digits 0-9 in every installed font, DejaVu included, and
    their labels: printed digits, which training on handwriting must not unlearn."""
    from drawdigit.negatives import FONT_DIRS, find_fonts, render_glyph

    fonts = set(find_fonts())
    fonts |= {f for root in FONT_DIRS if root.is_dir() for f in root.rglob("DejaVu*.ttf")}
    images, labels = [], []
    for font in sorted(fonts):
        for digit in range(10):
            image = render_glyph(font, str(digit))
            if image is not None:
                images.append(image)
                labels.append(digit)
    return np.stack(images).astype(np.float32), np.array(labels)


def compare_fonts(model: torch.nn.Module) -> dict[str, float]:
    """Font digits read right by ``model`` and by the bundled model, and how many differ."""
    images, labels = font_digits()
    ours = predict(model, images)
    bundled = predict(load_checkpoint(bundled_model_path()).build_model(), images)
    return {
        "count": len(labels),
        "right": float((ours == labels).mean()),
        "bundled_right": float((bundled == labels).mean()),
        "differ": int((ours != bundled).sum()),
        "now_right": int(((ours != bundled) & (ours == labels)).sum()),
        "now_wrong": int(((ours != bundled) & (bundled == labels)).sum()),
    }


def by_writer(
    samples: list, ours: np.ndarray, theirs: np.ndarray, rounds: int = 2000
) -> dict[str, float]:
    """Unflagged accuracy difference (ours - theirs, points) with a 95% interval from
    resampling whole writers, and how many writers gained or lost."""
    clean = [i for i, s in enumerate(samples) if not s.flagged]
    labels = np.array([samples[i].label for i in clean])
    writers = sorted({samples[i].writer for i in clean})
    who = np.array([writers.index(samples[i].writer) for i in clean])
    gain = (ours[clean] == labels).astype(np.float64) - (theirs[clean] == labels)
    per_writer = np.bincount(who, gain, len(writers))
    counts = np.bincount(who, minlength=len(writers))
    rng = np.random.default_rng(0)
    picks = rng.integers(0, len(writers), (rounds, len(writers)))
    spread = per_writer[picks].sum(1) / counts[picks].sum(1) * 100
    low, high = np.percentile(spread, [2.5, 97.5])
    return {
        "difference": float(gain.mean() * 100),
        "low": float(low),
        "high": float(high),
        "writers_better": int((per_writer > 0).sum()),
        "writers_worse": int((per_writer < 0).sum()),
        "writers": len(writers),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="model file (default: the bundled one)")
    parser.add_argument("--data-dir", type=Path, help="unipen-dev folder")
    parser.add_argument("--variants", action="store_true", help="also score other renderings")
    parser.add_argument(
        "--images",
        type=int,
        default=0,
        metavar="N",
        help="also score N drawings saved as PNG and read back through load_input",
    )
    parser.add_argument("--fonts", action="store_true", help="also read printed font digits")
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    model_path = args.model or bundled_model_path()
    if not model_path.is_file():
        parser.error(f"no model at {model_path}; pass --model PATH")
    checkpoint = load_checkpoint(model_path)
    model = checkpoint.build_model()
    samples = load_unipen(args.data_dir)
    drawings = [load_drawing(s.path) for s in samples]
    mnist = checkpoint.metadata.get("test_accuracy")
    print(f"model: {model_path}" + (f" (MNIST test {mnist * 100:.2f}%)" if mnist else ""))
    clean = sum(not s.flagged for s in samples)
    print(f"unipen-dev: {len(samples)} drawings, {clean} unflagged\n")
    print(f"{'preprocessing':34s} {'all':>7s} {'unflagged':>10s}   ms/drawing")

    results = {}
    renderings = {"default (preprocess)": lambda d: preprocess(d)}
    renderings["naive whole-canvas resize"] = naive_resize
    if args.variants:
        for name, style in VARIANTS.items():
            renderings[name] = lambda d, style=style: preprocess(d, style)
    for name, render in renderings.items():
        inputs, ms = prepare(drawings, render)
        result = score(samples, predict(model, inputs))
        results[name] = result
        print(describe(name, result) + f"   {ms:6.3f}")

    if args.images:
        import tempfile

        subset = list(range(0, len(samples), max(1, len(samples) // args.images)))[: args.images]
        with tempfile.TemporaryDirectory() as tmp:
            paths = []
            for i in subset:
                paths.append(Path(tmp) / f"{i}.png")
                draw_png(drawings[i], paths[-1])
            inputs, ms = prepare(paths, load_input)
        picked = [samples[i] for i in subset]
        from_png = score(picked, predict(model, inputs))
        from_strokes = score(
            picked, predict(model, prepare([drawings[i] for i in subset], preprocess)[0])
        )
        results[f"PNG via load_input ({len(subset)})"] = from_png
        print(describe(f"PNG via load_input ({len(subset)})", from_png) + f"   {ms:6.3f}")
        print(describe(f"  same {len(subset)} as strokes", from_strokes))

    default = results["default (preprocess)"]
    print(f"\nper class (unflagged), default style {DEFAULT_STYLE}:")
    print("  " + "  ".join(f"{d}: {a * 100:5.1f}%" for d, a in enumerate(default.per_class)))
    print("commonest confusions (true -> predicted: count):")
    print("  " + ", ".join(f"{t}->{p}: {n}" for t, p, n in top_confusions(default)))
    paired = None
    if args.model and model_path.resolve() != bundled_model_path().resolve():
        inputs = prepare(drawings, preprocess)[0]
        bundled = load_checkpoint(bundled_model_path()).build_model()
        paired = by_writer(samples, predict(model, inputs), predict(bundled, inputs))
        print(
            f"vs the bundled model, unflagged: {paired['difference']:+.2f} points (95%"
            f" interval over writers {paired['low']:+.2f} to {paired['high']:+.2f});"
            f" {paired['writers_better']} of {paired['writers']} writers read better,"
            f" {paired['writers_worse']} worse"
        )
    fonts = compare_fonts(model) if args.fonts else None
    if fonts:
        print(
            f"font digits ({fonts['count']}): {fonts['right'] * 100:.1f}% right (bundled model"
            f" {fonts['bundled_right'] * 100:.1f}%); {fonts['differ']} answers differ from the"
            f" bundled model's: {fonts['now_right']} now right, {fonts['now_wrong']} now wrong"
        )
    if args.json:
        summary = {
            "model": str(model_path),
            "mnist_test_accuracy": mnist,
            "results": {
                name: {
                    "all": r.all,
                    "unflagged": r.unflagged,
                    "per_class": [float(a) for a in r.per_class],
                }
                for name, r in results.items()
            },
            "fonts": fonts,
            "vs_bundled": paired,
        }
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Look inside the network: where it looked (saliency), what each layer sees, its filters.

Numpy only (no torch, no Qt) and stateless, so the GUI's worker thread, the CLI and the
benchmarks all call the same functions, from any thread. Everything is computed from the
frozen ``NumpyDigitNet`` the recogniser already holds, so it works with whatever model is
in use (bundled, retrained, fine-tuned).

Saliency ("where it looked") answers: which pixels pushed the answer toward ``target``
(rather than ``versus``, when given)? It is the attribution of ``logit[target]`` (or of
``logit[target] - logit[versus]``) to the input pixels. The candidates measured are in
:data:`METHODS`; :data:`CHOSEN` is the one the deletion test on 500 unipen-dev drawings
preferred (``benchmarks/bench_explain.py``; docs/benchmarks.md, "Look Inside"): occlusion with 4x4
squares, area under the deletion curve 0.231 against 0.549 for a random order, where the
gradient methods scored 0.274-0.288, for ~13 ms of CPU per drawing.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drawdigit.numpy_net import OCCLUSION_WINDOW_SQUARE, NumpyDigitNet, softmax

INPUT = 28
IG_STEPS = 16  # integrated gradients: the Riemann midpoints along the path from black
OCCLUSION_PATCH = 4  # occlusion: a 4x4 black square slid with a stride of 2
OCCLUSION_STRIDE = 2


@dataclass(frozen=True)
class Explanation:
    """What the network did with one 28x28 input (see the module docstring)."""

    image28: np.ndarray  # (28, 28) float32 in [0, 1]: the network's input
    probabilities: np.ndarray  # (10,) float32
    target: int  # the class explained (default: the answer, argmax)
    versus: int | None  # the class compared against, or None
    heat: np.ndarray  # (28, 28) float32, signed, max |heat| == 1 (zeros if flat)
    layers: tuple[np.ndarray, np.ndarray, np.ndarray]  # conv maps after ReLU, channels first
    hidden: np.ndarray  # (64,) fc1's ReLU output: the nearest-memories key
    method: str  # shown to the user, e.g. "integrated gradients, 16 steps"


# --------------------------------------------------------------------------- saliency
# Each method maps (net, images (N, 28, 28), output weights (N, 10)) -> raw heat (N, 28, 28):
# the attribution of sum(weights * logits) to each pixel, positive = pushes it up.


def _gradient(net: NumpyDigitNet, x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Plain gradient: how much the objective would move per unit of each pixel. Marks
    background pixels too (where ink *would* matter), which a person reads as noise."""
    return net.input_gradients(x, weights)[1]


def _gradient_x_input(net: NumpyDigitNet, x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Gradient times input: the first-order share of each inked pixel in the objective.
    One forward and one backward pass; noisy where ReLUs switch near the input."""
    return x * net.input_gradients(x, weights)[1]


def _integrated_gradients(
    net: NumpyDigitNet, x: np.ndarray, weights: np.ndarray, steps: int = IG_STEPS
) -> np.ndarray:
    """Integrated gradients from a black image (Sundararajan et al. 2017): the gradient
    averaged along the straight path from black to the drawing, times the drawing. The
    attributions add up to the objective's change from black (completeness), and the
    ``steps`` points of each image go through one batched backward pass."""
    n = x.shape[0]
    alphas = (np.arange(steps, dtype=np.float32) + 0.5) / steps
    path = (alphas[None, :, None, None] * x[:, None]).reshape(-1, INPUT, INPUT)
    grads = net.input_gradients(path, np.repeat(weights, steps, axis=0))[1]
    return x * grads.reshape(n, steps, INPUT, INPUT).mean(axis=1)


def _occlusion(
    net: NumpyDigitNet,
    x: np.ndarray,
    weights: np.ndarray,
    size: int = OCCLUSION_PATCH,
    stride: int = OCCLUSION_STRIDE,
) -> np.ndarray:
    """Occlusion sensitivity (Zeiler & Fergus 2014): black out a ``size`` square at each
    place (every ``stride`` pixels), see how much the objective drops, and give each pixel
    the mean drop of the squares covering it. Squares with no ink change nothing and are
    skipped; squares of up to 4 pixels go through ``NumpyDigitNet.occluded_logits``, which
    recomputes conv2 only near each square (1.5x cheaper than whole forward passes)."""
    starts = sorted({*range(0, INPUT - size + 1, stride), INPUT - size})
    heat = np.zeros_like(x)
    for i, image in enumerate(x):
        places = [(r, c) for r in starts for c in starts if image[r : r + size, c : c + size].any()]
        whole = net.logits_and_features(image[None])[0]
        if size <= OCCLUSION_WINDOW_SQUARE:  # conv2 recomputed only near each square
            occluded = net.occluded_logits(image, np.array(places).reshape(-1, 2), size)
        else:
            batch = np.repeat(image[None], len(places), axis=0)
            for k, (r, c) in enumerate(places):
                batch[k, r : r + size, c : c + size] = 0.0
            occluded = net.logits_and_features(batch)[0]
        drop = (whole @ weights[i]) - occluded @ weights[i]
        total = np.zeros((INPUT, INPUT), dtype=np.float32)
        count = np.zeros((INPUT, INPUT), dtype=np.float32)
        for d, (r, c) in zip(drop, places, strict=True):
            total[r : r + size, c : c + size] += d
            count[r : r + size, c : c + size] += 1.0
        heat[i] = np.divide(total, count, out=np.zeros_like(total), where=count > 0)
    return heat


Saliency = Callable[[NumpyDigitNet, np.ndarray, np.ndarray], np.ndarray]

# name -> (function, the words shown to the user). The variants with other sizes are the
# benchmark's candidates; the unsuffixed names are the defaults.
METHODS: dict[str, tuple[Saliency, str]] = {
    "gradient": (_gradient, "gradient"),
    "gradient-x-input": (_gradient_x_input, "gradient x input"),
    "integrated-gradients": (_integrated_gradients, f"integrated gradients, {IG_STEPS} steps"),
    "integrated-gradients-32": (
        functools.partial(_integrated_gradients, steps=32),
        "integrated gradients, 32 steps",
    ),
}
for _size, _stride in ((OCCLUSION_PATCH, OCCLUSION_STRIDE), (2, 2), (3, 1), (6, 2)):
    _name = "occlusion" if _size == OCCLUSION_PATCH else f"occlusion-{_size}-{_stride}"
    METHODS[_name] = (
        functools.partial(_occlusion, size=_size, stride=_stride),
        f"occlusion, {_size}x{_size} squares, stride {_stride}",
    )
CHOSEN = "occlusion"


def output_weights(target: int, versus: int | None, classes: int = 10) -> np.ndarray:
    """The objective as weights on the logits: +1 at ``target``, -1 at ``versus``."""
    weights = np.zeros(classes, dtype=np.float32)
    weights[target] = 1.0
    if versus is not None:
        weights[versus] -= 1.0
    return weights


def saliency(
    net: NumpyDigitNet, images: np.ndarray, weights: np.ndarray, method: str = CHOSEN
) -> np.ndarray:
    """Raw (unscaled) heat (N, 28, 28) of ``method`` for images (N, 28, 28) and output
    weights (10,) or (N, 10). For the benchmark's comparison; ``explain`` scales it."""
    x = np.asarray(images, dtype=np.float32).reshape(-1, INPUT, INPUT)
    w = np.broadcast_to(np.asarray(weights, np.float32), (len(x), net.config.num_classes)).copy()
    return METHODS[method][0](net, x, w).astype(np.float32, copy=False)


def _unit_scaled(heat: np.ndarray) -> np.ndarray:
    peak = float(np.abs(heat).max()) if heat.size else 0.0
    if not np.isfinite(peak) or peak <= 0.0:
        return np.zeros_like(heat, dtype=np.float32)
    return (heat / peak).astype(np.float32)


def explain(
    net: NumpyDigitNet,
    image28: np.ndarray,
    target: int | None = None,
    versus: int | None = None,
    *,
    method: str = CHOSEN,
) -> Explanation:
    """Everything the "Look inside" panel and ``drawdigit explain`` show for one input.

    ``target`` defaults to the network's answer. ``versus`` asks "why ``target`` and not
    ``versus``?": the heat is then the saliency of ``logit[target] - logit[versus]``.
    Raises ``ValueError`` for a wrong shape or class (a caller's bug, not a user's input).
    """
    image = np.asarray(image28, dtype=np.float32)
    if image.shape != (INPUT, INPUT):
        raise ValueError(f"expected a (28, 28) input, got {image.shape}")
    classes = net.config.num_classes
    layers, hidden, logits = net.layer_activations(image)
    probabilities = softmax(logits[None].astype(np.float32))[0]
    target = int(probabilities.argmax()) if target is None else int(target)
    for name, value in (("target", target), ("versus", versus)):
        if value is not None and not 0 <= value < classes:
            raise ValueError(f"{name} must be a class 0..{classes - 1}, not {value}")
    if versus == target:
        versus = None  # "why 4 and not 4?" has no answer: explain 4 alone
    weights = output_weights(target, versus, classes)
    heat = _unit_scaled(saliency(net, image, weights, method)[0])
    return Explanation(
        image28=image,
        probabilities=probabilities,
        target=target,
        versus=versus,
        heat=heat,
        layers=layers,
        hidden=hidden,
        method=METHODS[method][1],
    )


def first_layer_filters(net: NumpyDigitNet) -> np.ndarray:
    """conv1's 32 kernels, (32, 3, 3) float32: the strokes the first layer looks for."""
    return net.first_layer_filters()


# --------------------------------------------------------------------------- pictures

HEAT_MAP = "CET-D1"  # diverging blue-white-red: < 0 blue, 0 white, > 0 red
LAYER_MAP = "viridis"  # perceptually uniform, dark = silent


@functools.lru_cache(maxsize=16)
def _read_colour_map(name: str) -> np.ndarray:
    spec = importlib.util.find_spec("pyqtgraph")  # located, not imported (slow, and Qt)
    if spec is None or spec.origin is None:
        raise LookupError("pyqtgraph is not installed: its colour maps are not available")
    path = Path(spec.origin).parent / "colors" / "maps" / f"{name}.csv"
    if not path.is_file():
        raise LookupError(f"no colour map named {name!r} in {path.parent}")
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split(";", 1)[0].strip()  # ';' starts a comment, as pyqtgraph reads it
        if line:
            rows.append([float(v) for v in line.split(",")[:3]])
    table = np.asarray(rows, dtype=np.float64)
    if len(table) != 256:  # resample onto 256 entries
        at = np.linspace(0.0, 1.0, len(table))
        table = np.stack([np.interp(np.linspace(0, 1, 256), at, table[:, k]) for k in range(3)], 1)
    colours = np.clip(np.floor(255.0 * table + 0.5), 0, 255).astype(np.uint8)
    colours.setflags(write=False)
    return colours


def colour_map(name: str) -> np.ndarray:
    """A colour map as a (256, 3) uint8 RGB table, read from the colorcet / matplotlib CSV
    maps that pyqtgraph ships (``pyqtgraph/colors/maps/NAME.csv``, e.g. "viridis",
    "CET-D1", "CET-L1") without importing pyqtgraph, which is slow and must stay on the
    GUI thread. Read-only and cached. Raises ``LookupError`` for an unknown name."""
    return _read_colour_map(name)


def colourise(values: np.ndarray, name: str, low: float, high: float) -> np.ndarray:
    """``values`` (any shape) -> RGB uint8 (shape + (3,)), ``low``..``high`` spanning the map."""
    span = high - low if high > low else 1.0
    index = np.clip((np.asarray(values, dtype=np.float32) - low) / span * 255.0 + 0.5, 0, 255)
    return colour_map(name)[index.astype(np.intp)]


def heat_overlay(image28: np.ndarray, heat: np.ndarray, ink_gray: float = 0.45) -> np.ndarray:
    """(28, 28, 3) uint8: the drawing in gray on white, and over it the signed heat in
    :data:`HEAT_MAP` colours, opaque where |heat| is large: where it looked, and on what."""
    ink = np.clip(np.asarray(image28, dtype=np.float32), 0.0, 1.0)[..., None]
    base = 255.0 * (1.0 - ink_gray * ink)
    colour = colourise(heat, HEAT_MAP, -1.0, 1.0).astype(np.float32)
    alpha = np.clip(np.abs(np.asarray(heat, dtype=np.float32)) * 1.5, 0.0, 1.0)[..., None]
    return (base * (1.0 - alpha) + colour * alpha + 0.5).astype(np.uint8)


def map_grid(maps: np.ndarray, columns: int = 8, gap: int = 1, scaled: bool = True) -> np.ndarray:
    """Feature maps (C, H, W) tiled row by row into one (rows*(H+gap)-gap, ...) float32
    image; ``scaled``: all divided by the layer's maximum, so 0..1 with quiet maps looking
    quiet beside busy ones. Gaps are NaN, for the caller to paint as it likes."""
    maps = np.asarray(maps, dtype=np.float32)
    count, h, w = maps.shape
    rows = -(-count // columns)
    peak = float(maps.max()) if maps.size and scaled else 1.0
    maps = maps / peak if peak > 0 else np.zeros_like(maps)
    grid = np.full((rows * (h + gap) - gap, columns * (w + gap) - gap), np.nan, np.float32)
    for k in range(count):
        r, c = divmod(k, columns)
        grid[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = maps[k]
    return grid

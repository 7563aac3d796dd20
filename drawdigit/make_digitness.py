"""Make the bundled digit-ness head, temperature and thresholds (``resources/model/digitness.*``).

    python -m drawdigit.make_digitness [--mnist DIR] [--out DIR] [--seed N] [--threads N]

Trains ONLY on data made here: MNIST's training set (digits, augmented as for the bundled
model) against the negatives of ``drawdigit.negatives`` (letters and symbols from the
installed fonts, DejaVu held out; scribbles; parts of digits; pairs of digits); a random half
of every set is redrawn with the app's pen (``drawdigit.thinning``). MNIST images
50,000-59,999 and one font in four are kept out of training and used to fit the temperature
and choose the thresholds. No measuring set (unipen, real images) is read. The bundled one
took 525 s of wall-clock time, niced, on the busy shared 2-core machine. Writes
``digitness.npz`` (plain arrays) and ``digitness.json`` (sha256, the CNN it belongs to, how
it was made, held-out figures) atomically.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

from drawdigit import negatives
from drawdigit.augment import DEFAULT_AUGMENT, AugmentConfig, augment_batch
from drawdigit.digitness import WEIGHTS_NAME, softmax
from drawdigit.inference import Predictor, load_predictor
from drawdigit.mnist import find_data_dir, load_mnist
from drawdigit.preprocess import normalise_image
from drawdigit.store import atomic_write_bytes, atomic_write_text, bundled_model_path
from drawdigit.thinning import redraw_with_pen

HELD_OUT_FROM = 50_000  # MNIST training images from here on are held out
HIDDEN = 32
# Negatives are not digits: no label-dependent writing styles, geometry and pen only.
NEGATIVE_AUGMENT = AugmentConfig(thickness=0.3)
# Thresholds, on held-out data: the share of held-out digits the head may call "not a digit",
# and the share of held-out digits the "sure" answers may get wrong.
REJECT_DIGITS = 0.001
SURE_WRONG = 0.001
# and the share of held-out not-digits that may be shown as a sure digit.
NEGATIVES_SURE = 0.02


def _features(predictor: Predictor, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    logits, hidden = [], []
    for start in range(0, len(images), 2000):
        lo, hi = predictor.logits_and_features(images[start : start + 2000])
        logits.append(lo)
        hidden.append(hi)
    return np.concatenate(logits), np.concatenate(hidden)


def _augment(images: np.ndarray, labels: np.ndarray | None, copies: int, seed: int) -> np.ndarray:
    generator = torch.Generator().manual_seed(seed)
    x = torch.from_numpy(images[:, None].astype(np.float32))
    config = DEFAULT_AUGMENT if labels is not None else NEGATIVE_AUGMENT
    y = None if labels is None else torch.from_numpy(labels.astype(np.int64))
    out = [augment_batch(x, generator, config, y)[:, 0].numpy() for _ in range(copies)]
    return np.concatenate(out)


def _half_with_pen(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random half of the images redrawn with the app's pen (see ``thinning``)."""
    chosen = rng.random(len(images)) < 0.5
    out = images.copy()
    for start in range(0, len(images), 5000):
        block = np.flatnonzero(chosen[start : start + 5000]) + start
        if block.size:
            out[block] = redraw_with_pen(images[block])
    return out


def _non_blank(images: np.ndarray) -> np.ndarray:
    return images[images.reshape(len(images), -1).max(axis=1) > 0.2]


def make_sets(mnist_dir: Path | None, seed: int) -> dict[str, np.ndarray]:
    """Training and held-out images: digits (with labels) and not-digits, all 28x28."""
    rng = np.random.default_rng(seed)
    found = find_data_dir(mnist_dir)
    if found is None:
        raise SystemExit("MNIST not found: pass --mnist DIR or run `drawdigit download-mnist`")
    data = load_mnist(found)
    digits = np.stack([normalise_image(im) for im in data.train_images]).astype(np.float32)
    labels = data.train_labels.astype(np.int64)
    fonts = negatives.find_fonts()
    if len(fonts) < 4:
        raise SystemExit("too few fonts: install e.g. fonts-urw-base35 fonts-dkg-handwriting")
    held_fonts = fonts[3::4]
    train_fonts = [f for f in fonts if f not in held_fonts]
    sets: dict[str, np.ndarray] = {}
    for split, rows, font_list, copies in (
        ("train", slice(0, HELD_OUT_FROM), train_fonts, 8),
        ("held", slice(HELD_OUT_FROM, None), held_fonts, 4),
    ):
        pos = digits[rows]
        pos_labels = labels[rows]
        keep = rng.permutation(len(pos))[: 30_000 if split == "train" else 10_000]
        pos, pos_labels = pos[keep], pos_labels[keep]
        glyphs = negatives.font_glyphs(font_list)
        n = len(pos) // 4
        parts = _non_blank(negatives.digit_parts(pos[:n], rng))
        pairs = negatives.digit_pairs(pos[n : 2 * n], rng)
        scribbles = negatives.scribbles(n, rng)
        step = seed * 10 + (0 if split == "train" else 5)
        sets[f"{split}_pos"] = np.concatenate([pos, _augment(pos, pos_labels, 1, step)])
        sets[f"{split}_pos_labels"] = np.concatenate([pos_labels, pos_labels])
        sets[f"{split}_neg"] = np.concatenate(
            [
                _augment(glyphs, None, copies, step + 1),
                _augment(parts, None, 1, step + 2),
                _augment(pairs, None, 1, step + 3),
                scribbles,
            ]
        )
        for key in (f"{split}_pos", f"{split}_neg"):
            sets[key] = _half_with_pen(sets[key], rng)
        sets[f"{split}_neg_kinds"] = np.repeat(
            np.array(["font", "part", "pair", "scribble"]),
            [len(glyphs) * copies, len(parts), len(pairs), len(scribbles)],
        )
    sets["fonts_train"] = np.array([f.name for f in train_fonts])
    sets["fonts_held"] = np.array([f.name for f in held_fonts])
    return sets


def train_head(
    pos: np.ndarray, neg: np.ndarray, seed: int, epochs: int = 12
) -> dict[str, np.ndarray]:
    """A 64 -> HIDDEN -> 1 MLP on hidden features; positives and negatives weigh the same."""
    torch.manual_seed(seed)
    x = torch.from_numpy(np.concatenate([pos, neg]).astype(np.float32))
    y = torch.cat([torch.ones(len(pos)), torch.zeros(len(neg))])
    weight = torch.cat(
        [torch.full((len(pos),), 0.5 / len(pos)), torch.full((len(neg),), 0.5 / len(neg))]
    ) * len(y)
    scale = x.std(dim=0).clamp(min=1e-3)
    net = torch.nn.Sequential(
        torch.nn.Linear(x.shape[1], HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, 1)
    )
    optimiser = torch.optim.Adam(net.parameters(), lr=3e-3, weight_decay=1e-4)
    xs = x / scale
    for _ in range(epochs):
        order = torch.randperm(len(y))
        for start in range(0, len(y), 512):
            idx = order[start : start + 512]
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                net(xs[idx])[:, 0], y[idx], weight=weight[idx]
            )
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    first, second = net[0], net[2]
    with torch.no_grad():  # fold the feature scaling into the first layer
        w1 = (first.weight / scale).T.numpy().copy()
        return {
            "w1": w1.astype(np.float32),
            "b1": first.bias.numpy().astype(np.float32),
            "w2": second.weight[0].numpy().astype(np.float32),
            "b2": second.bias.numpy().astype(np.float32),
        }


def head_probability(arrays: dict[str, np.ndarray], hidden: np.ndarray) -> np.ndarray:
    h = np.maximum(hidden @ arrays["w1"] + arrays["b1"], 0.0)
    return 1.0 / (1.0 + np.exp(-np.clip(h @ arrays["w2"] + arrays["b2"][0], -30, 30)))


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature minimising the negative log-likelihood (a 1-D search in log space)."""

    def nll(t: float) -> float:
        p = softmax(logits / t)
        return float(-np.log(p[np.arange(len(labels)), labels] + 1e-12).mean())

    grid = np.exp(np.linspace(np.log(0.3), np.log(5.0), 60))
    best = float(grid[int(np.argmin([nll(t) for t in grid]))])
    fine = np.linspace(best * 0.93, best * 1.07, 29)
    return float(fine[int(np.argmin([nll(t) for t in fine]))])


def choose_thresholds(
    p_pos: np.ndarray,
    probs_pos: np.ndarray,
    labels: np.ndarray,
    p_neg: np.ndarray,
    probs_neg: np.ndarray,
    kinds: np.ndarray,
) -> tuple[dict[str, float], dict]:
    """The thresholds by the rules in the module's constants, on held-out data only, and
    what they give there."""
    not_digit = float(np.quantile(p_pos, REJECT_DIGITS))
    confidence = probs_pos.max(axis=1)
    wrong = probs_pos.argmax(axis=1) != labels
    grid = np.linspace(0.5, 0.999, 500)
    sure = next((float(t) for t in grid if ((confidence >= t) & wrong).mean() <= SURE_WRONG), 0.999)
    neg_sure = probs_neg.max(axis=1) >= sure
    sure_digitness = next(
        (float(t) for t in grid if (neg_sure & (p_neg >= t)).mean() <= NEGATIVES_SURE), 0.999
    )
    shown_sure = neg_sure & (p_neg >= sure_digitness)
    figures = {
        "digits_called_not_digit": float((p_pos < not_digit).mean()),
        "digit_accuracy": float(1.0 - wrong.mean()),
        "digits_sure_but_wrong": float(((confidence >= sure) & wrong).mean()),
        "digits_sure": float(((confidence >= sure) & (p_pos >= sure_digitness)).mean()),
        "not_digits_called_not_digit": {
            str(k): float((p_neg[kinds == k] < not_digit).mean()) for k in np.unique(kinds)
        },
        "not_digits_shown_sure": {
            str(k): float(shown_sure[kinds == k].mean()) for k in np.unique(kinds)
        },
    }
    thresholds = {
        "not_digit": not_digit,
        "sure": sure,
        "sure_digitness": sure_digitness,
        "number_part": 0.5,
    }
    return thresholds, figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m drawdigit.make_digitness")
    parser.add_argument("--mnist", type=Path, help="MNIST folder (default: the usual places)")
    parser.add_argument("--out", type=Path, default=bundled_model_path().parent)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    predictor, _ = load_predictor(bundled_model_path())
    sets = make_sets(args.mnist, args.seed)
    feats = {}
    for key in ("train_pos", "train_neg", "held_pos", "held_neg"):
        feats[key] = _features(predictor, sets[key])
    arrays = train_head(feats["train_pos"][1], feats["train_neg"][1], args.seed)
    held_logits, held_hidden = feats["held_pos"]
    held_labels = sets["held_pos_labels"]
    temperature = fit_temperature(held_logits, held_labels)
    p_pos = head_probability(arrays, held_hidden)
    p_neg = head_probability(arrays, feats["held_neg"][1])
    thresholds, figures = choose_thresholds(
        p_pos,
        softmax(held_logits / temperature),
        held_labels,
        p_neg,
        softmax(feats["held_neg"][0] / temperature),
        sets["held_neg_kinds"],
    )
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    data = buffer.getvalue()
    cnn = bundled_model_path()
    meta = {
        "format": "drawdigit-digitness",
        "format_version": 1,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python -m drawdigit.make_digitness", *(argv or sys.argv[1:])]),
        "seed": args.seed,
        "sha256": hashlib.sha256(data).hexdigest(),
        "cnn": cnn.name,
        "cnn_sha256": hashlib.sha256(cnn.read_bytes()).hexdigest(),
        "head": f"MLP 64 -> {HIDDEN} -> 1 on the CNN's hidden features (ReLU, sigmoid)",
        "temperature": temperature,
        "thresholds": thresholds,
        "threshold_rules": {
            "not_digit": f"{REJECT_DIGITS:.2%} quantile of held-out digits' digit-ness",
            "sure": f"lowest with sure-and-wrong <= {SURE_WRONG:.2%} of held-out digits",
            "sure_digitness": f"lowest with <= {NEGATIVES_SURE:.1%} of held-out not-digits"
            " shown as a sure digit",
            "number_part": "fixed: each digit of a number more likely right than wrong",
        },
        "data": {
            "digits": "MNIST training images 0-49,999 (30,000 drawn), each plain and augmented"
            " (augment.DEFAULT_AUGMENT); held out: 50,000-59,999 (10,000 drawn)",
            "not_digits": "letters and symbols (negatives.CHARACTERS) from the fonts listed,"
            " 8 augmented copies each; scribbles, digit parts and digit pairs from negatives",
            "pen": "a random half of every set redrawn with the app's pen (thinning.py)",
            "fonts_train": [str(f) for f in sets["fonts_train"]],
            "fonts_held_out": [str(f) for f in sets["fonts_held"]],
            "counts": {k: int(len(v)) for k, v in sets.items() if not k.startswith("fonts")},
        },
        "figures_held_out": figures,
        "seconds": round(time.perf_counter() - started, 1),
        "torch": torch.__version__,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(args.out / WEIGHTS_NAME, data)
    atomic_write_text(
        (args.out / WEIGHTS_NAME).with_suffix(".json"), json.dumps(meta, indent=2) + "\n"
    )
    print(json.dumps({"temperature": temperature, **thresholds, **figures}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Training recipes tried for new writers' digits (issue 16), measured and not kept.

    python benchmarks/bench_recipes.py NAME [--seed S] [--epochs E] [--threads T]
        [--redraw P] [--templates P] [--deskew] [--teachers MODEL ...] [--alpha A]
        [--temperature T] [--out DIR] [--json]

Trains the ``best`` recipe from scratch on MNIST (never on unipen-dev) with one change, saves
the weights to DIR/NAME.pt (``/tmp/drawdigit-recipes``), and prints MNIST test accuracy and
unipen-dev's: unflagged, per digit, and the difference from the bundled model with a 95%
interval from resampling writers (``bench_unipen.by_writer``). The changes:

- ``--redraw P``: each batch digit is, with probability P, the same MNIST digit redrawn with
  the app's pen along its skeleton (``drawdigit.thinning``; all 60,000 redrawn once, ~20 s).
- ``--templates P``: each batch digit is, with probability P, replaced by a made-up pen digit
  (``pen_templates.py``; 60,000 made once, ~75 s) with its label.
- ``--deskew``: every training batch (after the augmentation) and every input measured
  (MNIST test, unipen-dev) is sheared upright by its image moments.
- ``--teachers``: distillation. The loss is ``(1 - alpha)`` cross-entropy on the label plus
  ``alpha`` times T^2 cross-entropy against the teachers' averaged logits softened by T
  (Hinton et al. 2015), the teachers run on the same augmented batch.

These reach into the training loop for the run only (its batch and its loss), because the
app's training has no setting for them: none earned one (docs/benchmarks.md, "Other recipes").
The redrawn MNIST and the made-up digits are kept in /tmp/drawdigit-recipes: delete them
after changing ``thinning`` or ``pen_templates``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from bench_unipen import by_writer, predict  # noqa: E402
from pen_templates import template_set  # noqa: E402
from unipen import load_unipen, score  # noqa: E402

from drawdigit.mnist import find_data_dir, load_mnist  # noqa: E402
from drawdigit.preprocess import preprocess  # noqa: E402
from drawdigit.store import bundled_model_path, load_checkpoint  # noqa: E402
from drawdigit.strokes import load_drawing  # noqa: E402
from drawdigit.training import (  # noqa: E402
    PRESETS,
    TrainingDone,
    fit,
    loop,
    save_trained,
)
from drawdigit.training.tensors import to_input  # noqa: E402

CACHE = Path("/tmp/drawdigit-recipes")


def deskew(x: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W) digits sheared sideways so that their main axis is vertical: the
    shear is cov(x, y) / var(y) of the ink (at most 0.6), about the centre of mass,
    which stays where it was."""
    n, _, h, w = x.shape
    ink = x[:, 0].float()
    mass = ink.sum((1, 2)).clamp(min=1e-6)
    cols, rows = torch.arange(w, dtype=ink.dtype), torch.arange(h, dtype=ink.dtype)
    cx = (ink.sum(1) * cols).sum(1) / mass
    cy = (ink.sum(2) * rows).sum(1) / mass
    dx = cols[None, None, :] - cx[:, None, None]
    dy = rows[None, :, None] - cy[:, None, None]
    cov = (ink * dx * dy).sum((1, 2)) / mass
    var = (ink * dy * dy).sum((1, 2)) / mass
    shear = (cov / var.clamp(min=1e-3)).clamp(-0.6, 0.6)
    theta = torch.zeros(n, 2, 3, dtype=x.dtype)
    theta[:, 0, 0] = theta[:, 1, 1] = 1.0
    theta[:, 0, 1] = shear
    theta[:, 0, 2] = -shear * ((2 * cy + 1) / h - 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def redrawn_mnist(images: np.ndarray) -> np.ndarray:
    """All training digits (N, 28, 28) uint8 redrawn with the app's pen, cached on disk."""
    path = CACHE / "mnist-redrawn.npy"
    if path.is_file():
        return np.load(path)
    from drawdigit.thinning import redraw_with_pen

    ink = images.astype(np.float32) / 255.0
    out = np.concatenate([redraw_with_pen(ink[i : i + 2000]) for i in range(0, len(ink), 2000)])
    out = np.round(out * 255).astype(np.uint8)
    np.save(path, out)
    return out


def templates() -> tuple[np.ndarray, np.ndarray]:
    path = CACHE / "templates-60000-12345.npz"
    if path.is_file():
        z = np.load(path)
        return z["x"], z["y"]
    x, y = template_set(60000, 12345)
    np.savez(path, x=x, y=y)
    return x, y


@contextmanager
def changed_loop(args: argparse.Namespace, train_images: np.ndarray) -> Iterator[None]:
    """The training loop's batch (and with teachers its loss) changed for this run."""
    original_batch, original_step = loop._Run._batch, loop._shard_step
    pen = torch.Generator().manual_seed(1000 + args.seed)
    made = torch.Generator().manual_seed(2000 + args.seed)
    redrawn = pool_x = pool_y = None
    if args.redraw:
        redrawn = torch.from_numpy(redrawn_mnist(train_images.reshape(-1, 28, 28))).unsqueeze(1)
    if args.templates:
        x, y = templates()
        pool_x, pool_y = torch.from_numpy(x).unsqueeze(1), torch.from_numpy(y).long()
    teachers = [load_checkpoint(Path(t)).build_model().eval() for t in args.teachers]

    def batch(self, order: torch.Tensor, number: int) -> tuple[torch.Tensor, torch.Tensor]:
        size = self.config.batch_size
        index = order[(number - 1) * size : number * size]
        x = to_input(self.train.images[index])
        y = self.train.labels[index].clone()
        if redrawn is not None:
            pick = torch.rand(len(index), generator=pen) < args.redraw
            if pick.any():
                x[pick] = to_input(redrawn[index[pick]])
        if pool_x is not None:
            pick = torch.rand(len(index), generator=made) < args.templates
            if pick.any():
                j = torch.randint(0, len(pool_y), (int(pick.sum()),), generator=made)
                x[pick] = to_input(pool_x[j])
                y[pick] = pool_y[j].to(y.dtype)
        x = self.augment(x, self.augment_generator, labels=y)
        if args.deskew:
            x = deskew(x)
        x = x.contiguous(memory_format=torch.channels_last)
        if teachers:  # the targets carry the label, then the teachers' soft answer
            with torch.inference_mode():
                logits = torch.stack([t(x) for t in teachers]).mean(0)
            soft = torch.softmax(logits / args.temperature, 1)
            y = torch.cat([y[:, None].float(), soft], 1)
        return x, y

    def distilled_step(forward, params, x, y, batch_size, bf16=False):
        label, soft = y[:, 0].long(), y[:, 1:]
        logits = forward(x)
        hard = F.cross_entropy(logits, label, reduction="sum")
        t = args.temperature
        kd = -(soft * F.log_softmax(logits / t, 1)).sum() * t * t
        loss = (1 - args.alpha) * hard + args.alpha * kd
        grads = torch.autograd.grad(loss / batch_size, params)
        with torch.no_grad():
            correct = (logits.argmax(dim=1) == label).sum()
        return hard.detach().double(), correct, grads

    loop._Run._batch = batch
    if teachers:
        loop._shard_step = distilled_step
    try:
        yield
    finally:
        loop._Run._batch, loop._shard_step = original_batch, original_step


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("name")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--epochs", type=int, help="default: the best preset's 15")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--redraw", type=float, default=0.0)
    parser.add_argument("--templates", type=float, default=0.0)
    parser.add_argument("--deskew", action="store_true")
    parser.add_argument("--teachers", nargs="*", default=[], type=Path)
    parser.add_argument("--alpha", type=float, default=0.7)
    parser.add_argument("--temperature", type=float, default=2.0)
    parser.add_argument("--mnist", type=Path, help="MNIST folder (default: as the app finds it)")
    parser.add_argument("--out", type=Path, default=CACHE)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    CACHE.mkdir(parents=True, exist_ok=True)
    data_dir = find_data_dir(args.mnist)
    if data_dir is None:
        parser.error("no MNIST folder found; pass --mnist ../shared/mnist")
    data = load_mnist(data_dir)
    config = replace(
        PRESETS["best"],
        seed=args.seed,
        threads=args.threads,
        quick_eval_seconds=0,
        **({"epochs": args.epochs} if args.epochs else {}),
    )
    started = time.monotonic()
    done = None
    with changed_loop(args, data.train_images):
        for event in fit(config, data):
            if isinstance(event, TrainingDone):
                done = event
    seconds = time.monotonic() - started
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{args.name}.pt"
    save_trained(path, done, {"bench_recipes": " ".join(sys.argv[1:])})
    model = load_checkpoint(path).build_model()

    def inputs(images: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32)).unsqueeze(1)
        return (deskew(x) if args.deskew else x)[:, 0].numpy()

    mnist = float((predict(model, inputs(data.test_images / 255.0)) == data.test_labels).mean())
    samples = load_unipen()
    blank = np.zeros((28, 28), np.float32)
    drawn = [preprocess(load_drawing(s.path)) for s in samples]
    drawn = np.stack([blank if d is None else d for d in drawn])
    ours = predict(model, inputs(drawn))
    bundled = predict(load_checkpoint(bundled_model_path()).build_model(), drawn)
    result, paired = score(samples, ours), by_writer(samples, ours, bundled)
    print(
        f"{args.name}: {seconds:.0f} s; MNIST test {mnist * 100:.2f}%; unipen-dev unflagged"
        f" {result.unflagged * 100:.2f}% (all {result.all * 100:.2f}%); vs bundled"
        f" {paired['difference']:+.2f} [{paired['low']:+.2f}, {paired['high']:+.2f}]"
    )
    print("  per digit: " + " ".join(f"{d}: {a * 100:.1f}" for d, a in enumerate(result.per_class)))
    if args.json:
        print(
            json.dumps(
                {
                    "name": args.name,
                    "args": " ".join(sys.argv[1:]),
                    "seconds": seconds,
                    "mnist": mnist,
                    "unflagged": result.unflagged,
                    "all": result.all,
                    "per_class": [float(a) for a in result.per_class],
                    "vs_bundled": paired,
                }
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

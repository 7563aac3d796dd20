"""Fine-tuning on a small synthetic personal style raises its held-out accuracy."""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest

from drawdigit.finetune import FinetuneConfig, FinetuneError, finetune, stratified_split
from drawdigit.mnist import load_mnist
from drawdigit.preprocess import preprocess
from drawdigit.store import bundled_model_path, load_checkpoint, resource_path
from drawdigit.strokes import Drawing, load_drawing


def styled_set(per_digit: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A made-up writer: digits lying on their side (rotated 75 degrees) and wide, plus
    jitter. Rendered with the app's own ``preprocess``."""
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for d in range(10):
        base = load_drawing(resource_path("samples", f"digit-{d}.json"))
        for _ in range(per_digit):
            angle = math.radians(75 + rng.uniform(-8, 8))
            stretch = rng.uniform(1.2, 1.5)
            cos, sin = math.cos(angle), math.sin(angle)
            strokes = [
                [
                    (
                        140 + ((x - 140) * stretch) * cos - (y - 140) * sin,
                        140 + ((x - 140) * stretch) * sin + (y - 140) * cos,
                    )  # fmt: skip
                    for x, y in stroke
                ]
                for stroke in base.strokes
            ]
            images.append(preprocess(Drawing(280, 280, strokes)))
            labels.append(d)
    return np.stack(images), np.asarray(labels)


def test_stratified_split_keeps_every_digit_and_is_seeded() -> None:
    labels = np.repeat(np.arange(10), 8)
    train, held = stratified_split(labels, 0.25, seed=3)
    assert len(held) == 20 and len(train) == 60
    assert sorted(set(labels[held])) == list(range(10))
    assert set(train).isdisjoint(held)
    again = stratified_split(labels, 0.25, seed=3)
    assert np.array_equal(again[1], held)


def test_finetuning_raises_held_out_accuracy_and_keeps_mnist(mnist_dir) -> None:
    mnist = load_mnist(mnist_dir, verify=False)
    images, labels = styled_set(8, seed=0)
    initial = load_checkpoint(bundled_model_path())
    events = []
    result = finetune(
        images,
        labels,
        initial,
        mnist,
        FinetuneConfig(steps=60, lr=1e-3, mnist_eval=2000),
        progress=events.append,
    )
    assert result.heldout_count == 20 and result.train_count == 60
    assert result.heldout_after > result.heldout_before + 0.15, result
    assert result.mnist_after > result.mnist_before - 0.02, result
    assert events and events[-1].step == 60 and events[-1].fraction == 1.0
    # the caller's model is untouched; the result is a separate copy
    assert not all(
        np.array_equal(initial.state_dict[k].numpy(), result.state_dict[k].numpy())
        for k in initial.state_dict
    )


def test_cancel_stops_between_steps() -> None:
    images, labels = styled_set(2, seed=1)
    cancel = threading.Event()
    cancel.set()
    result = finetune(images, labels, load_checkpoint(bundled_model_path()), None,
                      FinetuneConfig(steps=50), cancel=cancel)  # fmt: skip
    assert result.cancelled and result.steps_done == 0 and result.mnist_before is None


def test_too_few_samples_is_a_clear_error() -> None:
    with pytest.raises(FinetuneError, match="samples"):
        finetune(np.zeros((1, 28, 28)), np.array([3]), load_checkpoint(bundled_model_path()))

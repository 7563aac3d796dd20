"""Shared fixtures: the data beside the checkout, and a private user data dir per test."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path

# As drawdigit/__init__.py does, before numpy loads: one BLAS thread (two spinning threads made
# forward passes 10-50x slower on the busy 2-core machine).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(autouse=True)
def user_data(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own empty user data dir, so no test sees the developer's models."""
    path = tmp_path_factory.mktemp("userdata")
    monkeypatch.setenv("DRAWDIGIT_DATA_DIR", str(path))
    monkeypatch.delenv("DRAWDIGIT_MNIST_DIR", raising=False)
    return path


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    path = SHARED / "mnist"
    if not (path / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.fail(f"MNIST is expected in {path} (../shared/mnist beside the checkout)")
    return path


@pytest.fixture(scope="session")
def unipen_dir() -> Path:
    path = SHARED / "unipen-dev"
    if not (path / "labels.csv").is_file():
        pytest.fail(f"the UNIPEN dev set is expected in {path}")
    return path


def _sideways_writer(per_digit: int, seed: int) -> list[tuple[int, object]]:
    """(digit, Drawing) pairs from a made-up writer whose digits lie on their side (rotated
    75 degrees) and wide, plus jitter: a style the bundled model mostly misreads, for the
    fine-tuning tests. Built from the bundled sample strokes."""
    from drawdigit.store import resource_path
    from drawdigit.strokes import Drawing, load_drawing

    rng = np.random.default_rng(seed)
    drawings = []
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
            drawings.append((d, Drawing(280, 280, strokes)))
    return drawings


@pytest.fixture(scope="session")
def sideways_writer() -> Callable[[int, int], list[tuple[int, object]]]:
    """``sideways_writer(per_digit, seed)``: see :func:`_sideways_writer`."""
    return _sideways_writer


def _kept_aside_accuracy(model: Path, holdout: float = 0.25, seed: int = 0) -> float:
    """Accuracy of the model file ``model`` on the personal samples a run keeps aside (the
    stratified ``holdout`` share, split with ``seed`` as the fine-tune and the mixed runs
    split them), answered by the numpy forward pass: the figure the app reports, computed
    another way."""
    from drawdigit.finetune import load_my_samples, stratified_split
    from drawdigit.inference import load_predictor

    images, labels, _warnings = load_my_samples()
    _train, held = stratified_split(labels, holdout, seed)
    predictor, _ = load_predictor(model)
    answers = predictor.predict(images[held]).argmax(axis=1)
    return float((answers == labels[held]).mean())


@pytest.fixture(scope="session")
def kept_aside_accuracy() -> Callable[..., float]:
    """``kept_aside_accuracy(model_path, holdout=0.25, seed=0)``: see
    :func:`_kept_aside_accuracy`."""
    return _kept_aside_accuracy

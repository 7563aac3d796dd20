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

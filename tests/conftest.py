"""Shared fixtures: the data beside the checkout, and a private user data dir per test."""

from __future__ import annotations

import os
from pathlib import Path

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

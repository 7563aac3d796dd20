"""The unipen-dev measuring set: pen-drawn digits as strokes files, with labels and flags.

Reusable by benchmarks and tests (``from benchmarks.unipen import load_unipen`` from the repo
root, or ``from unipen import ...`` when run as a script from benchmarks/). The set lives beside
the checkout (``../shared/unipen-dev``) and is only ever *measured* on, never trained on.

``labels.csv`` columns: file, label, institution, writer, source_file, segment, flags; flags
(";"-separated, possibly empty) mark samples whose label or segmentation is doubtful, so
accuracy is quoted on all samples and on the unflagged ones.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DIR = REPO.parent / "shared" / "unipen-dev"


@dataclass(frozen=True)
class UnipenSample:
    """One drawing of the set: its file, true digit, who drew it, and any doubt flags."""

    path: Path
    label: int
    institution: str
    writer: str
    flags: tuple[str, ...]

    @property
    def flagged(self) -> bool:
        return bool(self.flags)


def find_unipen_dir(explicit: Path | str | None = None) -> Path:
    """``explicit``, else ``$DRAWDIGIT_UNIPEN_DIR``, else ``../shared/unipen-dev``."""
    candidate = explicit or os.environ.get("DRAWDIGIT_UNIPEN_DIR") or DEFAULT_DIR
    path = Path(candidate)
    if not (path / "labels.csv").is_file():
        raise FileNotFoundError(f"{path}: no labels.csv (the unipen-dev set is expected here)")
    return path


def load_unipen(directory: Path | str | None = None) -> list[UnipenSample]:
    """Every sample listed in ``labels.csv``, in file order."""
    root = find_unipen_dir(directory)
    samples = []
    with open(root / "labels.csv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            flags = tuple(flag for flag in (row.get("flags") or "").split(";") if flag)
            samples.append(
                UnipenSample(
                    path=root / row["file"],
                    label=int(row["label"]),
                    institution=row["institution"],
                    writer=row["writer"],
                    flags=flags,
                )
            )
    return samples


def iter_drawings(samples: list[UnipenSample]) -> Iterator[tuple[UnipenSample, object]]:
    """(sample, Drawing) pairs, read through drawdigit's own strokes reader."""
    from drawdigit.strokes import load_drawing

    for sample in samples:
        yield sample, load_drawing(sample.path)


@dataclass(frozen=True)
class Score:
    """Accuracy of one set of predictions against the unipen labels."""

    all: float
    unflagged: float
    per_class: np.ndarray  # (10,) accuracy per true digit, unflagged samples
    confusion: np.ndarray  # (10, 10) counts, rows = true digit, unflagged samples
    count: int
    unflagged_count: int


def score(samples: list[UnipenSample], predictions: np.ndarray) -> Score:
    """Accuracy on all samples and on the unflagged ones; per class on the unflagged."""
    labels = np.array([s.label for s in samples])
    clean = ~np.array([s.flagged for s in samples])
    predictions = np.asarray(predictions)
    correct = predictions == labels
    confusion = np.zeros((10, 10), dtype=np.int64)
    np.add.at(confusion, (labels[clean], predictions[clean]), 1)
    per_class = np.diag(confusion) / np.maximum(confusion.sum(axis=1), 1)
    return Score(
        all=float(correct.mean()),
        unflagged=float(correct[clean].mean()),
        per_class=per_class,
        confusion=confusion,
        count=int(len(samples)),
        unflagged_count=int(clean.sum()),
    )

"""Real pen ink the app ships: UNIPEN digits and not-digits as the network sees them.

MNIST was written on paper and scanned; people draw on a screen or a tablet. To learn what
their ink looks like, the bundled network and every model's digit-ness head train on
pen-drawn digits, letters and symbols from the UNIPEN on-line handwriting benchmark
(train_r01_v07; Guyon, Schomaker, Plamondon, Liberman, Janet, ICPR 1994; CC BY 4.0),
rendered once by ``preprocess`` exactly as the canvas renders a drawing, and shipped as 28x28
uint8 arrays in ``resources/data/`` (``python -m drawdigit.make_pendata`` makes them from the
strokes files; its command and checksums are in the ``.json`` beside each file).

Every drawing carries its writer (``institution/writer``). Figures on UNIPEN come only from
a model that never saw that writer: :func:`writer_fold` puts every writer in one of
:data:`FOLDS` folds by a hash of the name alone, so a writer falls in the same fold in every
set (digits, letters, numbers) and on every machine.

numpy only (no torch): the training side and the benchmarks read it alike.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from drawdigit.store import ModelFileError, resource_path
from drawdigit.training.config import NOT_DIGIT_CLASS

if TYPE_CHECKING:
    from drawdigit.mnist import MnistData

FOLDS = 5
DIGITS_NAME = "pen-digits.npz"
NOT_DIGITS_NAME = "pen-notdigits.npz"
MADE_NAME = "pen-made.npz"  # parts, pairs and scribbles made from the digits (``characters``)
# What a file may hold: the shipped sets are 6,209 and 22,765 drawings.
MAX_DRAWINGS = 200_000
NOT_A_DIGIT = -1  # the label of every letter and symbol


def writer_fold(writer: str, folds: int = FOLDS) -> int:
    """The fold of a writer (``"institution/writer"``): the same in every set and run."""
    digest = hashlib.sha256(writer.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % folds


@dataclass(frozen=True)
class PenSet:
    """Pen drawings rendered to the network's input.

    ``images``: (N, 28, 28) uint8, ink bright (``preprocess`` x 255, rounded).
    ``labels``: (N,) int64, the digit, or ``NOT_A_DIGIT`` for letters and symbols.
    ``writers``: (N,) int64 indices into ``writer_names`` (``"institution/writer"``).
    ``flagged``: (N,) bool, drawings whose label or segmentation UNIPEN's curators doubt.
    ``characters``: (N,) str, what was written (the digit or the letter/symbol).
    """

    images: np.ndarray
    labels: np.ndarray
    writers: np.ndarray
    writer_names: tuple[str, ...]
    flagged: np.ndarray
    characters: np.ndarray

    def __len__(self) -> int:
        return int(len(self.labels))

    def folds(self) -> np.ndarray:
        """(N,) the fold of each drawing's writer."""
        by_writer = np.array([writer_fold(w) for w in self.writer_names], dtype=np.int64)
        return by_writer[self.writers] if len(self.writers) else np.zeros(0, np.int64)

    def select(self, keep: np.ndarray) -> PenSet:
        """The drawings where ``keep`` (a bool mask or indices) holds."""
        return PenSet(
            self.images[keep],
            self.labels[keep],
            self.writers[keep],
            self.writer_names,
            self.flagged[keep],
            self.characters[keep],
        )

    def without_fold(self, fold: int | None) -> PenSet:
        """Everything but the writers of ``fold`` (None: everything)."""
        return self if fold is None else self.select(self.folds() != fold)

    def only_fold(self, fold: int) -> PenSet:
        return self.select(self.folds() == fold)

    def as_float(self) -> np.ndarray:
        """(N, 28, 28) float32 in [0, 1], as ``preprocess`` gave them (to 1/255)."""
        return self.images.astype(np.float32) / 255.0


def pen_data_path(name: str) -> Path:
    return resource_path("data", name)


def encode(pen: PenSet) -> bytes:
    """The ``.npz`` bytes of a set (plain arrays: read back with ``allow_pickle=False``)."""
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        images=pen.images.astype(np.uint8),
        labels=pen.labels.astype(np.int8),
        writers=pen.writers.astype(np.int16),
        writer_names=np.array(pen.writer_names, dtype=str),
        flagged=pen.flagged.astype(bool),
        characters=pen.characters.astype(str),
    )
    return buffer.getvalue()


def load_pen_set(name_or_path: str | Path) -> PenSet:
    """Read and check a shipped set (a name in ``resources/data`` or a path).

    The ``.npz`` must match the sha256 in the ``.json`` beside it and hold plain arrays of
    consistent shapes; anything else raises ``ModelFileError`` naming the file. Never
    unpickles.
    """
    path = Path(name_or_path)
    if not path.is_absolute() and path.parent == Path("."):
        path = pen_data_path(str(name_or_path))
    meta_path = path.with_suffix(".json")
    try:
        data = path.read_bytes()
        meta = json.loads(meta_path.read_text("utf-8"))
    except FileNotFoundError as exc:
        raise ModelFileError(f"{exc.filename}: no such file") from exc
    except (OSError, ValueError, RecursionError) as exc:
        raise ModelFileError(f"{path}: cannot read the pen data ({exc})") from exc
    if not isinstance(meta, dict) or meta.get("sha256") != hashlib.sha256(data).hexdigest():
        raise ModelFileError(f"{path}: does not match the checksum in {meta_path.name}")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            images = np.asarray(arrays["images"])
            labels = np.asarray(arrays["labels"]).astype(np.int64)
            writers = np.asarray(arrays["writers"]).astype(np.int64)
            names = tuple(str(n) for n in arrays["writer_names"])
            flagged = np.asarray(arrays["flagged"]).astype(bool)
            characters = np.asarray(arrays["characters"]).astype(str)
    except (KeyError, TypeError, ValueError, OSError) as exc:
        raise ModelFileError(f"{path}: not a pen data file ({exc})") from exc
    n = len(labels)
    if (
        images.dtype != np.uint8
        or images.shape != (n, 28, 28)
        or n > MAX_DRAWINGS
        or writers.shape != (n,)
        or flagged.shape != (n,)
        or characters.shape != (n,)
        or (n and (writers.min() < 0 or writers.max() >= len(names)))
        or (n and (labels.min() < NOT_A_DIGIT or labels.max() > 9))
    ):
        raise ModelFileError(f"{path}: pen data has bad shapes or values")
    return PenSet(images, labels, writers, names, flagged, characters)


def load_pen_digits() -> PenSet:
    """The shipped pen-drawn digits (UNIPEN category 1a)."""
    return load_pen_set(DIGITS_NAME)


def load_pen_not_digits() -> PenSet:
    """The shipped pen-drawn letters and symbols (UNIPEN categories 1b-1d)."""
    return load_pen_set(NOT_DIGITS_NAME)


def load_made_not_digits() -> PenSet:
    """The shipped not-digits made from the pen digits: ``characters`` says which kind
    ("part", "pair" or "scribble"), ``writers`` whose digits they were made from."""
    return load_pen_set(MADE_NAME)


def mix_into(
    data: MnistData,
    digit_copies: int,
    not_digit_copies: int,
    leave_out_fold: int | None = None,
) -> MnistData:
    """MNIST with the shipped pen ink appended to its training set (the test set unchanged).

    ``digit_copies`` copies of every pen digit (but those whose label UNIPEN's curators
    doubt) and ``not_digit_copies`` of every pen letter or symbol (labelled
    :data:`NOT_DIGIT_CLASS`); each copy is varied by the run's augmentation when it is seen.
    ``leave_out_fold`` leaves that fold's writers out, so a model can be measured on them.
    """
    from drawdigit.mnist import MnistData

    images, labels = [data.train_images], [np.asarray(data.train_labels, dtype=np.uint8)]
    if digit_copies > 0:
        pen = load_pen_digits().without_fold(leave_out_fold)
        pen = pen.select(~pen.flagged)
        images += [pen.images] * digit_copies
        labels += [pen.labels.astype(np.uint8)] * digit_copies
    if not_digit_copies > 0:
        pen = load_pen_not_digits().without_fold(leave_out_fold)
        images += [pen.images] * not_digit_copies
        labels += [np.full(len(pen), NOT_DIGIT_CLASS, dtype=np.uint8)] * not_digit_copies
    if len(images) == 1:
        return data
    return MnistData(
        np.concatenate(images), np.concatenate(labels), data.test_images, data.test_labels
    )

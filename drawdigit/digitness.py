"""The bundled "is this one digit?" head and the calibration of the network's answers.

Beside the CNN (which stays the seed network with its 10 outputs) the app carries:
- a small MLP on the CNN's 64 hidden features (64 -> 32 -> 1) that says how likely the ink
  is one digit rather than a letter, a symbol, a scribble, a part of a digit or two digits;
- a temperature for the CNN's logits, so that "90% sure" is right about 90% of the time;
- the thresholds that turn those probabilities into the five answers (see ``decide``).
All of it made by ``python -m drawdigit.make_digitness`` from MNIST's training set and
negatives made by ``negatives``; how, from what, and what it measured is in the JSON beside
the weights. The weights are a plain ``.npz`` read with ``allow_pickle=False`` and checked
against the sha256 in the JSON, so a damaged or foreign file is refused, never executed.

The head reads features of one particular CNN: the JSON records that CNN's sha256, and with
another model (a user's retrained one) ``matches`` is False and ``decide`` uses only the
calibrated class probabilities (no "not a digit" from the head).
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from drawdigit.model_config import ModelConfig
from drawdigit.store import ModelFileError, resource_path

WEIGHTS_NAME = "digitness.npz"
# What the head reads: the hidden layer (fc1's outputs) of the network it was made for.
FEATURES = ModelConfig().hidden
ARRAYS = ("w1", "b1", "w2", "b2")


@dataclass(frozen=True)
class Thresholds:
    """Where the answers change (chosen on held-out data the command made; see its JSON).

    ``not_digit``: digit-ness below this -> "not a digit" (if no number reads better).
    ``sure``: a digit's calibrated probability at or above this (and digit-ness at or above
    ``sure_digitness``) -> a sure digit, else "unsure".
    ``number_part``: every digit of a "number" needs at least this probability and a
    digit-ness of at least ``not_digit``.
    """

    not_digit: float = 0.01
    sure: float = 0.9
    sure_digitness: float = 0.5
    number_part: float = 0.5


@dataclass(frozen=True)
class Digitness:
    """The loaded head, temperature and thresholds."""

    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: float
    temperature: float
    thresholds: Thresholds
    cnn_sha256: str
    metadata: dict[str, Any] = field(default_factory=dict)

    def probability(self, hidden: np.ndarray) -> np.ndarray:
        """P(one digit) for (N, 64) hidden features -> (N,)."""
        h = np.maximum(np.asarray(hidden, dtype=np.float32) @ self.w1 + self.b1, 0.0)
        z = h @ self.w2 + self.b2
        return (1.0 / (1.0 + np.exp(-np.clip(z, -30.0, 30.0)))).astype(np.float64)

    def calibrate(self, logits: np.ndarray) -> np.ndarray:
        """Calibrated class probabilities from (N, 10) logits (temperature scaling)."""
        return softmax(np.asarray(logits, dtype=np.float64) / self.temperature)

    def matches(self, cnn_path: Path) -> bool:
        """True when ``cnn_path`` holds the network this head was made for."""
        try:
            return hashlib.sha256(Path(cnn_path).read_bytes()).hexdigest() == self.cnn_sha256
        except OSError:
            return False


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def bundled_digitness_path() -> Path:
    return resource_path("model", WEIGHTS_NAME)


def load_digitness(path: Path | None = None) -> Digitness:
    """Read and check the head; any problem raises ``ModelFileError`` naming the file."""
    path = Path(path) if path is not None else bundled_digitness_path()
    meta_path = path.with_suffix(".json")
    try:
        data = path.read_bytes()
        meta = json.loads(meta_path.read_text("utf-8"))
    except FileNotFoundError as exc:
        raise ModelFileError(f"{exc.filename}: no such file") from exc
    except (OSError, ValueError) as exc:
        raise ModelFileError(f"{path}: cannot read the digit-ness model ({exc})") from exc
    except RecursionError as exc:  # JSON nested deeper than Python's stack
        raise ModelFileError(
            f"{meta_path}: not a digit-ness description (nested too deeply)"
        ) from exc
    if not isinstance(meta, dict) or meta.get("sha256") != hashlib.sha256(data).hexdigest():
        raise ModelFileError(f"{path}: does not match the checksum in {meta_path.name}")
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            values = {name: np.asarray(arrays[name], dtype=np.float32) for name in ARRAYS}
        thresholds = Thresholds(**{k: float(v) for k, v in meta["thresholds"].items()})
        temperature = float(meta["temperature"])
        cnn_sha256 = str(meta["cnn_sha256"])
    except (KeyError, TypeError, ValueError, OSError, AttributeError) as exc:
        raise ModelFileError(f"{path}: not a digit-ness model ({exc})") from exc
    hidden = values["w1"].shape
    if (
        len(hidden) != 2
        or hidden[0] != FEATURES  # it reads the network's hidden layer
        or values["b1"].shape != (hidden[1],)
        or values["w2"].shape != (hidden[1],)
        or values["b2"].size != 1
        or not all(np.isfinite(v).all() for v in values.values())
        or not temperature > 0
    ):
        raise ModelFileError(f"{path}: digit-ness model has bad shapes or values")
    return Digitness(
        values["w1"],
        values["b1"],
        values["w2"],
        float(values["b2"].reshape(-1)[0]),
        temperature,
        thresholds,
        cnn_sha256,
        meta,
    )

"""A network's "is this one digit?" head and the calibration of its answers.

Beside the CNN (which stays the seed network with its 10 outputs) every model carries:
- a small MLP on the CNN's 64 hidden features (64 -> 64 -> 1) that says how likely the ink
  is one digit rather than a letter, a symbol, a scribble, a part of a digit or two digits;
- a temperature for the CNN's logits, so that "90% sure" is right about 90% of the time;
- the thresholds that turn those probabilities into the five answers (see ``decide``).
The head reads the hidden layer of one particular network, so it is fitted for each network
(``headfit``) and saved in the same model file (``store.save_checkpoint``), where the file's
checks cover it too; ``checked_head`` validates it when the file is read. A model file
made before every network had a head has none: ``decide`` then calibrates nothing and answers
only digit, "not sure" and number.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

ARRAYS = ("w1", "b1", "w2", "b2")


@dataclass(frozen=True)
class Thresholds:
    """Where the answers change (chosen on writers the network never saw; ``headfit``).

    ``not_digit``: digit-ness below this -> "not a digit" (if no number reads better).
    ``sure``: digit-ness x the digit's calibrated probability at or above this (and
    digit-ness at or above ``sure_digitness``) -> a sure digit, else "unsure".
    ``number_part``: every digit of a "number" needs at least this probability and a
    digit-ness of at least ``not_digit``.
    """

    not_digit: float = 0.01
    sure: float = 0.9
    sure_digitness: float = 0.5
    number_part: float = 0.5

    def to_dict(self) -> dict[str, float]:
        return {
            "not_digit": float(self.not_digit),
            "sure": float(self.sure),
            "sure_digitness": float(self.sure_digitness),
            "number_part": float(self.number_part),
        }


@dataclass(frozen=True)
class Digitness:
    """A network's head, temperature and thresholds. ``metadata``: how they were made."""

    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: float
    temperature: float
    thresholds: Thresholds
    metadata: dict[str, Any] = field(default_factory=dict)
    shift: float = 0.0  # added to the head's logit (headfit.Calibration: digits are common)

    def probability(self, hidden: np.ndarray) -> np.ndarray:
        """P(one digit) for (N, 64) hidden features -> (N,)."""
        h = np.maximum(np.asarray(hidden, dtype=np.float32) @ self.w1 + self.b1, 0.0)
        z = (h @ self.w2 + self.b2).astype(np.float64) + self.shift
        return 1.0 / (1.0 + np.exp(-np.clip(z, -30.0, 30.0)))

    def calibrate(self, logits: np.ndarray) -> np.ndarray:
        """Calibrated class probabilities from (N, 10) logits (temperature scaling)."""
        return softmax(np.asarray(logits, dtype=np.float64) / self.temperature)

    @classmethod
    def from_head(cls, head: dict[str, Any]) -> Digitness:
        """From a model file's head as ``checked_head`` gives it (already checked)."""
        weights = head["weights"]
        named = ("weights", "temperature", "thresholds", "digitness_shift")
        about = {k: v for k, v in head.items() if k not in named}
        return cls(
            np.asarray(weights["w1"], dtype=np.float32),
            np.asarray(weights["b1"], dtype=np.float32),
            np.asarray(weights["w2"], dtype=np.float32),
            float(np.asarray(weights["b2"]).reshape(-1)[0]),
            float(head["temperature"]),
            Thresholds(**{k: float(v) for k, v in head["thresholds"].items()}),
            about,
            float(head.get("digitness_shift", 0.0)),
        )

    def to_head(self) -> dict[str, Any]:
        """What ``store.save_checkpoint`` saves: weights, temperature, thresholds, metadata."""
        return {
            **self.metadata,
            "weights": {
                "w1": self.w1,
                "b1": self.b1,
                "w2": self.w2,
                "b2": np.array([self.b2], dtype=np.float32),
            },
            "temperature": float(self.temperature),
            "thresholds": self.thresholds.to_dict(),
            "digitness_shift": float(self.shift),
        }


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# The digit-ness head's JSON (temperature, thresholds, how it was made) is a few kB.
_MAX_HEAD_JSON = 200_000
_THRESHOLDS = ("not_digit", "sure", "sure_digitness", "number_part")


def checked_head(raw: Any, hidden: int) -> dict[str, Any]:
    """A saved digit-ness head, checked: a 64 -> H -> 1 MLP on the network's ``hidden``
    features with finite weights, a positive temperature and thresholds in [0, 1]. Raises
    ``ValueError`` (or ``TypeError``/``KeyError``) naming what is wrong."""
    if not isinstance(raw, dict) or not isinstance(raw.get("weights"), dict):
        raise ValueError("no weights")
    text = raw.get("json")
    if not isinstance(text, str) or len(text) > _MAX_HEAD_JSON:
        raise ValueError("no settings")
    about = json.loads(text)
    weights = {}
    for name in ("w1", "b1", "w2", "b2"):
        values = raw["weights"][name]
        if not isinstance(values, np.ndarray) or values.dtype.kind not in "fiu":
            raise ValueError(f"{name} is not a tensor of numbers")
        with np.errstate(over="ignore"):
            weights[name] = values.astype(np.float32)
    width = weights["w1"].shape[1] if weights["w1"].ndim == 2 else -1
    shapes = {"w1": (hidden, width), "b1": (width,), "w2": (width,), "b2": (1,)}
    for name, shape in shapes.items():
        if weights[name].shape != shape or not np.isfinite(weights[name]).all():
            raise ValueError(f"{name} has shape {weights[name].shape} or values it cannot have")
    temperature = about["temperature"]
    thresholds = about["thresholds"]
    shift = about.get("digitness_shift", 0.0)
    if not isinstance(thresholds, dict) or set(thresholds) != set(_THRESHOLDS):
        raise ValueError("thresholds missing")
    numbers = [temperature, shift, *thresholds.values()]
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in numbers):
        raise ValueError("temperature or thresholds are not numbers")
    if not (0.01 <= temperature <= 100) or not all(0 <= v <= 1 for v in thresholds.values()):
        raise ValueError("temperature or thresholds out of range")
    if not -30 <= shift <= 30:
        raise ValueError("digit-ness shift out of range")
    return {**about, "weights": weights}

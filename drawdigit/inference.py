"""Load the model in use safely and turn 28x28 inputs into probabilities.

The model in use is the user's active model when one is saved and valid, else the bundled
one; an explicit path overrides both. A damaged user model never stops the app: it is
reported as a warning and the bundled model answers instead.

No torch on this path: the checkpoint is read by ``store`` with numpy and the network runs
as ``numpy_net.NumpyDigitNet``, so the first answer never waits for ``import torch``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from drawdigit.numpy_net import NumpyDigitNet, softmax
from drawdigit.store import Checkpoint, load_checkpoint_in_use

# Below this confidence, or with the runner-up this close, the app says it is unsure.
UNSURE_CONFIDENCE = 0.6
UNSURE_MARGIN = 0.2

# ``metadata["source"]`` of a model made by ``finetune`` (written there; read by ``describe``
# so that a fine-tuned model is not called "retrained").
FINETUNE_SOURCE = "drawdigit fine-tune"


@dataclass(frozen=True)
class Prediction:
    """What the network thinks of one drawing."""

    probabilities: np.ndarray  # shape (10,), sums to 1
    digit: int
    confidence: float
    runner_up: int
    margin: float  # confidence minus the runner-up's probability

    @property
    def unsure(self) -> bool:
        return self.confidence < UNSURE_CONFIDENCE or self.margin < UNSURE_MARGIN

    @classmethod
    def from_probabilities(cls, probabilities: np.ndarray) -> Prediction:
        p = np.asarray(probabilities, dtype=np.float64).reshape(-1)
        order = np.argsort(p)[::-1]
        return cls(
            probabilities=p,
            digit=int(order[0]),
            confidence=float(p[order[0]]),
            runner_up=int(order[1]),
            margin=float(p[order[0]] - p[order[1]]),
        )


@dataclass(frozen=True)
class ModelSource:
    """Where the model in use came from, for status lines and the About box."""

    kind: str  # "bundled", "user" or "file"
    path: Path
    metadata: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """A one-line description. The metadata comes from a file the user may have made
        or damaged: values of the wrong type (an accuracy "high", a date [1]) are left out,
        never an error, so a usable model is never held up by how it is described."""
        metadata = self.metadata if isinstance(self.metadata, dict) else {}
        accuracy = metadata.get("test_accuracy")
        acc = ""
        if type(accuracy) in (int, float) and 0.0 <= accuracy <= 1.0:  # not bool, not NaN
            acc = f", MNIST test accuracy {accuracy * 100:.2f}%"
        if self.kind == "bundled":
            return f"bundled model{acc}"
        created = metadata.get("created")
        date = created[:10] if isinstance(created, str) else ""
        when = f" on {date}" if date else ""
        tuned = metadata.get("source") == FINETUNE_SOURCE
        user_label = "fine-tuned model" if tuned else "retrained model"
        label = user_label if self.kind == "user" else f"model {self.path.name}"
        return f"{label}{when}{acc}"


class Predictor:
    """A loaded, frozen network (numpy). Thread-safe for concurrent calls."""

    def __init__(self, checkpoint: Checkpoint, source: ModelSource) -> None:
        from drawdigit.digitness import Digitness

        self.net = NumpyDigitNet(checkpoint.config, checkpoint.arrays())
        self.source = source
        # The network's own digit-ness head and calibration (None: the file has none, and
        # ``head_problem`` says why).
        head = checkpoint.head
        self.digitness = Digitness.from_head(head) if head is not None else None
        self.head_problem = checkpoint.head_problem

    @property
    def parameter_count(self) -> int:
        return self.net.parameter_count

    def logits_and_features(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Logits (N, 10) and fc1's ReLU outputs (N, 64) for an (N, 28, 28) batch.

        The one call ``decide`` makes: every candidate part of a drawing goes through a
        single forward pass, and the digit-ness head reads the hidden layer the network's
        own answer is made from.
        """
        return self.net.logits_and_features(batch)

    def predict(self, inputs: np.ndarray) -> np.ndarray:
        """Probabilities for a (28, 28) input or a (N, 28, 28) batch: (10,) or (N, 10)."""
        x = np.asarray(inputs, dtype=np.float32)
        probs = softmax(self.net.logits_and_features(x)[0])
        return probs[0] if x.ndim == 2 else probs

    def classify(self, image28: np.ndarray) -> Prediction:
        return Prediction.from_probabilities(self.predict(image28))


def load_predictor(path: Path | None = None) -> tuple[Predictor, list[str]]:
    """The model to use, and warnings about any file that was skipped.

    ``path`` given: that file or a ``ModelFileError`` is raised (the caller asked for it).
    Otherwise: the user's active model if valid, else the bundled one.
    """
    checkpoint, kind, warnings = load_checkpoint_in_use(path)
    assert checkpoint.path is not None
    return Predictor(checkpoint, ModelSource(kind, checkpoint.path, checkpoint.metadata)), warnings

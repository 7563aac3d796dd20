"""Where a run computes (:func:`resolve_device`), and its labelled sets held there as
uint8 tensors, checked once and turned into float inputs a batch at a time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from drawdigit.training.config import DEVICES, NOT_DIGIT_CLASS, TrainingError


def resolve_device(name: str) -> torch.device:
    """The device to train on: for "auto" CUDA, else Apple's MPS, else the CPU.

    Asking for a device that is not there is an error rather than a silent CPU run.
    """
    cuda = torch.cuda.is_available()
    mps = bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()
    if name == "auto":
        return torch.device("cuda" if cuda else "mps" if mps else "cpu")
    if name == "cuda" and not cuda:
        raise TrainingError("device 'cuda' was asked for, but torch sees no CUDA GPU here")
    if name == "mps" and not mps:
        raise TrainingError("device 'mps' was asked for, but torch sees no Apple MPS GPU here")
    if name not in DEVICES:
        raise TrainingError(f"device must be one of {DEVICES}, not {name!r}")
    return torch.device(name)


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Tensors:
    """A labelled set on the training device: uint8 images (N, 1, 28, 28), int64 labels."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def as_tensors(
    images: Any, labels: Any, what: str, device: torch.device, not_digits: bool = False
) -> Tensors:
    """Check a set's arrays and move them to ``device`` once, as uint8 (4x less than floats;
    each batch is converted to floats as it is used, which costs next to nothing).

    With ``not_digits`` the label ``NOT_DIGIT_CLASS`` (a letter or symbol) is allowed too.
    """
    images_np = np.asarray(images)
    labels_np = np.asarray(labels)
    if images_np.ndim != 3 or images_np.shape[1:] != (28, 28):
        raise TrainingError(f"{what} images must have shape (N, 28, 28), not {images_np.shape}")
    if images_np.dtype != np.uint8:
        raise TrainingError(f"{what} images must be uint8 (0-255), not {images_np.dtype}")
    if labels_np.shape != (images_np.shape[0],):
        raise TrainingError(
            f"{what} labels must have shape ({images_np.shape[0]},), not {labels_np.shape}"
        )
    highest = NOT_DIGIT_CLASS if not_digits else 9
    if labels_np.size and (labels_np.min() < 0 or labels_np.max() > highest):
        raise TrainingError(f"{what} labels must be digits 0-9")
    x = torch.from_numpy(np.array(images_np, dtype=np.uint8, copy=True)).unsqueeze(1)
    y = torch.from_numpy(labels_np.astype(np.int64))
    return Tensors(x.to(device), y.to(device))


def to_input(batch: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 1, 28, 28) -> float32 in [0, 1], channels_last like the model's weights."""
    return batch.to(torch.float32).div_(255.0).contiguous(memory_format=torch.channels_last)

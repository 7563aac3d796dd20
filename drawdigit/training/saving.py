"""A run's weights saved with their story: how good, how made, when."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from drawdigit.store import save_checkpoint
from drawdigit.training.events import TrainingDone

# --------------------------------------------------------------------------- saving


def save_trained(
    path: Path | str, done: TrainingDone, extra_metadata: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Save a run's weights atomically with their story (``store.save_checkpoint``).

    The metadata says how good (test accuracy and loss), how made (the recipe, i.e. the
    config, epochs completed, device, torch version), when (UTC, ISO 8601) and how long it
    took, so a model file can be judged and reproduced from itself alone. Returns it, with
    the sha256 and format version the store adds.
    """
    return save_checkpoint(
        Path(path), done.state_dict, done.model_config, trained_metadata(done, extra_metadata)
    )


def trained_metadata(
    done: TrainingDone, extra_metadata: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A run's story for its model file (see :func:`save_trained`), ``extra_metadata`` last."""
    metadata: dict[str, Any] = {
        "test_accuracy": done.test_accuracy,
        "test_loss": done.test_loss,
        "recipe": done.config.to_dict(),
        "epochs_completed": done.epochs_completed,
        "cancelled": done.cancelled,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "seconds": round(done.seconds, 3),
        "device": done.device,
        "torch": torch.__version__,
        "source": "drawdigit train",
    }
    metadata.update(extra_metadata or {})
    return metadata

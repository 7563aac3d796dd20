"""A run's weights saved with their story: how good, how made, when."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime, timezone
from itertools import count
from pathlib import Path
from typing import Any

import torch

from drawdigit.store import make_folder, metadata_path, save_checkpoint
from drawdigit.training.events import TrainingDone

# --------------------------------------------------------------------------- saving


def save_trained(
    path: Path | str,
    done: TrainingDone,
    extra_metadata: Mapping[str, Any] | None = None,
    head: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Save a run's weights atomically with their story (``store.save_checkpoint``).

    The metadata says how good (test accuracy and loss), how made (the recipe, i.e. the
    config, epochs completed, device, the precision "auto" resolved to, torch version),
    when (UTC, ISO 8601) and how long it took, so a model file can be judged and reproduced
    from itself alone. Returns it, with the sha256 and format version the store adds.
    """
    return save_checkpoint(
        Path(path),
        done.state_dict,
        done.model_config,
        trained_metadata(done, extra_metadata),
        head,
    )


def save_trained_new(
    folder: Path | str,
    done: TrainingDone,
    extra_metadata: Mapping[str, Any] | None = None,
    now: datetime | None = None,
    head: Mapping[str, Any] | None = None,
) -> tuple[Path, dict[str, Any]]:
    """Save a run under a new name in ``folder``, never over another model: returns the path
    and the metadata (see :func:`save_trained`).

    The name is ``trained-<UTC stamp>.pt`` (``now``, default the clock), then ``-2``, ``-3``...
    when taken: two runs that finish in the same second, even in two processes, each keep
    their weights, because the name is claimed by creating the file exclusively before the
    weights replace it atomically. A failed save gives the name back.
    """
    path = claim_new_path(Path(folder), "trained", now)
    try:
        return path, save_trained(path, done, extra_metadata, head)
    except BaseException:
        path.unlink(missing_ok=True)
        metadata_path(path).unlink(missing_ok=True)
        raise


def claim_new_path(folder: Path, prefix: str, now: datetime | None = None) -> Path:
    """``folder/<prefix>-<UTC stamp>[-N].pt``, created empty and exclusively (``O_EXCL``), so
    no other caller can be given it; its sidecar name is free too."""
    make_folder(folder)
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%d-%H%M%S")
    for number in count(1):
        suffix = "" if number == 1 else f"-{number}"
        path = folder / f"{prefix}-{stamp}{suffix}.pt"
        if metadata_path(path).exists():
            continue
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return path
    raise AssertionError("unreachable")  # count() never ends


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
        "precision": done.precision,
        "torch": torch.__version__,
        "source": "drawdigit train",
    }
    metadata.update(extra_metadata or {})
    return metadata

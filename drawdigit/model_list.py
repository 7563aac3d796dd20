"""The models a user has had: list them (the bundled one, the one in use, the ones kept in
``models/``) and make one of them the model in use again.

Torch-free, like the rest of ``store``: every file is validated the way ``load_checkpoint``
reads it, and a file that cannot be used is listed with the reason, never an exception.
"""

from __future__ import annotations

import hashlib
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drawdigit.store import (
    ACTIVE_MODEL_NAME,
    FORMAT_VERSION,
    ModelFileError,
    _parse_checkpoint,
    _read_matching_pair,
    _write_pair,
    active_model_path,
    bundled_model_path,
    keep_active_model,
    load_checkpoint,
    set_aside_active_model,
)


@dataclass
class ModelEntry:
    """One model of ``list_models``: where it is, what it says of itself, whether it answers now.

    ``kind``: "bundled" (came with the app), "active" (the user's model in use, kept nowhere
    else), or "kept" (a file in ``models/``: trained, fine-tuned, set aside, previous).
    ``error`` says why a file cannot be used ("" when it can); its metadata is then empty.
    ``lacks`` says why a usable model cannot answer "not a digit" ("" when it can).
    """

    path: Path
    kind: str
    in_use: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    lacks: str = ""

    @property
    def usable(self) -> bool:
        return not self.error


def list_models() -> list[ModelEntry]:
    """The bundled model, then every ``*.pt`` in the user's ``models/`` folder, oldest first
    by name; the one in use is marked. Read without torch, each file validated as
    ``load_checkpoint`` does: a damaged, foreign or oversized file is listed with the reason
    it cannot be used, never an exception. ``active.pt`` that is a byte-for-byte copy of
    another file there (it was activated from it) is not listed twice: that file is marked
    in use instead.
    """
    entries = [_entry(bundled_model_path(), "bundled")]
    folder = active_model_path().parent
    digests: dict[Path, str] = {}
    if folder.is_dir():
        for path in sorted(folder.glob("*.pt")):
            if path.name.startswith(".") or _empty_file(path):
                continue  # a temp file of a write in progress; a name claimed for a save
            kind = "active" if path.name == ACTIVE_MODEL_NAME else "kept"
            entry = _entry(path, kind)
            entries.append(entry)
            if entry.usable:
                digests[path] = _sha256_of(path)
    active = next((e for e in entries if e.kind == "active"), None)
    in_use = active if active is not None and active.usable else entries[0]
    if active is not None and active.usable:
        digest = digests.get(active.path)
        twin = next(
            (e for e in entries if e.kind == "kept" and digests.get(e.path) == digest), None
        )
        if twin is not None:
            entries.remove(active)
            in_use = twin
    in_use.in_use = in_use.usable
    return entries


def _empty_file(path: Path) -> bool:
    """A regular file of 0 bytes: a name ``claim_new_path`` holds while a run saves (or
    left by a process killed there), never a model to list."""
    try:
        info = path.stat()
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and info.st_size == 0


def _sha256_of(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""


def _entry(path: Path, kind: str) -> ModelEntry:
    """One listed model: its metadata when the file is usable, else why not."""
    try:
        checkpoint = load_checkpoint(path)
    except ModelFileError as exc:
        reason = str(exc).removeprefix(f"{path}: ")
        return ModelEntry(path, kind, error=reason)
    lacks = checkpoint.head_problem if checkpoint.head is None else None
    return ModelEntry(path, kind, metadata=checkpoint.metadata, lacks=lacks or "")


def activate_model_file(path: Path) -> None:
    """Make a model file the one in use: the bundled one (``set_aside_active_model``) or a
    file the user has had (``list_models``), copied as ``models/active.pt``.

    Torch-free: the file's bytes are validated (``load_checkpoint``'s checks) and copied as
    they are, with a sidecar holding their checksum, written in the safe order of
    ``save_checkpoint``. The model replaced is kept first (``keep_active_model``). A file
    that cannot be used raises ``ModelFileError`` and nothing changes.
    """
    path = Path(path)
    if path.resolve() == bundled_model_path().resolve():
        set_aside_active_model()
        return
    active = active_model_path()
    if path.resolve() == active.resolve():
        return  # in use already
    data = _read_matching_pair(path)
    checkpoint = _parse_checkpoint(data, path)  # the very bytes that will be copied
    keep_active_model()
    meta = dict(checkpoint.metadata)
    meta["format_version"] = FORMAT_VERSION
    meta["activated_from"] = path.name
    _write_pair(active, data, meta)

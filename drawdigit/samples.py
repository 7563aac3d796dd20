"""The personal sample set: drawings the user labelled, kept to fine-tune the model on.

Each sample is one JSON file ``<user data>/samples/<label>/<id>.json`` holding
``{"label": 3, "drawing": {...strokes, core format...}, "created": "<ISO UTC>"}``; the
strokes are the truth and the 28x28 input is re-rendered from them with ``preprocess`` when
needed, so a better renderer later improves old samples too. Pictures opened from image files
have no strokes: they are kept as ``"image28"`` (28 rows of 28 floats) instead.

Why one small file per sample: adding, deleting and relabelling touch one file each, writes
are atomic (``store.atomic_write_text``), and a damaged file costs one sample, never the set:
``list_samples`` skips it and reports a warning instead of raising, so the app never crashes
on a bad file in the user's folder.

Export/import is a zip of strokes files in the core format (``<id>.json``, readable by
``drawdigit predict``) plus ``manifest.json`` mapping each file to its label. Personal data
never leaves the user data dir except through an explicit export.
"""

from __future__ import annotations

import json
import threading
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np

from drawdigit.store import atomic_write_bytes, atomic_write_text, user_data_dir
from drawdigit.strokes import Drawing, StrokesError

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = "drawdigit-samples"
MAX_IMPORT_FILES = 100_000
MAX_IMPORT_FILE_BYTES = 20_000_000


class SampleError(Exception):
    """A sample, sample file or samples archive is invalid; the message names it and why."""


@dataclass
class Sample:
    """One labelled drawing of the personal set."""

    id: str
    label: int
    path: Path
    drawing: Drawing | None = None
    image28: np.ndarray | None = None  # stored only for pictures (no strokes)
    created: str = ""

    def input28(self) -> np.ndarray | None:
        """The (28, 28) network input: rendered from the strokes, or the stored picture."""
        if self.drawing is not None:
            from drawdigit.preprocess import preprocess

            return preprocess(self.drawing)
        return None if self.image28 is None else self.image28.astype(np.float32)


@dataclass
class SampleList:
    """What ``list_samples`` found: the readable samples and one warning per skipped file."""

    samples: list[Sample] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def counts(self) -> dict[int, int]:
        """Samples per digit 0-9 (all ten keys present)."""
        counts = dict.fromkeys(range(10), 0)
        for sample in self.samples:
            counts[sample.label] += 1
        return counts


@dataclass
class ImportResult:
    imported: int = 0
    warnings: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- locations


def samples_dir() -> Path:
    """Where the personal samples live (inside the user data dir, never elsewhere)."""
    return user_data_dir() / "samples"


def count_samples(root: Path | None = None) -> int:
    """How many sample files there are, without reading them (cheap enough for a GUI thread;
    damaged ones are counted too, and skipped when the samples are read)."""
    root = root or samples_dir()
    return sum(1 for _ in root.glob("[0-9]/*.json")) if root.is_dir() else 0


def _check_label(label: Any, source: str) -> int:
    if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label <= 9:
        raise SampleError(f"{source}: label must be a digit 0-9 (got {label!r:.40})")
    return int(label)


# --------------------------------------------------------------------------- read / write


_last_created = datetime.min.replace(tzinfo=timezone.utc)
_created_lock = threading.Lock()


def _creation_time() -> str:
    """Now (UTC, to the microsecond), strictly later than the previous sample of this process.

    ``list_samples`` returns the oldest first by this stamp; whole seconds (or a coarse
    clock) would give samples saved in one burst, e.g. by an import, the same stamp and a
    random order.
    """
    global _last_created
    with _created_lock:
        now = datetime.now(timezone.utc)
        _last_created = max(now, _last_created + timedelta(microseconds=1))
        return _last_created.isoformat(timespec="microseconds")


def _encode(sample_label: int, drawing: Drawing | None, image28: np.ndarray | None) -> str:
    data: dict[str, Any] = {"label": sample_label, "created": _creation_time()}
    if drawing is not None:
        data["drawing"] = drawing.to_dict()
    else:
        data["image28"] = np.round(np.asarray(image28, np.float64), 4).tolist()
    return json.dumps(data, separators=(",", ":")) + "\n"


def add_sample(
    label: int,
    drawing: Drawing | None = None,
    image28: np.ndarray | None = None,
    root: Path | None = None,
) -> Sample:
    """Save a labelled drawing (or, for a picture without strokes, its 28x28 input).

    Raises ``SampleError`` for a bad label, an empty drawing or a wrongly shaped picture;
    nothing is written then.
    """
    label = _check_label(label, "new sample")
    if drawing is not None:
        if drawing.is_empty:
            raise SampleError("new sample: the drawing is empty")
        Drawing.from_dict(drawing.to_dict(), "new sample")  # validate before writing
    elif image28 is None or np.asarray(image28).shape != (28, 28):
        raise SampleError("new sample: needs strokes or a (28, 28) input")
    sample_id = uuid.uuid4().hex
    path = (root or samples_dir()) / str(label) / f"{sample_id}.json"
    atomic_write_text(path, _encode(label, drawing, image28))
    return read_sample(path)


def read_sample(path: Path) -> Sample:
    """Read one sample file; any problem raises ``SampleError`` naming the file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise SampleError(f"{path}: not a readable sample file ({exc})") from exc
    if not isinstance(data, dict):
        raise SampleError(f"{path}: not a sample file (expected a JSON object)")
    label = _check_label(data.get("label"), str(path))
    drawing = image28 = None
    if "drawing" in data:
        try:
            drawing = Drawing.from_dict(data["drawing"], str(path))
        except StrokesError as exc:
            raise SampleError(str(exc)) from exc
    elif "image28" in data:
        try:
            image28 = np.asarray(data["image28"], dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise SampleError(f"{path}: image28 is not a 28x28 array of numbers") from exc
        if image28.shape != (28, 28) or not np.isfinite(image28).all():
            raise SampleError(f"{path}: image28 is not a 28x28 array of finite numbers")
        image28 = image28.clip(0.0, 1.0)
    else:
        raise SampleError(f"{path}: has neither a drawing nor an image28")
    return Sample(path.stem, label, path, drawing, image28, str(data.get("created", "")))


def list_samples(root: Path | None = None) -> SampleList:
    """Every readable sample, oldest first; damaged files are skipped with a warning."""
    root = root or samples_dir()
    result = SampleList()
    if not root.is_dir():
        return result
    for path in sorted(root.glob("[0-9]/*.json")):
        try:
            sample = read_sample(path)
        except SampleError as exc:
            result.warnings.append(f"Skipped a damaged sample: {exc}")
            continue
        if str(sample.label) != path.parent.name:  # the file's content decides
            result.warnings.append(
                f"{path}: stored under {path.parent.name} but labelled {sample.label}"
            )
        result.samples.append(sample)
    result.samples.sort(key=lambda s: (s.created, s.id))
    return result


def delete_sample(sample: Sample) -> None:
    """Remove a sample's file (gone already: nothing to do)."""
    sample.path.unlink(missing_ok=True)


def relabel_sample(sample: Sample, label: int) -> Sample:
    """Give a sample another label: written under the new digit, then the old file removed.

    The new file is written (atomically) before the old one is deleted, so a crash in
    between leaves a duplicate, never a lost drawing.
    """
    label = _check_label(label, str(sample.path))
    if label == sample.label:
        return sample
    data = json.loads(sample.path.read_text(encoding="utf-8"))
    data["label"] = label
    new_path = sample.path.parent.parent / str(label) / sample.path.name
    atomic_write_text(new_path, json.dumps(data, separators=(",", ":")) + "\n")
    sample.path.unlink(missing_ok=True)
    return read_sample(new_path)


# --------------------------------------------------------------------------- zip


def export_zip(path: Path, samples: list[Sample] | None = None) -> int:
    """Write the samples as a zip of core-format strokes files plus ``manifest.json``.

    Pictures without strokes are exported as their sample JSON (``image28``). Written
    atomically. Returns the number of samples exported.
    """
    import io

    samples = list_samples().samples if samples is None else samples
    buffer = io.BytesIO()
    entries = []
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for sample in samples:
            name = f"{sample.label}/{sample.id}.json"
            if sample.drawing is not None:
                content = sample.drawing.to_dict()
            else:
                content = {"image28": np.round(sample.image28, 4).tolist()}  # type: ignore[union-attr]
            archive.writestr(name, json.dumps(content, separators=(",", ":")) + "\n")
            entries.append({"file": name, "label": sample.label, "created": sample.created})
        manifest = {"format": MANIFEST_FORMAT, "version": 1, "samples": entries}
        archive.writestr(MANIFEST_NAME, json.dumps(manifest, indent=1) + "\n")
    atomic_write_bytes(Path(path), buffer.getvalue())
    return len(entries)


def import_zip(path: Path, root: Path | None = None) -> ImportResult:
    """Add the samples of an exported zip to the set (new ids; the set is never replaced).

    A zip that is unreadable or has no valid manifest raises ``SampleError`` and adds
    nothing; a bad entry inside a good zip is skipped with a warning.
    """
    path = Path(path)
    try:
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise SampleError(f"{path}: not a readable zip file ({exc})") from exc
    with archive:
        try:
            manifest = json.loads(archive.read(MANIFEST_NAME).decode("utf-8"))
        except KeyError as exc:
            raise SampleError(f"{path}: no {MANIFEST_NAME} inside (not a samples export)") from exc
        except (UnicodeDecodeError, ValueError, zipfile.BadZipFile) as exc:
            raise SampleError(f"{path}: {MANIFEST_NAME} is damaged ({exc})") from exc
        entries = manifest.get("samples") if isinstance(manifest, dict) else None
        if not isinstance(entries, list) or len(entries) > MAX_IMPORT_FILES:
            raise SampleError(f"{path}: {MANIFEST_NAME} has no valid list of samples")
        result = ImportResult()
        for entry in entries:
            try:
                _import_entry(archive, entry, f"{path}", root)
                result.imported += 1
            except SampleError as exc:
                result.warnings.append(f"Skipped: {exc}")
    return result


def _import_entry(archive: zipfile.ZipFile, entry: Any, source: str, root: Path | None) -> None:
    if not isinstance(entry, dict) or not isinstance(entry.get("file"), str):
        raise SampleError(f"{source}: a manifest entry is not {{'file': ..., 'label': ...}}")
    name = entry["file"]
    where = f"{source}:{name}"
    label = _check_label(entry.get("label"), where)
    try:
        info = archive.getinfo(name)
        if info.file_size > MAX_IMPORT_FILE_BYTES:
            raise SampleError(f"{where}: file is too large")
        data = json.loads(archive.read(info).decode("utf-8"))
    except KeyError as exc:
        raise SampleError(f"{where}: listed in the manifest but missing") from exc
    except (UnicodeDecodeError, ValueError, zipfile.BadZipFile) as exc:
        raise SampleError(f"{where}: not valid JSON ({exc})") from exc
    if isinstance(data, dict) and "image28" in data and "strokes" not in data:
        image = np.asarray(data["image28"], dtype=np.float32)
        if image.shape != (28, 28) or not np.isfinite(image).all():
            raise SampleError(f"{where}: image28 is not a 28x28 array of finite numbers")
        add_sample(label, image28=image.clip(0.0, 1.0), root=root)
        return
    try:
        drawing = Drawing.from_dict(data, where)
    except StrokesError as exc:
        raise SampleError(str(exc)) from exc
    add_sample(label, drawing=drawing, root=root)


def load_arrays(samples: list[Sample]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Samples -> (N, 28, 28) float32 inputs and (N,) int64 labels, rendered once.

    A sample that renders to nothing (no ink) is left out with a warning.
    """
    images, labels, warnings = [], [], []
    for sample in samples:
        image = sample.input28()
        if image is None:
            warnings.append(f"{sample.path}: no ink, left out")
            continue
        images.append(image.astype(np.float32))
        labels.append(sample.label)
    if not images:
        return np.zeros((0, 28, 28), np.float32), np.zeros(0, np.int64), warnings
    return np.stack(images), np.asarray(labels, np.int64), warnings

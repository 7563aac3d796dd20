"""The personal sample set: drawings the user labelled, kept to fine-tune the model on.

Each sample is one JSON file ``<user data>/samples/<label>/<id>.json`` holding
``{"label": 3, "drawing": {...strokes, core format...}, "created": "<ISO UTC>"}``; the
strokes are the truth and the 28x28 input is re-rendered from them with ``preprocess`` when
needed, so a better renderer later improves old samples too. Pictures opened from image files
have no strokes: they are kept as ``"image28"`` (28 rows of 28 floats) instead.

Each file also records ``sha256``, the hash of its content (label and strokes, or label and
picture; not the date), and is named after it: the same drawing saved twice with the same
digit, or a zip imported twice, finds its file already there and is skipped as a duplicate
(``Sample.duplicate``, ``ImportResult.duplicates``). Files named by an older version (random
ids) are still read; they are not matched as duplicates.

Why one small file per sample: adding, deleting and relabelling touch one file each, writes
are atomic (``store.atomic_write_text``), and a damaged file costs one sample, never the set:
``list_samples`` skips it and reports a warning instead of raising, so the app never crashes
on a bad file in the user's folder.

Export/import is a zip of strokes files in the core format (``<id>.json``, readable by
``drawdigit predict``) plus ``manifest.json`` mapping each file to its label. Personal data
never leaves the user data dir except through an explicit export.
"""

from __future__ import annotations

import hashlib
import json
import threading
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np

from drawdigit.archive import ArchiveError, read_entry
from drawdigit.store import (
    atomic_write_bytes,
    atomic_write_text,
    open_regular_file,
    user_data_dir,
)
from drawdigit.strokes import (
    MAX_FILE_BYTES,
    Drawing,
    StrokesError,
    parse_json,
    read_small_file,
)

MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT = "drawdigit-samples"
MANIFEST_VERSION = 1
MAX_IMPORT_FILES = 100_000
MAX_IMPORT_FILE_BYTES = 20_000_000
MAX_SAMPLE_FILE_BYTES = MAX_FILE_BYTES + 1_000  # a sample file: a drawing and a label


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
    sha256: str = ""  # of the content (see content_hash), computed when read
    duplicate: bool = False  # add_sample found this very sample already saved: nothing written

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
    """What an import did: samples added, exact duplicates skipped, bad entries skipped (one
    warning each), and those not written because writing failed (a full disk...)."""

    imported: int = 0
    duplicates: int = 0
    bad: int = 0
    not_written: int = 0
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One sentence for the user, e.g. "Imported 12 samples; skipped 3 already there"."""
        parts = [f"Imported {self.imported} sample{'s' if self.imported != 1 else ''}"]
        if self.duplicates:
            parts.append(f"skipped {self.duplicates} already in your samples")
        if self.bad:
            parts.append(f"skipped {self.bad} damaged")
        if self.not_written:
            parts.append(f"{self.not_written} not imported (could not write them)")
        return "; ".join(parts) + "."


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


def _content(label: int, drawing: Drawing | None, image28: np.ndarray | None) -> dict[str, Any]:
    """What a sample is, as stored: its label and its strokes (or its picture, to 4 places)."""
    if drawing is not None:
        return {"label": label, "drawing": drawing.to_dict()}
    return {"label": label, "image28": np.round(np.asarray(image28, np.float64), 4).tolist()}


def content_hash(content: dict[str, Any]) -> str:
    """SHA-256 of a sample's content (``_content``) in canonical JSON: equal for the same
    label and the same drawing, whenever and however often it was saved or exported."""
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _file_for(root: Path, content: dict[str, Any]) -> tuple[Path, str]:
    digest = content_hash(content)
    return root / str(content["label"]) / f"{digest[:32]}.json", digest


def _image28(value: Any, where: str) -> np.ndarray:
    """A sample's stored 28x28 input, checked: numbers, finite, clipped to [0, 1]."""
    try:
        image = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError, OverflowError) as exc:
        raise SampleError(f"{where}: image28 is not a 28x28 array of numbers") from exc
    if image.shape != (28, 28) or not np.isfinite(image).all():
        raise SampleError(f"{where}: image28 is not a 28x28 array of finite numbers")
    return image.clip(0.0, 1.0)


def add_sample(
    label: int,
    drawing: Drawing | None = None,
    image28: np.ndarray | None = None,
    root: Path | None = None,
) -> Sample:
    """Save a labelled drawing (or, for a picture without strokes, its 28x28 input).

    Raises ``SampleError`` for a bad label, an empty drawing or a wrongly shaped picture;
    nothing is written then. The same label with the same drawing a second time writes
    nothing either: the sample already saved is returned with ``duplicate=True``.
    """
    label = _check_label(label, "new sample")
    if drawing is not None:
        if drawing.is_empty:
            raise SampleError("new sample: the drawing is empty")
        Drawing.from_dict(drawing.to_dict(), "new sample")  # validate before writing
    elif image28 is None or np.asarray(image28).shape != (28, 28):
        raise SampleError("new sample: needs strokes or a (28, 28) input")
    else:
        image28 = np.clip(np.asarray(image28, np.float64), 0.0, 1.0)  # as it will be read
    content = _content(label, drawing, image28)
    path, digest = _file_for(root or samples_dir(), content)
    if path.exists():
        try:
            existing = read_sample(path)
        except SampleError:
            existing = None  # damaged: write it again
        if existing is not None and existing.sha256 == digest:
            existing.duplicate = True
            return existing
    data = {**content, "created": _creation_time(), "sha256": digest}
    atomic_write_text(path, json.dumps(data, separators=(",", ":")) + "\n")
    return read_sample(path)


def read_sample(path: Path) -> Sample:
    """Read one sample file; any problem raises ``SampleError`` naming the file."""
    path = Path(path)
    try:
        # Regular files only, size capped; nesting and huge numbers raise StrokesError too.
        data = parse_json(read_small_file(path, MAX_SAMPLE_FILE_BYTES), str(path))
    except StrokesError as exc:
        raise SampleError(f"not a readable sample file: {exc}") from exc
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
        image28 = _image28(data["image28"], str(path))
    else:
        raise SampleError(f"{path}: has neither a drawing nor an image28")
    digest = content_hash(_content(label, drawing, image28))
    created = str(data.get("created", ""))
    return Sample(path.stem, label, path, drawing, image28, created, sha256=digest)


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


@dataclass
class Removed:
    """Sample files taken out of the set, their bytes kept in memory so that the removal can
    be undone (``restore_samples``); ``failed`` says which could not be removed, and why."""

    files: list[tuple[Path, bytes]] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def remove_samples(samples: list[Sample]) -> Removed:
    """Delete samples, keeping what they were: a file that cannot be read or deleted stays
    and is named in ``failed`` (never an exception half way through)."""
    removed = Removed()
    for sample in samples:
        if not sample.path.exists():
            continue  # gone already: nothing to undo
        try:
            data = read_small_file(sample.path, MAX_SAMPLE_FILE_BYTES)
            sample.path.unlink()
        except (OSError, StrokesError) as exc:
            removed.failed.append(f"{sample.path.name}: {getattr(exc, 'strerror', None) or exc}")
            continue
        removed.files.append((sample.path, data))
    return removed


def restore_samples(removed: Removed) -> int:
    """Put removed sample files back, each written atomically; returns how many. A file that
    is there again (the same drawing saved since) is left as it is. A failed write raises
    ``OSError`` and leaves the files not yet restored in ``removed``, to try again."""
    count = 0
    while removed.files:
        path, data = removed.files[0]
        if not path.exists():
            atomic_write_bytes(path, data)
            count += 1
        removed.files.pop(0)
    return count


def relabel_sample(sample: Sample, label: int) -> Sample:
    """Give a sample another label: written under the new digit, then the old file removed.

    The new file is written (atomically) before the old one is deleted, so a crash in
    between leaves a duplicate, never a lost drawing. When the drawing is already saved with
    the new label, that file is kept and only the old one goes.
    """
    label = _check_label(label, str(sample.path))
    if label == sample.label:
        return sample
    content = _content(label, sample.drawing, sample.image28)
    new_path, digest = _file_for(sample.path.parent.parent, content)
    if not new_path.exists():
        data = {**content, "created": sample.created or _creation_time(), "sha256": digest}
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
        manifest = {"format": MANIFEST_FORMAT, "version": MANIFEST_VERSION, "samples": entries}
        archive.writestr(MANIFEST_NAME, json.dumps(manifest, indent=1) + "\n")
    atomic_write_bytes(Path(path), buffer.getvalue())
    return len(entries)


def import_zip(path: Path, root: Path | None = None) -> ImportResult:
    """Add the samples of an exported zip to the set (the set is never replaced).

    A zip that is unreadable or has no valid manifest (or one of another format, or of a
    newer version than this one reads) raises ``SampleError`` and adds nothing. Inside a
    good zip, a bad entry (damaged, deeply nested, huge numbers, lying about its size,
    encrypted) is skipped with a warning and exact duplicates of samples already there are
    skipped and counted. A file named twice in the manifest is read once; named with two
    labels, or held twice in the zip under one name, it is skipped (which is meant cannot
    be known). When a write fails (a full disk, a folder that cannot be written) the import
    stops there: what was written stays (each file whole, written atomically), the rest is
    counted as not imported and the warning says why.
    """
    path = Path(path)
    file, _size = open_regular_file(path, SampleError)  # never a FIFO or a device
    with file:
        try:
            archive = zipfile.ZipFile(file)
        except (OSError, zipfile.BadZipFile) as exc:
            raise SampleError(f"{path}: not a readable zip file ({exc})") from exc
        with archive:
            return _import_entries(archive, _manifest_entries(archive, path), str(path), root)


def _import_entries(
    archive: zipfile.ZipFile, entries: list[Any], source: str, root: Path | None
) -> ImportResult:
    """The manifest's entries imported in order, each file read at most once."""
    result = ImportResult()
    held = Counter(archive.namelist())
    labels_of: dict[str, set[int | str]] = {}
    for entry in entries:
        if isinstance(entry, dict) and isinstance(entry.get("file"), str):
            label = entry.get("label")
            key = label if type(label) is int else f"a {type(label).__name__}"  # hashable
            labels_of.setdefault(entry["file"], set()).add(key)
    done: set[str] = set()  # files imported (or found there already) once
    refused: set[str] = set()  # files skipped once: a manifest may name one 100,000 times
    for number, entry in enumerate(entries):
        name = entry.get("file") if isinstance(entry, dict) else None
        if name in refused:
            result.bad += 1  # counted, not read nor told again
            continue
        if name in done:
            result.duplicates += 1  # the same file with the same label, again
            continue
        try:
            problem = _ambiguity(name, held, labels_of)
            if problem is not None:
                raise SampleError(f"{source}:{name}: {problem}")
            sample = _import_entry(archive, entry, source, root)
        except SampleError as exc:
            result.bad += 1
            result.warnings.append(f"Skipped: {exc}")
            if isinstance(name, str):
                refused.add(name)
            continue
        except OSError as exc:
            result.not_written = len(entries) - number
            where = exc.filename or root or samples_dir()
            result.warnings.append(
                f"Stopped: could not write to {where} ({exc.strerror or exc}); "
                f"{result.not_written} sample(s) not imported"
            )
            break
        done.add(name)
        if sample.duplicate:
            result.duplicates += 1
        else:
            result.imported += 1
    return result


def _ambiguity(name: Any, held: Counter[str], labels_of: dict[str, set[int | str]]) -> str | None:
    """Why the file ``name`` cannot be imported whatever it holds (None: it may be)."""
    if not isinstance(name, str):
        return None  # _import_entry says what is wrong with the entry
    if held[name] > 1:
        return f"the zip holds {held[name]} files of this name (which one is meant is unclear)"
    labels = labels_of.get(name, set())
    if len(labels) > 1:
        shown = " and ".join(sorted(str(label) for label in labels))
        return f"listed with the labels {shown} (which is right is unclear)"
    return None


def _manifest_entries(archive: zipfile.ZipFile, path: Path) -> list[Any]:
    """The manifest's list of entries, or ``SampleError`` saying why there is none."""
    try:
        info = archive.getinfo(MANIFEST_NAME)
    except KeyError as exc:
        raise SampleError(f"{path}: no {MANIFEST_NAME} inside (not a samples export)") from exc
    try:
        manifest = parse_json(read_entry(archive, info, MAX_IMPORT_FILE_BYTES), f"{path}")
    except (StrokesError, ArchiveError) as exc:
        raise SampleError(f"{path}: {MANIFEST_NAME} is damaged ({exc})") from exc
    if isinstance(manifest, dict):
        kind, version = manifest.get("format", MANIFEST_FORMAT), manifest.get("version", 1)
        if kind != MANIFEST_FORMAT:
            raise SampleError(
                f"{path}: not a drawdigit samples export ({MANIFEST_NAME} says its format is "
                f"{kind!r:.60})"
            )
        if version != MANIFEST_VERSION:
            newer = type(version) is int and version > MANIFEST_VERSION
            why = "made by a newer drawdigit" if newer else "of an unknown version"
            raise SampleError(
                f"{path}: a samples export {why} ({MANIFEST_NAME} version {version!r:.20}; "
                f"this drawdigit reads version {MANIFEST_VERSION})"
            )
    entries = manifest.get("samples") if isinstance(manifest, dict) else None
    if not isinstance(entries, list) or len(entries) > MAX_IMPORT_FILES:
        raise SampleError(f"{path}: {MANIFEST_NAME} has no valid list of samples")
    return entries


def _import_entry(archive: zipfile.ZipFile, entry: Any, source: str, root: Path | None) -> Sample:
    if not isinstance(entry, dict) or not isinstance(entry.get("file"), str):
        raise SampleError(f"{source}: a manifest entry is not {{'file': ..., 'label': ...}}")
    name = entry["file"]
    where = f"{source}:{name}"
    label = _check_label(entry.get("label"), where)
    try:
        info = archive.getinfo(name)
    except KeyError as exc:
        raise SampleError(f"{where}: listed in the manifest but missing") from exc
    try:
        data = parse_json(read_entry(archive, info, MAX_IMPORT_FILE_BYTES), where)
    except ArchiveError as exc:
        raise SampleError(f"{source}: {exc}") from exc
    except StrokesError as exc:
        raise SampleError(f"{where}: not valid JSON ({exc})") from exc
    if isinstance(data, dict) and "image28" in data and "strokes" not in data:
        return add_sample(label, image28=_image28(data["image28"], where), root=root)
    try:
        drawing = Drawing.from_dict(data, where)
    except StrokesError as exc:
        raise SampleError(str(exc)) from exc
    return add_sample(label, drawing=drawing, root=root)


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

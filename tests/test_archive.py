"""Zip entries that lie about their size, are encrypted or use an unknown method: samples
exports and model files (a torch.save zip) refuse them by name, in memory bounded by the
file's size, never with a traceback."""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import pytest
from test_torch_file import _peak_bytes_while

from drawdigit.archive import ArchiveError, read_entry
from drawdigit.model_list import list_models
from drawdigit.samples import MANIFEST_NAME, SampleError, import_zip, list_samples
from drawdigit.store import ModelFileError, bundled_model_path, load_checkpoint
from drawdigit.strokes import load_drawing

REPO = Path(__file__).resolve().parents[1]


def _sample_strokes(digit: int = 3) -> bytes:
    from drawdigit.store import resource_path

    drawing = load_drawing(resource_path("samples", f"digit-{digit}.json"))
    return json.dumps(drawing.to_dict()).encode()


def _patched(data: bytes, name: str, **fields: int) -> bytes:
    """``data`` (a zip) with the headers of entry ``name`` changed, in its local header and
    in the central directory alike: ``flags``, ``method``, ``crc``, ``size`` (the declared,
    uncompressed size)."""
    local = {"flags": 6, "method": 8, "crc": 14, "size": 22}
    central = {"flags": 8, "method": 10, "crc": 16, "size": 24}
    formats = {"flags": "<H", "method": "<H", "crc": "<I", "size": "<I"}
    out = bytearray(data)
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo(name)
    central_at = 0
    while True:  # the entry's record in the central directory
        central_at = out.find(b"PK\x01\x02", central_at)
        name_length = struct.unpack_from("<H", out, central_at + 28)[0]
        if out[central_at + 46 : central_at + 46 + name_length] == name.encode():
            break
        central_at += 4
    for field, value in fields.items():
        struct.pack_into(formats[field], out, info.header_offset + local[field], value)
        struct.pack_into(formats[field], out, central_at + central[field], value)
    return bytes(out)


def _deflated_zeros(count: int) -> bytes:
    """A raw deflate stream of ``count`` zero bytes (about a thousandth of that)."""
    squeeze = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = bytes(1 << 20)
    parts = []
    while count > 0:
        parts.append(squeeze.compress(chunk[: min(count, len(chunk))]))
        count -= len(chunk)
    return b"".join(parts) + squeeze.flush()


def _zip(entries: dict[str, bytes], lying: str | None = None, inflated: int = 0) -> bytes:
    """A zip of ``entries``; the entry ``lying`` holds ``inflated`` zero bytes, deflated,
    but declares the size (and checksum) of the bytes given for it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            if name == lying:  # written as is, then relabelled "deflated"
                archive.writestr(zipfile.ZipInfo(name), _deflated_zeros(inflated))
            else:
                archive.writestr(name, content)
    data = buffer.getvalue()
    if lying is not None:
        declared = entries[lying]
        data = _patched(
            data, lying, method=8, size=len(declared), crc=zlib.crc32(declared) & 0xFFFFFFFF
        )
    return data


def _samples_zip() -> dict[str, bytes]:
    """The entries of a samples export of two drawings of 3: 3/a.json and 3/b.json."""
    manifest = {
        "format": "drawdigit-samples",
        "version": 1,
        "samples": [{"file": "3/a.json", "label": 3}, {"file": "3/b.json", "label": 3}],
    }
    return {
        "3/a.json": _sample_strokes(3),
        "3/b.json": _sample_strokes(8),
        MANIFEST_NAME: json.dumps(manifest).encode(),
    }


# --------------------------------------------------------------------------- the reader


def _read(data: bytes, name: str, max_bytes: int | None) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return read_entry(archive, archive.getinfo(name), max_bytes)


def test_an_entry_is_read_no_further_than_it_declares() -> None:
    """100 bytes declared, 64 MB inside: refused after the 100 bytes, in memory that is a
    small multiple of the file's size (zipfile alone inflated all 64 MB first)."""
    declared = b"x" * 100
    data = _zip({"liar": declared}, lying="liar", inflated=64 << 20)
    assert len(data) < 200_000

    def read() -> None:
        with pytest.raises(ArchiveError, match="liar is damaged"):
            _read(data, "liar", 1_000_000)

    assert _peak_bytes_while(read) < 10 * len(data) + 1_000_000


def test_entries_are_read_as_they_are_and_refused_by_name() -> None:
    data = _zip({"ok.json": b"{}" * 1000, "big": b"y" * 5000})
    assert _read(data, "ok.json", 10_000) == b"{}" * 1000
    with pytest.raises(ArchiveError, match=r"big is too large \(5,000 bytes; at most 100\)"):
        _read(data, "big", 100)
    with pytest.raises(ArchiveError, match="ok.json is encrypted"):
        _read(_patched(data, "ok.json", flags=1), "ok.json", None)
    with pytest.raises(ArchiveError, match="ok.json is compressed with method 99"):
        _read(_patched(data, "ok.json", method=99), "ok.json", None)
    bzip2 = io.BytesIO()
    with zipfile.ZipFile(bzip2, "w", zipfile.ZIP_BZIP2) as archive:
        archive.writestr("b.json", b"{}")
    with pytest.raises(ArchiveError, match="compressed with bzip2, which is not read"):
        _read(bzip2.getvalue(), "b.json", None)


# --------------------------------------------------------------------------- samples exports


def test_a_samples_export_with_a_lying_entry_skips_it_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "liar.zip"
    path.write_bytes(_zip(_samples_zip(), lying="3/a.json", inflated=64 << 20))
    size = path.stat().st_size
    results = []
    peak = _peak_bytes_while(lambda: results.append(import_zip(path)))
    assert peak < 10 * size + 2_000_000
    (result,) = results
    assert (result.imported, result.bad) == (1, 1)
    assert "3/a.json is damaged" in result.warnings[0]
    assert [s.label for s in list_samples().samples] == [3]


@pytest.mark.parametrize(
    ("fields", "reason"),
    [({"flags": 1}, "is encrypted"), ({"method": 99}, "is compressed with method 99")],
)
def test_a_samples_export_with_an_unreadable_entry_skips_it(
    tmp_path: Path, fields: dict[str, int], reason: str
) -> None:
    path = tmp_path / "odd.zip"
    path.write_bytes(_patched(_zip(_samples_zip()), "3/a.json", **fields))
    result = import_zip(path)
    assert (result.imported, result.bad) == (1, 1)
    assert f"3/a.json {reason}" in result.warnings[0]


def test_a_samples_export_with_an_encrypted_manifest_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "locked.zip"
    path.write_bytes(_patched(_zip(_samples_zip()), MANIFEST_NAME, flags=1))
    with pytest.raises(SampleError, match="manifest.json is damaged .*encrypted"):
        import_zip(path)


# --------------------------------------------------------------------------- model files


def _model_zip(**change: object) -> bytes:
    """The bundled model file with its first storage entry lying (``inflated``) or its
    headers changed (``fields``)."""
    data = bundled_model_path().read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        entries = {info.filename: archive.read(info) for info in archive.infolist()}
    storage = next(name for name in entries if "/data/" in name)
    if "inflated" in change:
        return _zip(entries, lying=storage, inflated=int(change["inflated"]))  # type: ignore[call-overload]
    return _patched(_zip(entries), storage, **change["fields"])  # type: ignore[arg-type]


def test_a_model_file_with_a_lying_storage_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "liar.pt"
    path.write_bytes(_model_zip(inflated=64 << 20))
    size = path.stat().st_size

    refusals: list[str] = []

    def load() -> None:
        with pytest.raises(ModelFileError) as refused:
            load_checkpoint(path)
        refusals.append(str(refused.value))

    assert _peak_bytes_while(load) < 10 * size + 2_000_000
    assert "not a readable model file" in refusals[0] and "is damaged" in refusals[0]


@pytest.mark.parametrize(
    ("fields", "reason"),
    [({"flags": 1}, "is encrypted"), ({"method": 99}, "is compressed with method 99")],
)
def test_a_model_file_with_an_unreadable_entry_is_refused_clearly(
    tmp_path: Path, user_data: Path, fields: dict[str, int], reason: str
) -> None:
    """As a file for ``--model`` (the command says why, no traceback) and in the Models list."""
    path = tmp_path / "odd.pt"
    path.write_bytes(_model_zip(fields=fields))
    with pytest.raises(ModelFileError, match=reason):
        load_checkpoint(path)
    kept = user_data / "models" / "odd.pt"
    kept.parent.mkdir(parents=True)
    kept.write_bytes(path.read_bytes())
    entry = next(e for e in list_models() if e.path == kept)
    assert not entry.usable and reason in entry.error
    drawing = REPO / "resources" / "samples" / "digit-3.json"
    done = subprocess.run(
        [sys.executable, "-m", "drawdigit", "predict", "--model", str(path), str(drawing)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith("drawdigit: error: ") and reason in done.stderr

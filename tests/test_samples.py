"""The personal sample set: save, list, delete, relabel, export/import, damaged files."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from drawdigit.samples import (
    MANIFEST_NAME,
    SampleError,
    add_sample,
    delete_sample,
    export_zip,
    import_zip,
    list_samples,
    load_arrays,
    relabel_sample,
    samples_dir,
)
from drawdigit.store import resource_path
from drawdigit.strokes import Drawing, load_drawing


def digit(d: int) -> Drawing:
    return load_drawing(resource_path("samples", f"digit-{d}.json"))


def test_samples_live_in_the_user_data_dir(user_data: Path) -> None:
    sample = add_sample(3, drawing=digit(3))
    assert samples_dir() == user_data / "samples"
    assert sample.path.parent == user_data / "samples" / "3"
    data = json.loads(sample.path.read_text())
    assert data["label"] == 3
    assert Drawing.from_dict(data["drawing"]) == digit(3)
    assert data["created"]


def test_list_delete_and_relabel() -> None:
    a = add_sample(1, drawing=digit(1))
    b = add_sample(7, drawing=digit(7))
    found = list_samples()
    assert [s.id for s in found.samples] == [a.id, b.id]  # oldest first
    assert found.counts()[1] == 1 and found.counts()[7] == 1 and found.warnings == []

    moved = relabel_sample(a, 4)
    assert moved.label == 4 and moved.path.parent.name == "4" and not a.path.exists()
    assert moved.drawing == a.drawing
    assert sorted(s.label for s in list_samples().samples) == [4, 7]

    delete_sample(b)
    assert [s.label for s in list_samples().samples] == [4]
    with pytest.raises(SampleError, match="digit 0-9"):
        relabel_sample(moved, 12)


def test_samples_saved_in_a_burst_list_oldest_first() -> None:
    """Many samples within one second (an import, a quick user) keep the order they came in."""
    saved = [add_sample(d % 10, drawing=digit(d % 10)).id for d in range(20)]
    assert [s.id for s in list_samples().samples] == saved
    stamps = [s.created for s in list_samples().samples]
    assert len(set(stamps)) == len(stamps)  # every stamp its own, so no tie to break


def test_bad_new_samples_are_refused_and_nothing_is_written() -> None:
    with pytest.raises(SampleError, match="label"):
        add_sample(10, drawing=digit(0))
    with pytest.raises(SampleError, match="empty"):
        add_sample(2, drawing=Drawing(280, 280, []))
    assert not samples_dir().exists() or not list(samples_dir().rglob("*.json"))


def test_a_damaged_sample_file_is_skipped_with_a_warning() -> None:
    good = add_sample(5, drawing=digit(5))
    (samples_dir() / "5" / "broken.json").write_text('{"label": 5, "drawing": {"wid')
    (samples_dir() / "2").mkdir()
    (samples_dir() / "2" / "nolabel.json").write_text('{"label": "two", "drawing": {}}')
    found = list_samples()
    assert [s.id for s in found.samples] == [good.id]
    assert len(found.warnings) == 2
    assert any("broken.json" in w for w in found.warnings)
    assert any("nolabel.json" in w and "label" in w for w in found.warnings)


def test_a_picture_is_kept_as_its_28x28_input() -> None:
    image = np.zeros((28, 28), np.float32)
    image[6:22, 13:15] = 1.0
    sample = add_sample(1, image28=image)
    again = list_samples().samples[0]
    assert again.drawing is None
    np.testing.assert_allclose(again.input28(), image, atol=1e-4)
    images, labels, warnings = load_arrays([sample])
    assert images.shape == (1, 28, 28) and labels.tolist() == [1] and warnings == []


def test_export_then_import_round_trips(tmp_path: Path, user_data: Path, monkeypatch) -> None:
    for d in (0, 3, 3, 8):
        add_sample(d, drawing=digit(d))
    archive = tmp_path / "mine.zip"
    assert export_zip(archive) == 4
    with zipfile.ZipFile(archive) as z:
        manifest = json.loads(z.read(MANIFEST_NAME))
        assert sorted(e["label"] for e in manifest["samples"]) == [0, 3, 3, 8]
        first = manifest["samples"][0]
        # each file is a plain strokes file in the core format
        assert set(json.loads(z.read(first["file"]))) == {"width", "height", "strokes"}

    monkeypatch.setenv("DRAWDIGIT_DATA_DIR", str(tmp_path / "other-user"))
    assert list_samples().samples == []
    result = import_zip(archive)
    assert result.imported == 4 and result.warnings == []
    imported = list_samples().samples
    assert [s.label for s in imported] == [0, 3, 3, 8]  # in the order they were exported
    assert imported[0].drawing == digit(0)
    assert imported[3].drawing == digit(8)


def test_importing_a_bad_zip(tmp_path: Path) -> None:
    not_zip = tmp_path / "x.zip"
    not_zip.write_bytes(b"hello")
    with pytest.raises(SampleError, match="x.zip"):
        import_zip(not_zip)
    no_manifest = tmp_path / "y.zip"
    with zipfile.ZipFile(no_manifest, "w") as z:
        z.writestr("a.json", "{}")
    with pytest.raises(SampleError, match="manifest"):
        import_zip(no_manifest)
    partly_bad = tmp_path / "z.zip"
    with zipfile.ZipFile(partly_bad, "w") as z:
        z.writestr("a.json", json.dumps(digit(2).to_dict()))
        z.writestr("b.json", "{not json")
        entries = [{"file": "a.json", "label": 2}, {"file": "b.json", "label": 4},
                   {"file": "c.json", "label": 1}]  # fmt: skip
        z.writestr(MANIFEST_NAME, json.dumps({"samples": entries}))
    result = import_zip(partly_bad)
    assert result.imported == 1 and len(result.warnings) == 2
    assert [s.label for s in list_samples().samples] == [2]

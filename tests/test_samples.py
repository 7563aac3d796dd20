"""The personal sample set: save, list, delete, relabel, export/import, damaged files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
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
    remove_samples,
    restore_samples,
    samples_dir,
)
from drawdigit.store import resource_path
from drawdigit.strokes import Drawing, load_drawing


def digit(d: int) -> Drawing:
    return load_drawing(resource_path("samples", f"digit-{d}.json"))


def shifted(drawing: Drawing, dx: float) -> Drawing:
    """The same drawing moved right: another sample (not a duplicate) of the same digit."""
    strokes = [[(x + dx, y) for x, y in stroke] for stroke in drawing.strokes]
    return Drawing(drawing.width, drawing.height, strokes)


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
    saved = [add_sample(d % 10, drawing=shifted(digit(d % 10), d)).id for d in range(20)]
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
    for i, d in enumerate((0, 3, 3, 8)):
        add_sample(d, drawing=shifted(digit(d), 5.0 * (i == 2)))  # two different 3s
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


# --------------------------------------------------------------------------- duplicates


def test_the_same_sample_twice_is_stored_once() -> None:
    first = add_sample(3, drawing=digit(3))
    again = add_sample(3, drawing=digit(3))  # the user typed 3 twice for one drawing
    assert not first.duplicate and again.duplicate and again.path == first.path
    assert first.sha256 and again.sha256 == first.sha256
    other_label = add_sample(5, drawing=digit(3))  # a different answer is a different sample
    assert not other_label.duplicate
    picture = np.linspace(0, 1, 784).reshape(28, 28)
    assert not add_sample(1, image28=picture).duplicate
    assert add_sample(1, image28=picture).duplicate
    assert sorted(s.label for s in list_samples().samples) == [1, 3, 5]
    stored = json.loads(first.path.read_text())
    assert stored["sha256"] == first.sha256


def test_relabelling_onto_an_existing_sample_keeps_one(tmp_path: Path) -> None:
    a = add_sample(4, drawing=digit(4))
    b = add_sample(9, drawing=digit(4))
    moved = relabel_sample(b, 4)
    assert moved.path == a.path and [s.label for s in list_samples().samples] == [4]


def test_importing_the_same_zip_twice_skips_every_duplicate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for d in (0, 3, 8):
        add_sample(d, drawing=digit(d))
    add_sample(7, image28=np.eye(28))
    archive = tmp_path / "mine.zip"
    export_zip(archive)
    monkeypatch.setenv("DRAWDIGIT_DATA_DIR", str(tmp_path / "other-user"))
    first = import_zip(archive)
    assert (first.imported, first.duplicates) == (4, 0)
    second = import_zip(archive)
    assert (second.imported, second.duplicates, second.warnings) == (0, 4, [])
    assert "skipped 4 already in your samples" in second.summary()
    assert len(list_samples().samples) == 4


# --------------------------------------------------------------------------- hostile files

DEEP = "[" * 100_000 + "]" * 100_000
HUGE = "1" + "0" * 400  # an integer far beyond a float


def _sample_json(drawing_json: str, label: int = 2) -> str:
    return f'{{"label": {label}, "drawing": {drawing_json}, "created": "2026-01-01"}}'


def _plant_bad_samples(root: Path) -> None:
    (root / "2").mkdir(parents=True, exist_ok=True)
    (root / "2" / "deep.json").write_text(_sample_json(DEEP))
    huge = f'{{"width": 280, "height": 280, "strokes": [[[{HUGE}, 5]]]}}'
    (root / "2" / "huge.json").write_text(_sample_json(huge))
    picture = "[" + ",".join(["[" + ",".join([HUGE] * 28) + "]"] * 28) + "]"
    (root / "2" / "picture.json").write_text(f'{{"label": 2, "image28": {picture}}}')


def test_deeply_nested_or_huge_numbers_skip_one_sample_everywhere() -> None:
    from drawdigit.finetune import load_my_samples

    good = add_sample(2, drawing=digit(2))
    _plant_bad_samples(samples_dir())
    found = list_samples()  # what My Samples shows
    assert [s.id for s in found.samples] == [good.id]
    assert len(found.warnings) == 3
    assert any("nested too deeply" in w for w in found.warnings)
    assert any("absurdly large" in w for w in found.warnings)
    # fine-tune and `train --with-my-samples` read the set through the same call
    images, labels, warnings = load_my_samples()
    assert images.shape == (1, 28, 28) and labels.tolist() == [2] and len(warnings) == 3


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_or_a_link_to_dev_zero_among_the_samples_is_skipped(user_data: Path) -> None:
    add_sample(2, drawing=digit(2))
    folder = samples_dir() / "2"
    os.mkfifo(folder / "fifo.json")
    if Path("/dev/zero").exists():
        (folder / "zero.json").symlink_to("/dev/zero")
    # In a child: without the checks it would block on the FIFO (ended by the timeout) or
    # read /dev/zero until its capped memory runs out.
    script = (
        "import resource; resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))\n"
        "from drawdigit.samples import list_samples\n"
        "found = list_samples()\n"
        "print(len(found.samples), *found.warnings, sep='\\n')\n"
    )
    env = {**os.environ, "DRAWDIGIT_DATA_DIR": str(user_data)}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "1" and all("not a regular file" in line for line in lines[1:])
    assert len(lines) == 2 + Path("/dev/zero").exists()


def test_a_zip_with_bad_entries_imports_the_rest(tmp_path: Path) -> None:
    archive = tmp_path / "mixed.zip"
    huge = f'{{"width": 280, "height": 280, "strokes": [[[{HUGE}, 5]]]}}'
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("good.json", json.dumps(digit(2).to_dict()))
        z.writestr("deep.json", DEEP)
        z.writestr("huge.json", huge)
        z.writestr("also-good.json", json.dumps(digit(6).to_dict()))
        entries = [
            {"file": name, "label": label}
            for name, label in (("good.json", 2), ("deep.json", 3), ("huge.json", 4))
        ] + [{"file": "also-good.json", "label": 6}]
        z.writestr(MANIFEST_NAME, json.dumps({"samples": entries}))
    result = import_zip(archive)
    assert (result.imported, result.bad) == (2, 2)
    assert "nested too deeply" in result.warnings[0] and "absurdly large" in result.warnings[1]
    assert sorted(s.label for s in list_samples().samples) == [2, 6]


def test_a_zip_with_a_deeply_nested_manifest_is_refused_clearly(tmp_path: Path) -> None:
    archive = tmp_path / "nested.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr(MANIFEST_NAME, '{"samples": ' + DEEP + "}")
    with pytest.raises(SampleError, match="nested too deeply"):
        import_zip(archive)


def test_an_import_that_cannot_write_stops_cleanly(tmp_path: Path) -> None:
    """The target becomes unwritable part way (a file where the folder for 7s must go): the
    samples before it are imported whole, the rest reported, no partial file left."""
    archive = tmp_path / "five.zip"
    labels = [1, 2, 7, 3, 4]
    with zipfile.ZipFile(archive, "w") as z:
        for label in labels:
            z.writestr(f"{label}.json", json.dumps(digit(label).to_dict()))
        entries = [{"file": f"{label}.json", "label": label} for label in labels]
        z.writestr(MANIFEST_NAME, json.dumps({"samples": entries}))
    root = samples_dir()
    root.mkdir(parents=True)
    (root / "7").write_text("not a folder")
    result = import_zip(archive)
    assert (result.imported, result.not_written) == (2, 3)
    assert result.warnings[0].startswith("Stopped: could not write")
    assert "3 not imported" in result.summary()
    assert sorted(s.label for s in list_samples().samples) == [1, 2]
    leftovers = [p for p in root.rglob("*") if p.is_file() and p.suffix != ".json"]
    assert leftovers == [root / "7"]


def test_removed_samples_can_be_put_back() -> None:
    """Delete with undo: the files' bytes come back exactly; a file that cannot be removed
    is reported, not raised, and the others are still removed."""
    first = add_sample(3, drawing=digit(3))
    second = add_sample(5, drawing=digit(5))
    third = add_sample(5, drawing=shifted(digit(5), 4.0))
    before = {s.path: s.path.read_bytes() for s in (first, second, third)}
    third.path.unlink()
    third.path.mkdir()  # a folder where the file was: cannot be read as a sample
    removed = remove_samples([first, second, third])
    assert [path for path, _ in removed.files] == [first.path, second.path]
    assert len(removed.failed) == 1 and third.path.name in removed.failed[0]
    assert [s.label for s in list_samples().samples] == []
    assert restore_samples(removed) == 2 and removed.files == []
    assert {p: p.read_bytes() for p in (first.path, second.path)} == {
        p: before[p] for p in (first.path, second.path)
    }
    assert remove_samples([first]).files and not first.path.exists()
    # Gone already: nothing to remove and nothing to put back.
    assert remove_samples([first]).files == []


# --------------------------------------------------------------------------- odd manifests


def _export(path: Path, files: list[tuple[str, bytes]], manifest: dict) -> Path:
    """A zip of ``files`` (a name may come twice) and ``manifest``."""
    with warnings.catch_warnings(), zipfile.ZipFile(path, "w") as z:
        warnings.simplefilter("ignore", UserWarning)  # zipfile's "Duplicate name"
        for name, data in files:
            z.writestr(name, data)
        z.writestr(MANIFEST_NAME, json.dumps(manifest))
    return path


def _strokes(d: int) -> bytes:
    return json.dumps(digit(d).to_dict()).encode()


def test_a_file_named_100000_times_is_read_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It took 25 s to import this one sample: the entry was read again for every line. Each
    file is read once now (counted, not timed), the repeats counted as duplicates."""
    import drawdigit.samples as samples

    entries = [{"file": "3.json", "label": 3}] * 100_000
    archive = _export(tmp_path / "many.zip", [("3.json", _strokes(3))], {"samples": entries})
    reads: list[str] = []
    real_read = samples.read_entry

    def counted(archive: zipfile.ZipFile, info: zipfile.ZipInfo, max_bytes: int | None) -> bytes:
        reads.append(info.filename)
        return real_read(archive, info, max_bytes)

    monkeypatch.setattr(samples, "read_entry", counted)
    result = import_zip(archive)
    assert (result.imported, result.duplicates, result.bad) == (1, 99_999, 0)
    assert sorted(reads) == ["3.json", MANIFEST_NAME]
    assert [s.label for s in list_samples().samples] == [3]


def test_one_file_under_two_labels_is_skipped_with_a_warning(tmp_path: Path) -> None:
    """Two entries of one name (the zip holds two files so named, or the manifest lists one
    file as a 3 and as a 5) stored one drawing under two labels; which is meant cannot be
    known, so neither is imported and the warning says why, once."""
    twice_held = _export(
        tmp_path / "held.zip",
        [("a.json", _strokes(3)), ("a.json", _strokes(5)), ("b.json", _strokes(8))],
        {
            "samples": [
                {"file": "a.json", "label": 3},
                {"file": "a.json", "label": 5},
                {"file": "b.json", "label": 8},
            ]
        },  # fmt: skip
    )
    result = import_zip(twice_held)
    assert (result.imported, result.bad) == (1, 2) and len(result.warnings) == 1
    assert "a.json: the zip holds 2 files of this name" in result.warnings[0]
    assert [s.label for s in list_samples().samples] == [8]
    two_labels = _export(
        tmp_path / "labels.zip",
        [("c.json", _strokes(4))],
        {"samples": [{"file": "c.json", "label": 4}, {"file": "c.json", "label": 9}]},
    )
    result = import_zip(two_labels)
    assert (result.imported, result.bad) == (0, 2) and len(result.warnings) == 1
    assert "c.json: listed with the labels 4 and 9" in result.warnings[0]
    assert [s.label for s in list_samples().samples] == [8]


@pytest.mark.parametrize(
    ("head", "message"),
    [
        ({"format": "someone-elses-samples", "version": 1}, "not a drawdigit samples export"),
        ({"format": "drawdigit-samples", "version": 99}, "made by a newer drawdigit .*99"),
        ({"format": "drawdigit-samples", "version": "one"}, "of an unknown version"),
    ],
)
def test_a_manifest_of_another_format_or_version_is_refused(
    tmp_path: Path, head: dict, message: str
) -> None:
    entries = [{"file": "a.json", "label": 3}]
    archive = _export(
        tmp_path / "other.zip", [("a.json", _strokes(3))], {**head, "samples": entries}
    )
    with pytest.raises(SampleError, match=message):
        import_zip(archive)
    assert list_samples().samples == []


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_importing_a_fifo_is_refused_at_once(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.zip")
    with pytest.raises(SampleError, match="not a regular file"):
        import_zip(tmp_path / "pipe.zip")

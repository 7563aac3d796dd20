"""The strokes file format: exact round-trips, and a clear error for every kind of bad file."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from drawdigit.strokes import (
    MAX_FILE_BYTES,
    MAX_POINTS,
    MAX_STROKES,
    Drawing,
    StrokesError,
    load_drawing,
    pen_width,
    save_drawing,
)

SEVEN = Drawing(
    280.0,
    280.0,
    [[(60.5, 50.0), (210.25, 52.0), (120.0, 230.75)], [(90.0, 140.0), (180.0, 140.0)]],
)


def test_save_and_load_round_trip_exactly(tmp_path: Path) -> None:
    path = tmp_path / "seven.json"
    save_drawing(path, SEVEN)
    assert load_drawing(path) == SEVEN
    # the contract: exactly these keys, points as [x, y] pairs of numbers
    data = json.loads(path.read_text("utf-8"))
    assert set(data) == {"width", "height", "strokes"}
    assert data["strokes"][0][1] == [210.25, 52.0]


def test_dict_round_trip_and_integers_accepted() -> None:
    data = {"width": 280, "height": 200, "strokes": [[[1, 2], [3, 4]], [[5.5, 6]]]}
    drawing = Drawing.from_dict(data)
    assert drawing.width == 280.0 and drawing.height == 200.0
    assert drawing.strokes == [[(1.0, 2.0), (3.0, 4.0)], [(5.5, 6.0)]]
    assert Drawing.from_dict(drawing.to_dict()) == drawing
    assert drawing.point_count == 3 and not drawing.is_empty


def test_empty_drawing_and_single_point_stroke_are_valid(tmp_path: Path) -> None:
    empty = Drawing(280, 280, [])
    dot = Drawing(280, 280, [[(140.0, 140.0)]])
    for name, drawing in (("empty.json", empty), ("dot.json", dot)):
        save_drawing(tmp_path / name, drawing)
        assert load_drawing(tmp_path / name) == drawing
    assert empty.is_empty and not dot.is_empty


def test_pen_width_scales_with_the_canvas() -> None:
    assert 18.0 <= pen_width(280, 280) <= 24.0
    assert pen_width(560, 560) == pytest.approx(2 * pen_width(280, 280))
    assert pen_width(280, 560) == pen_width(280, 280)  # the shorter side decides


def test_save_is_atomic_and_refuses_invalid_drawings(tmp_path: Path) -> None:
    path = tmp_path / "d.json"
    save_drawing(path, SEVEN)
    bad = Drawing(280, 280, [[(math.nan, 1.0)]])
    with pytest.raises(StrokesError, match="not finite"):
        save_drawing(path, bad)
    assert load_drawing(path) == SEVEN  # the old file is intact
    assert [p.name for p in tmp_path.iterdir()] == ["d.json"]  # no temp file left behind


BAD_FILES = {
    "not json": ("{width: 280", "invalid JSON"),
    "a list": ("[1, 2, 3]", "JSON, but not a drawing"),
    "another object": ('{"name": "a.json", "version": 2}', "JSON, but not a drawing"),
    "missing strokes": ('{"width": 280, "height": 280}', "missing key.*strokes"),
    "missing size": ('{"strokes": []}', "missing key.*width, height"),
    "text size": ('{"width": "280", "height": 280, "strokes": []}', "width is not a number"),
    "bool size": ('{"width": true, "height": 280, "strokes": []}', "width is not a number"),
    "negative size": ('{"width": -280, "height": 280, "strokes": []}', "must be positive"),
    "zero size": ('{"width": 280, "height": 0, "strokes": []}', "height must be positive"),
    "absurd size": ('{"width": 1e9, "height": 280, "strokes": []}', "absurd"),
    "NaN size": ('{"width": NaN, "height": 280, "strokes": []}', "not finite"),
    "strokes not list": ('{"width": 280, "height": 280, "strokes": {}}', "must be a list"),
    "stroke not list": ('{"width": 280, "height": 280, "strokes": [5]}', "stroke 0 must be"),
    "short point": ('{"width": 280, "height": 280, "strokes": [[[1]]]}', "point 0 must be"),
    "long point": ('{"width": 280, "height": 280, "strokes": [[[1, 2, 3]]]}', "must be \\[x, y\\]"),
    "text coordinate": (
        '{"width": 280, "height": 280, "strokes": [[[1, 2], ["a", 3]]]}',
        "stroke 0 point 1 x is not a number",
    ),
    "null coordinate": (
        '{"width": 280, "height": 280, "strokes": [[], [[1, null]]]}',
        "stroke 1 point 0 y is not a number",
    ),
    "NaN coordinate": ('{"width": 280, "height": 280, "strokes": [[[NaN, 2]]]}', "not finite"),
    "infinite coordinate": (
        '{"width": 280, "height": 280, "strokes": [[[Infinity, 2]]]}',
        "not finite",
    ),
    "far coordinate": ('{"width": 280, "height": 280, "strokes": [[[1e12, 2]]]}', "absurdly far"),
    # Python refuses to read integers of more than 4,300 digits ("use
    # sys.set_int_max_str_digits()"): said as of any other huge number.
    "5,000-digit integer": (
        '{"width": 280, "height": 280, "strokes": [[[1' + "0" * 4999 + ", 2]]]}",
        "^[^ ]*bad.json: stroke 0 point 0 x is absurdly large$",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_file_raises_strokes_error_naming_file_and_problem(tmp_path: Path, case: str) -> None:
    text, problem = BAD_FILES[case]
    path = tmp_path / "bad.json"
    path.write_text(text, "utf-8")
    with pytest.raises(StrokesError, match=problem) as info:
        load_drawing(path)
    assert str(path) in str(info.value)


def test_a_file_saved_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    """Notepad saves UTF-8 with a BOM; such a strokes file was refused."""
    path = tmp_path / "notepad.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(SEVEN.to_dict()).encode())
    assert load_drawing(path) == SEVEN


@pytest.mark.parametrize("text", ["[1, 2, 3]", '"a drawing"', "42", "null", '{"a": 1}'])
def test_json_that_is_not_a_drawing_is_called_so_not_an_image(tmp_path: Path, text: str) -> None:
    """``predict`` decides by content: JSON that is not an object went to the picture
    reader and was "not an image Pillow can read"."""
    from drawdigit.preprocess import load_source

    path = tmp_path / "other.json"
    path.write_text(text, "utf-8")
    with pytest.raises(StrokesError) as refused:
        load_source(path)
    assert str(refused.value) == (
        f"{path}: JSON, but not a drawing (a strokes file is an object with width, height "
        "and strokes)"
    )


def test_missing_empty_and_binary_files(tmp_path: Path) -> None:
    with pytest.raises(StrokesError, match="no such file"):
        load_drawing(tmp_path / "absent.json")
    (tmp_path / "empty.json").write_bytes(b"")
    with pytest.raises(StrokesError, match="invalid JSON"):
        load_drawing(tmp_path / "empty.json")
    (tmp_path / "binary.json").write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    with pytest.raises(StrokesError, match="not UTF-8"):
        load_drawing(tmp_path / "binary.json")
    with pytest.raises(StrokesError, match="cannot read"):
        load_drawing(tmp_path)  # a directory


def test_unipen_files_load(unipen_dir: Path) -> None:
    drawing = load_drawing(unipen_dir / "u00036.json")
    assert (drawing.width, drawing.height) == (280.0, 280.0)
    assert drawing.point_count > 10


# --------------------------------------------------------------------------- hostile files


def _run_drawdigit(*args: str, memory: int = 3_000_000_000) -> subprocess.CompletedProcess:
    """``drawdigit ARGS`` in a child with its address space capped, so that a file read
    without a limit fails there (MemoryError) instead of eating this machine's memory, and a
    read that blocks is ended by the timeout."""
    import resource

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    return subprocess.run(
        [sys.executable, "-m", "drawdigit", *args],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=cap,
        check=False,
    )


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_refused_instead_of_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "drawing.json"
    os.mkfifo(fifo)
    # `predict` used to wait forever for a writer (the child's timeout ends that).
    done = _run_drawdigit("predict", str(fifo))
    assert done.returncode != 0 and "not a regular file" in done.stderr
    assert "Traceback" not in done.stderr
    with pytest.raises(StrokesError, match="not a regular file"):
        load_drawing(fifo)


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero here")
def test_a_link_to_dev_zero_is_not_read(tmp_path: Path) -> None:
    link = tmp_path / "zero.json"
    link.symlink_to("/dev/zero")
    done = _run_drawdigit("predict", str(link))
    assert done.returncode != 0 and "not a regular file" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_file_over_the_size_cap_is_refused_unread(tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    with big.open("wb") as f:
        f.truncate(MAX_FILE_BYTES + 1)  # sparse: costs no disk
    with pytest.raises(StrokesError, match="too large"):
        load_drawing(big)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ('{"width": 280, "height": 280, "strokes": [[[1' + "0" * 400 + ", 5]]]}", "absurdly large"),
        # More digits than Python reads ("use sys.set_int_max_str_digits()"): said alike.
        ('{"width": -1' + "0" * 5000 + ', "height": 280, "strokes": []}', "width is absurdly"),
        (
            '{"width": 280, "height": 280, "strokes": [' + "[]," * (MAX_STROKES + 1) + "[]]}",
            "strokes",
        ),
    ],
    ids=["deep-nesting", "huge-integer", "integer-too-long", "too-many-strokes"],
)
def test_nesting_and_huge_numbers_give_a_clear_error(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(StrokesError, match=message):
        load_drawing(path)


def test_more_points_than_a_person_draws_are_refused_before_decoding(tmp_path: Path) -> None:
    import tracemalloc

    # (up to MAX_POINTS + MAX_STROKES lists are decoded, and _parse counts exactly)
    points = ",".join(f"[{i % 280}.5,{i // 280}.5]" for i in range(MAX_POINTS * 3 // 2))
    path = tmp_path / "many.json"
    path.write_text(f'{{"width": 280, "height": 400, "strokes": [[{points}]]}}')
    size = path.stat().st_size
    tracemalloc.start()
    try:
        with pytest.raises(StrokesError, match=f"at most {MAX_POINTS} points"):
            load_drawing(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 3 * size  # the bytes read, not ~200 bytes a point of decoded lists

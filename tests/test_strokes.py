"""The strokes file format: exact round-trips, and a clear error for every kind of bad file."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from drawdigit.strokes import Drawing, StrokesError, load_drawing, pen_width, save_drawing

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
    "a list": ("[1, 2, 3]", "expected a JSON object"),
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
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_file_raises_strokes_error_naming_file_and_problem(tmp_path: Path, case: str) -> None:
    text, problem = BAD_FILES[case]
    path = tmp_path / "bad.json"
    path.write_text(text, "utf-8")
    with pytest.raises(StrokesError, match=problem) as info:
        load_drawing(path)
    assert str(path) in str(info.value)


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

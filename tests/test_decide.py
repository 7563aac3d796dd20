"""decide: every answer kind from drawings made here, numbers, multi-stroke digits, unseen fonts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from drawdigit.decide import KINDS, Decider, load_decider
from drawdigit.digitness import load_digitness
from drawdigit.inference import load_predictor
from drawdigit.preprocess import ImageError, load_source
from drawdigit.segment import cut, stroke_groups
from drawdigit.store import ModelFileError, bundled_model_path, resource_path
from drawdigit.strokes import Drawing, StrokesError, load_drawing

DEJAVU = sorted(Path("/usr/share/fonts").rglob("DejaVuSans.ttf"))


@pytest.fixture(scope="module")
def decider() -> Decider:
    predictor, _ = load_predictor(bundled_model_path())
    made, warnings = load_decider(predictor)
    assert warnings == [] and made.digitness is not None
    return made


def sample(digit: int) -> Drawing:
    return load_drawing(resource_path("samples", f"digit-{digit}.json"))


def side_by_side(digits: str, height: float = 100.0, gap: float = 35.0) -> Drawing:
    """The bundled sample digits written on one line, digit by digit, like a number."""
    strokes: list[list[tuple[float, float]]] = []
    x = 20.0
    for char in digits:
        drawing = sample(int(char))
        points = np.array([p for s in drawing.strokes for p in s])
        low, high = points.min(axis=0), points.max(axis=0)
        scale = height / (high[1] - low[1])
        for stroke in drawing.strokes:
            strokes.append(
                [(x + (px - low[0]) * scale, 40 + (py - low[1]) * scale) for px, py in stroke]
            )
        x += (high[0] - low[0]) * scale + gap
    return Drawing(x + 20, height + 80, strokes)


def picture_of(drawing: Drawing, pen: float = 14.0) -> np.ndarray:
    """The drawing as a picture: black ink on white paper, as a scan would be."""
    from PIL import Image, ImageDraw

    image = Image.new("L", (int(drawing.width), int(drawing.height)), 255)
    draw = ImageDraw.Draw(image)
    for stroke in drawing.strokes:
        draw.line(stroke, fill=0, width=int(pen), joint="curve")
    return np.asarray(image)


def glyph(char: str, font: Path, size: int = 160) -> np.ndarray:
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("L", (size * 2, size * 2), 255)
    ImageDraw.Draw(image).text(
        (size // 2, size // 3), char, fill=0, font=ImageFont.truetype(str(font), size)
    )
    return np.asarray(image)


def test_empty_ink_is_empty(decider: Decider) -> None:
    assert decider.decide(Drawing(280, 280, [])).kind == "empty"
    assert decider.decide(Drawing(280, 280, [[], []])).kind == "empty"
    assert decider.decide(None).kind == "empty"
    assert decider.decide(np.full((50, 50), 255, dtype=np.uint8)).kind == "empty"


@pytest.mark.parametrize("digit", range(10))
def test_the_sample_digits_are_read_as_one_digit(decider: Decider, digit: int) -> None:
    decision = decider.decide(sample(digit))
    assert decision.kind in ("digit", "unsure") and decision.digit == digit
    assert decision.number is None and decision.parts == ()
    assert decision.whole is not None and decision.whole.image28.shape == (28, 28)
    assert decision.confidence == decision.whole.probabilities.max()


def test_clean_digits_are_mostly_sure(decider: Decider) -> None:
    kinds = [decider.decide(sample(d)).kind for d in range(10)]
    assert kinds.count("digit") >= 8, kinds  # "sure" is strict (README), but not shy


def test_a_two_stroke_four_and_a_crossed_seven_stay_one_digit(decider: Decider) -> None:
    four = Drawing(280, 280, [[(150, 40), (80, 170), (210, 170)], [(170, 100), (170, 250)]])
    seven = Drawing(280, 280, [[(70, 50), (210, 50), (120, 250)], [(110, 150), (190, 150)]])
    assert len(stroke_groups(four)) == 1 and len(stroke_groups(seven)) == 1
    for drawing, expected in ((four, 4), (seven, 7)):
        decision = decider.decide(drawing)
        assert decision.kind in ("digit", "unsure")
        assert decision.digit == expected


@pytest.mark.parametrize("digits", ["42", "4207", "1975"])
def test_numbers_are_read_digit_by_digit(decider: Decider, digits: str) -> None:
    drawing = side_by_side(digits)
    decision = decider.decide(drawing)
    assert decision.kind == "number", decision
    assert decision.number == digits and decision.digit is None
    boxes = [p.box for p in decision.parts]
    assert all(a[2] < b[0] for a, b in zip(boxes, boxes[1:], strict=False))  # left to right
    assert all(0 <= b[0] < b[2] <= drawing.width for b in boxes)
    assert len(decision.images) == len(digits)
    assert 0.0 < decision.confidence <= min(p.confidence for p in decision.parts)


def test_a_picture_of_a_number_is_read_too(decider: Decider) -> None:
    decision = decider.decide(picture_of(side_by_side("42")))
    assert (decision.kind, decision.number) == ("number", "42")


@pytest.mark.skipif(not DEJAVU, reason="DejaVu Sans is not installed (fonts-dejavu-core)")
@pytest.mark.parametrize("char", ["H", "M", "V", "F", "%"])
def test_a_letter_in_a_font_never_seen_is_not_a_digit(decider: Decider, char: str) -> None:
    decision = decider.decide(glyph(char, DEJAVU[0]))
    assert decision.kind == "not-a-digit", (char, decision.kind, decision.digit)
    assert decision.digit is None and decision.confidence > 0.9


@pytest.mark.skipif(not DEJAVU, reason="DejaVu Sans is not installed (fonts-dejavu-core)")
def test_no_letter_of_an_unseen_font_is_a_sure_digit_or_number(decider: Decider) -> None:
    from drawdigit.negatives import CHARACTERS

    # Every letter (not the symbols: DejaVu's $ is read as a sure 5 and its ] as a sure 1),
    # but J, which in DejaVu is as narrow as a 1 with a hook: narrow glyphs are left out of
    # training because to a reader they are 1s.
    chars = [c for c in CHARACTERS if c.isalpha() and c != "J"]
    shown = {c: decider.decide(glyph(c, DEJAVU[0])).kind for c in chars}
    sure = {c: k for c, k in shown.items() if k in ("digit", "number")}
    assert sure == {}
    assert list(shown.values()).count("not-a-digit") >= len(chars) // 3


def test_a_scribble_is_not_a_digit(decider: Decider) -> None:
    zigzag = [(40 + 8 * k, 60 + 40 * (k % 2)) for k in range(25)]
    for strokes in ([zigzag], [zigzag, [(x, y + 120) for x, y in zigzag]]):
        assert decider.decide(Drawing(280, 280, strokes)).kind == "not-a-digit"
    t = np.linspace(0, 6 * np.pi, 200)
    spiral = [(140 + 4 * a * np.cos(a), 140 + 4 * a * np.sin(a)) for a in t]
    assert decider.decide(Drawing(280, 280, [spiral])).kind != "digit"  # a 0, at most unsure


def test_unsure_gives_two_candidates(decider: Decider) -> None:
    # Between a 1 and a 7: a stem with a short, flat flag.
    drawing = Drawing(280, 280, [[(120, 70), (160, 60), (150, 230)]])
    decision = decider.decide(drawing)
    assert decision.kind == "unsure"
    assert decision.candidates == (1, 7) and decision.digit == 1
    assert decision.confidence < decider.thresholds.sure


def test_every_kind_is_known(decider: Decider) -> None:
    assert set(KINDS) == {"digit", "unsure", "number", "not-a-digit", "empty"}
    assert cut(Drawing(280, 280, [])) is None


def test_many_drawings_at_once_get_the_answers_each_gets_alone(
    decider: Decider, unipen_dir: Path
) -> None:
    """``decide_pieces`` (what ``drawdigit predict`` does with many files: every candidate
    of every drawing in one forward pass) answers each drawing as ``decide`` does alone:
    real pen input of every kind, numbers (several candidates each), a picture, nothing."""
    sources: list = [load_source(f) for f in sorted(unipen_dir.glob("*.json"))[:40]]
    sources += [side_by_side("42"), picture_of(side_by_side("907")), None, sample(7)]
    sources += [Drawing(280, 280, [[(40 + 8 * k, 60 + 40 * (k % 2)) for k in range(25)]])]
    alone = [decider.decide(source) for source in sources]
    together = decider.decide_pieces([None if s is None else cut(s) for s in sources])
    assert len({d.kind for d in alone}) >= 4  # the mix holds most kinds of answer
    assert len(together) == len(alone)
    for one, many in zip(alone, together, strict=True):
        assert (many.kind, many.digit, many.number) == (one.kind, one.digit, one.number)
        assert many.confidence == pytest.approx(one.confidence, abs=1e-6)
        if one.whole is not None:
            np.testing.assert_allclose(many.whole.probabilities, one.whole.probabilities, atol=1e-6)
            assert np.array_equal(many.whole.image28, one.whole.image28)


def test_load_source_decides_by_content(tmp_path: Path) -> None:
    four = tmp_path / "four.txt"
    four.write_text(json.dumps(sample(4).to_dict()))
    assert isinstance(load_source(four), Drawing)
    png = tmp_path / "picture.json"
    from PIL import Image

    Image.fromarray(picture_of(sample(4))).save(png, format="PNG")
    assert isinstance(load_source(png), np.ndarray)
    with pytest.raises(StrokesError, match="bad.png"):
        (tmp_path / "bad.png").write_text("{not json")
        load_source(tmp_path / "bad.png")
    with pytest.raises(ImageError, match="missing"):
        load_source(tmp_path / "missing")


def test_a_damaged_digitness_file_is_refused(tmp_path: Path) -> None:
    source = resource_path("model", "digitness.npz")
    copy = tmp_path / "digitness.npz"
    data = bytearray(source.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    (tmp_path / "digitness.json").write_bytes(source.with_suffix(".json").read_bytes())
    with pytest.raises(ModelFileError, match="checksum"):
        load_digitness(copy)


def _damaged_head(folder: Path, arrays: dict | None = None, meta: str | None = None) -> Path:
    """A copy of the bundled digit-ness files in ``folder`` with other ``arrays`` (the
    checksum in its JSON made to match them) or another JSON text ``meta``."""
    import hashlib
    import io
    import json

    source = resource_path("model", "digitness.npz")
    weights = folder / "digitness.npz"
    if arrays is None:
        weights.write_bytes(source.read_bytes())
    else:
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        weights.write_bytes(buffer.getvalue())
    if meta is None:
        described = json.loads(source.with_suffix(".json").read_text("utf-8"))
        described["sha256"] = hashlib.sha256(weights.read_bytes()).hexdigest()
        meta = json.dumps(described)
    weights.with_suffix(".json").write_text(meta, "utf-8")
    return weights


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ({"meta": "[" * 100_000 + "]" * 100_000}, "nested too deeply"),
        (
            {
                "arrays": {
                    "w1": np.ones((32, 32)),
                    "b1": np.ones(32),
                    "w2": np.ones(32),
                    "b2": np.ones(1),
                }
            },
            "bad shapes",
        ),  # fmt: skip
    ],
)
def test_a_damaged_head_is_refused_and_digits_are_still_answered(
    tmp_path: Path, damage: dict, message: str
) -> None:
    """Deeply nested JSON raised RecursionError; weights of the wrong shape under a
    matching checksum raised a matmul ValueError at the first drawing. Each is refused when
    read, and the decider answers without "not a digit", saying why."""
    head = _damaged_head(tmp_path, **damage)
    with pytest.raises(ModelFileError, match=message):
        load_digitness(head)
    predictor, _ = load_predictor()
    decider, warnings = load_decider(predictor, head)
    assert decider.digitness is None
    assert len(warnings) == 1 and warnings[0].startswith("No 'not a digit' answers: ")
    assert message in warnings[0]
    assert decider.decide(sample(3)).kind in ("digit", "unsure")


def test_thresholds_that_are_not_a_mapping_are_refused(tmp_path: Path) -> None:
    import json

    source = resource_path("model", "digitness.npz").with_suffix(".json")
    described = json.loads(source.read_text("utf-8"))
    described["thresholds"] = [0.5, 0.9]
    head = _damaged_head(tmp_path, meta=json.dumps(described))
    with pytest.raises(ModelFileError, match="not a digit-ness model"):
        load_digitness(head)


def test_another_network_gets_no_not_a_digit_head(tmp_path: Path) -> None:
    from drawdigit.model import DigitNet, ModelConfig
    from drawdigit.store import save_checkpoint

    other = tmp_path / "other.pt"
    save_checkpoint(other, DigitNet().state_dict(), ModelConfig())
    predictor, _ = load_predictor(other)
    decider, warnings = load_decider(predictor)
    assert decider.digitness is None and "bundled network" in warnings[0]
    assert decider.decide(sample(3)).kind in ("digit", "unsure", "number")


# --------------------------------------------------------------------------- how it was made


def test_temperature_scaling_recovers_a_known_temperature() -> None:
    from drawdigit.digitness import softmax
    from drawdigit.make_digitness import fit_temperature

    rng = np.random.default_rng(0)
    logits = rng.normal(0, 4, (20_000, 10))
    truth = softmax(logits / 2.0)  # the labels really follow T = 2
    labels = np.array([rng.choice(10, p=p) for p in truth])
    assert fit_temperature(logits, labels) == pytest.approx(2.0, rel=0.05)


def test_redrawing_with_the_pen_keeps_the_shape_and_sets_the_width() -> None:
    from drawdigit.thinning import redraw_with_pen, skeleton

    bar = np.zeros((1, 28, 28), dtype=np.float32)
    bar[0, 4:24, 10:17] = 1.0  # a 7 px wide upright bar
    lines = skeleton(bar > 0.5)[0]
    assert lines[8:20].sum(axis=1).max() == 1  # one pixel wide along its length
    assert lines.any(axis=1).sum() >= 12  # and still most of its 20 px height
    redrawn = redraw_with_pen(bar)[0]
    across = (redrawn[14] > 0.5).sum()
    assert 2 <= across <= 4  # the app's 2.6 px pen, not the 7 px of the original


def test_the_made_negatives_are_reproducible_and_not_as_narrow_as_a_one() -> None:
    from drawdigit.negatives import NARROW, scribbles

    a = scribbles(20, np.random.default_rng(3))
    b = scribbles(20, np.random.default_rng(3))
    assert np.array_equal(a, b) and a.shape == (20, 28, 28)
    for image in a:
        rows = np.flatnonzero(image.max(axis=1) > 0.2)
        cols = np.flatnonzero(image.max(axis=0) > 0.2)
        assert cols.size >= NARROW * rows.size

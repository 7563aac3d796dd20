"""Preprocessing: every drawing reaches the network normalised the way MNIST was."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from drawdigit.preprocess import (
    BOX,
    CENTRE,
    ImageError,
    StrokeStyle,
    load_image,
    load_input,
    network_pen,
    preprocess,
    rasterise,
)
from drawdigit.strokes import Drawing, StrokesError, load_drawing, pen_width, save_drawing

# MNIST's own normalisation, without the default's sideways squeeze (StrokeStyle.narrow):
# the tests of the box, the dot and the lines measure that geometry.
MNIST_BOX = StrokeStyle(narrow=1.0)
UNIPEN_SAMPLES = ["u00036.json", "u00038.json", "u00040.json", "u00042.json", "u00044.json"]


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    index = np.arange(image.shape[0])
    mass = image.sum()
    return float(image.sum(axis=1) @ index / mass), float(image.sum(axis=0) @ index / mass)


def ink_box(image: np.ndarray, threshold: float = 0.5) -> tuple[int, int]:
    """Height and width of the box around pixels brighter than ``threshold``."""
    rows = np.flatnonzero((image > threshold).any(axis=1))
    cols = np.flatnonzero((image > threshold).any(axis=0))
    return int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def transformed(drawing: Drawing, scale: float, dx: float, dy: float) -> Drawing:
    strokes = [[(x * scale + dx, y * scale + dy) for x, y in s] for s in drawing.strokes]
    return Drawing(drawing.width, drawing.height, strokes)


def draw_png(drawing: Drawing, path: Path, ink: int = 255, paper: int = 0) -> None:
    """Render a drawing the way an independent program would (Pillow, the canvas's pen)."""
    image = Image.new("L", (round(drawing.width), round(drawing.height)), paper)
    draw = ImageDraw.Draw(image)
    width = pen_width(drawing.width, drawing.height)
    r = width / 2
    for stroke in drawing.strokes:
        for (x0, y0), (x1, y1) in zip(stroke[:-1], stroke[1:], strict=True):
            draw.line([(x0, y0), (x1, y1)], fill=ink, width=round(width))
        for x, y in stroke:
            draw.ellipse([x - r, y - r, x + r, y + r], fill=ink)
    image.save(path)


@pytest.fixture(scope="module")
def drawings(unipen_dir: Path) -> list[Drawing]:
    return [load_drawing(unipen_dir / name) for name in UNIPEN_SAMPLES]


@pytest.fixture(scope="module")
def mnist_digits(mnist_dir: Path) -> np.ndarray:
    raw = gzip.decompress((mnist_dir / "t10k-images-idx3-ubyte.gz").read_bytes())
    return np.frombuffer(raw, np.uint8, count=20 * 784, offset=16).reshape(20, 28, 28)


# --------------------------------------------------------------------------- strokes


def test_output_is_mnist_shaped(drawings: list[Drawing]) -> None:
    for drawing in drawings:
        image = preprocess(drawing)
        assert image.shape == (28, 28) and image.dtype == np.float32
        assert image.min() >= 0.0 and image.max() == pytest.approx(1.0)


def test_centre_of_mass_at_the_centre(drawings: list[Drawing]) -> None:
    for drawing in drawings:
        for style in (StrokeStyle(), StrokeStyle(centring="integer")):
            cy, cx = centre_of_mass(preprocess(drawing, style))
            assert abs(cy - CENTRE) <= 0.5 and abs(cx - CENTRE) <= 0.5


def test_longer_side_of_the_ink_is_20_pixels(drawings: list[Drawing]) -> None:
    for drawing in drawings:
        for style in (MNIST_BOX, StrokeStyle(thickness="canvas", narrow=1.0)):
            height, width = ink_box(preprocess(drawing, style))
            assert 19 <= max(height, width) <= 21


def test_translation_and_scale_give_nearly_the_same_input(drawings: list[Drawing]) -> None:
    for drawing in drawings:
        base = preprocess(drawing)
        for scale, dx, dy in ((0.5, 30.0, 80.0), (1.3, -40.0, -20.0), (1.0, 57.3, -11.1)):
            moved = preprocess(transformed(drawing, scale, dx, dy))
            assert np.abs(moved - base).max() < 0.1
            assert correlation(moved, base) > 0.995


def test_canvas_size_does_not_matter(drawings: list[Drawing]) -> None:
    """The same drawing on a canvas twice as large (pen twice as wide) gives the same input."""
    for drawing in drawings:
        big = transformed(drawing, 2.0, 0.0, 0.0)
        big = Drawing(drawing.width * 2, drawing.height * 2, big.strokes)
        for style in (MNIST_BOX, StrokeStyle(thickness="canvas", narrow=1.0)):
            assert np.abs(preprocess(big, style) - preprocess(drawing, style)).max() < 0.05


def test_empty_drawings_give_none() -> None:
    assert preprocess(Drawing(280, 280, [])) is None
    assert preprocess(Drawing(280, 280, [[], []])) is None


def test_a_dot_renders_as_a_centred_round_dot() -> None:
    for strokes in ([[(37.0, 201.0)]], [[(37.0, 201.0), (37.0, 201.0), (37.0, 201.0)]]):
        image = preprocess(Drawing(280, 280, strokes), MNIST_BOX)
        assert image is not None and image.max() == pytest.approx(1.0)
        cy, cx = centre_of_mass(image)
        assert abs(cy - CENTRE) < 0.3 and abs(cx - CENTRE) < 0.3
        height, width = ink_box(image)
        assert height == width  # round, not smeared
        assert np.allclose(image, image.T, atol=0.05)


def test_sparse_points_still_make_continuous_lines() -> None:
    """A fast mouse leaves points far apart; the pen still draws the whole segment."""
    seven = Drawing(280, 280, [[(60.0, 40.0), (220.0, 40.0), (110.0, 250.0)]])
    image = preprocess(seven, MNIST_BOX)
    # walk the 28x28 image along the diagonal stroke: never a gap
    for t in np.linspace(0.05, 0.95, 30):
        x = 220.0 + (110.0 - 220.0) * t
        y = 40.0 + (250.0 - 40.0) * t
        # map canvas to 28x28 through the bounding box and the 20 px scaling
        assert _max_near(image, seven, x, y) > 0.9


def _max_near(image: np.ndarray, drawing: Drawing, x: float, y: float) -> float:
    points = np.array([p for s in drawing.strokes for p in s])
    low, high = points.min(axis=0), points.max(axis=0)
    # positions relative to the box, in 28x28 pixels, then the centre of mass offset
    rel = (np.array([x, y]) - low) / (high - low).max()
    cols = np.flatnonzero(image.max(axis=0) > 0.5)
    rows = np.flatnonzero(image.max(axis=1) > 0.5)
    span = max(cols[-1] - cols[0], rows[-1] - rows[0])
    px = cols[0] + rel[0] * span
    py = rows[0] + rel[1] * span
    r0, c0 = int(round(py)), int(round(px))
    return float(image[max(r0 - 1, 0) : r0 + 2, max(c0 - 1, 0) : c0 + 2].max())


def test_long_drawings_are_handled() -> None:
    """~600 points (a scribbled 8 traced twice) renders fine and fits the box."""
    t = np.linspace(0, 4 * np.pi, 600)
    eight = [(140 + 60 * np.sin(u), 140 + 100 * np.sin(u) * np.cos(u)) for u in t]
    image = preprocess(Drawing(280, 280, [[(float(x), float(y)) for x, y in eight]]))
    assert max(ink_box(image)) <= 21 and image.sum() > 50


def test_canvas_pen_style_thickens_small_digits() -> None:
    """With the canvas's own pen, a small digit drawn with the fat pen gets thick strokes;
    the fixed (default) style keeps the stroke width whatever the digit's size."""
    bar = [[(140.0, 40.0), (140.0, 240.0)]]
    small = [[(140.0, 120.0), (140.0, 160.0)]]
    canvas = StrokeStyle(thickness="canvas")
    wide_small = ink_box(preprocess(Drawing(280, 280, small), canvas))[1]
    wide_big = ink_box(preprocess(Drawing(280, 280, bar), canvas))[1]
    assert wide_small > wide_big + 2
    fixed_small = ink_box(preprocess(Drawing(280, 280, small)))[1]
    fixed_big = ink_box(preprocess(Drawing(280, 280, bar)))[1]
    assert fixed_small == fixed_big


# A 7 whose bar is gone over three times (its centre of mass sits high, so centring it would
# push the tail off the bottom row) and an L whose foot is gone over (pushed off the top).
TOP_HEAVY_SEVEN = Drawing(
    280,
    280,
    [
        [(40, 60), (240, 60), (40, 62), (240, 64), (40, 66), (240, 66)],
        [(240, 66), (180, 250)],
    ],
)
HEAVY_FOOTED_L = Drawing(280, 280, [[(60, 40), (60, 240), (240, 240), (60, 238), (240, 236)]])


@pytest.mark.parametrize("drawing", [TOP_HEAVY_SEVEN, HEAVY_FOOTED_L], ids=["seven", "L"])
@pytest.mark.parametrize("centring", ["subpixel", "integer"])
def test_centring_never_pushes_ink_out_of_the_field(drawing: Drawing, centring: str) -> None:
    """The pixel just outside the field would get no ink: the border pixels hold at most the
    outermost step of the soft edge (1 / edge), never a cut stroke. Without the clamp the
    seven's tail and the L's top run off the field (the first check fails)."""
    style = StrokeStyle(centring=centring, narrow=1.0)
    image = preprocess(drawing, style)
    border = max(image[0].max(), image[-1].max(), image[:, 0].max(), image[:, -1].max())
    assert border <= 1.0 / style.edge + 1e-4
    unclamped = preprocess(drawing, StrokeStyle(centring=centring, keep_inside=False, narrow=1.0))
    cut = max(
        unclamped[0].max(), unclamped[-1].max(), unclamped[:, 0].max(), unclamped[:, -1].max()
    )
    assert cut > 1.0 / style.edge + 0.1  # the drawing does need the clamp
    assert image.sum() > unclamped.sum()  # the ink that was cut off is back


# --------------------------------------------------------------------------- images


def test_png_of_a_drawing_matches_its_strokes(drawings: list[Drawing], tmp_path: Path) -> None:
    for i, drawing in enumerate(drawings):
        path = tmp_path / f"d{i}.png"
        draw_png(drawing, path, ink=0, paper=255)
        from_png = load_input(path)
        # the PNG carries the canvas pen's width, so compare with the canvas-pen rendering
        from_strokes = preprocess(drawing, StrokeStyle(thickness="canvas", narrow=1.0))
        assert correlation(from_png, from_strokes) > 0.97
        assert np.abs(from_png - from_strokes).mean() < 0.04
        cy, cx = centre_of_mass(from_png)
        assert abs(cy - CENTRE) < 0.1 and abs(cx - CENTRE) < 0.1


def test_dark_on_light_is_inverted(drawings: list[Drawing], tmp_path: Path) -> None:
    draw_png(drawings[0], tmp_path / "light.png", ink=255, paper=0)
    draw_png(drawings[0], tmp_path / "dark.png", ink=0, paper=255)
    light, dark = load_input(tmp_path / "light.png"), load_input(tmp_path / "dark.png")
    assert np.abs(light - dark).max() < 1e-5
    # grey paper and grey ink (a photo) give the same digit too
    gray = load_image(tmp_path / "dark.png") * 0.5 + 0.3
    assert correlation(preprocess(gray), dark) > 0.99


def test_any_size_and_dtype(mnist_digits: np.ndarray) -> None:
    digit = mnist_digits[0]
    reference = preprocess(digit)
    big = np.asarray(Image.fromarray(digit).resize((300, 300), Image.Resampling.BILINEAR))
    for variant in (digit.astype(np.float32) / 255, digit.astype(np.float64), digit > 128, big):
        out = preprocess(variant)
        assert out.shape == (28, 28) and out.dtype == np.float32
        assert correlation(out, reference) > 0.9
    # an already-normalised MNIST digit stays essentially itself
    assert correlation(reference, digit.astype(np.float32) / 255) > 0.9


def test_blank_images_give_none() -> None:
    assert preprocess(np.zeros((28, 28), np.uint8)) is None
    assert preprocess(np.full((100, 80), 255, np.uint8)) is None
    noise = np.random.default_rng(0).integers(120, 135, (50, 50)).astype(np.uint8)
    assert preprocess(noise) is None


def test_transparent_png(drawings: list[Drawing], tmp_path: Path) -> None:
    draw_png(drawings[1], tmp_path / "opaque.png", ink=0, paper=255)
    gray = np.asarray(Image.open(tmp_path / "opaque.png"))
    for ink in (0, 255):  # black or white ink on a transparent background
        rgba = np.zeros(gray.shape + (4,), np.uint8)
        rgba[..., :3] = ink
        rgba[..., 3] = 255 - gray  # the ink is what is opaque
        Image.fromarray(rgba, "RGBA").save(tmp_path / f"clear{ink}.png")
        clear = load_input(tmp_path / f"clear{ink}.png")
        assert np.abs(clear - load_input(tmp_path / "opaque.png")).max() < 0.02


def test_bad_image_files_raise_image_error(tmp_path: Path) -> None:
    cases = {
        "missing.png": None,
        "empty.png": b"",
        "text.png": b"hello, not an image",
        "truncated.png": None,
    }
    Image.new("L", (50, 50), 255).save(tmp_path / "whole.png")
    cases["truncated.png"] = (tmp_path / "whole.png").read_bytes()[:40]
    for name, content in cases.items():
        path = tmp_path / name
        if content is not None:
            path.write_bytes(content)
        with pytest.raises(ImageError) as info:
            load_image(path)
        assert str(path) in str(info.value)
    Image.new("RGBA", (20, 20), (0, 0, 0, 0)).save(tmp_path / "clear.png")
    with pytest.raises(ImageError, match="transparent"):
        load_image(tmp_path / "clear.png")


def test_load_input_dispatches_on_the_content(drawings: list[Drawing], tmp_path: Path) -> None:
    save_drawing(tmp_path / "d.json", drawings[2])
    assert np.array_equal(load_input(tmp_path / "d.json"), preprocess(drawings[2]))
    save_drawing(tmp_path / "blank.json", Drawing(280, 280, []))
    assert load_input(tmp_path / "blank.json") is None
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(StrokesError, match="bad.json"):
        load_input(tmp_path / "bad.json")
    (tmp_path / "bad.jpg").write_text("{}")  # JSON inside: a (bad) strokes file, by content
    with pytest.raises(StrokesError, match="bad.jpg"):
        load_input(tmp_path / "bad.jpg")
    (tmp_path / "bad.json").write_text("not an image either")
    with pytest.raises(ImageError, match="bad.json"):
        load_input(tmp_path / "bad.json")


def test_rasterise_draws_in_output_pixels() -> None:
    image = rasterise([np.array([[4.0, 10.0], [20.0, 10.0]])], pen=3.0)
    assert image[10, 4:21].min() > 0.99  # the line itself
    assert image[10, 0].max() == 0 and image[10, 27] == 0
    assert image[12, 10] == pytest.approx(0.0, abs=1e-6) or image[12, 10] < 0.1
    assert rasterise([], pen=3.0).sum() == 0


# --------------------------------------------------------------------------- bounded work


def _peak_bytes(function, *args) -> int:
    """Peak memory Python and numpy allocate while ``function`` runs (numpy reports its
    buffers to tracemalloc), so the bound is on this call, not on the process."""
    import tracemalloc

    tracemalloc.start()
    try:
        function(*args)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_many_points_render_in_bounded_memory() -> None:
    # 20,000 points scattered over the canvas: ~200,000 px of path at 28x28. Rendered
    # segment by segment that is ~2 million segments and hundreds of MB; reduced to the
    # ink's cells it is a few MB, and the field is simply full of ink.
    rng = np.random.default_rng(0)
    points = [tuple(p) for p in rng.uniform(0, 280, size=(20_000, 2)).tolist()]
    drawing = Drawing(280, 280, [points])
    assert _peak_bytes(preprocess, drawing) < 40_000_000
    image = preprocess(drawing)
    assert image is not None and (image[6:22, 6:22] > 0.9).mean() > 0.9


def test_many_one_point_strokes_render_in_bounded_memory() -> None:
    rng = np.random.default_rng(1)
    strokes = [[tuple(p)] for p in rng.uniform(0, 280, size=(200_000, 2)).tolist()]
    drawing = Drawing(280, 280, strokes)
    assert _peak_bytes(preprocess, drawing) < 40_000_000
    image = preprocess(drawing)
    assert image is not None and (image[6:22, 6:22] > 0.9).mean() > 0.9


def test_a_line_drawn_a_hundred_thousand_times_looks_like_the_line() -> None:
    # The reduced path keeps the ink where the path went and nowhere else.
    there_and_back = [(40.0, 40.0), (240.0, 200.0)] * 50_000
    once = preprocess(Drawing(280, 280, [there_and_back[:2]]))
    many = preprocess(Drawing(280, 280, [there_and_back]))
    assert np.abs(many - once).max() < 0.35
    assert correlation(many, once) > 0.98


def test_normal_drawings_are_rendered_exactly(drawings: list[Drawing], monkeypatch) -> None:
    import drawdigit.preprocess as pre

    for drawing in drawings:
        flat, lengths = pre._as_arrays(drawing)
        assert pre._fits_exact_budget(flat, lengths, BOX / 10.0, 1.0)  # 10x bigger than needed
    exact = [preprocess(d) for d in drawings]
    # The reduction, forced on them, draws the same digits (only edges differ a little).
    monkeypatch.setattr(pre, "MAX_EXACT_POINTS", 0)
    for drawing, image in zip(drawings, exact, strict=True):
        reduced = preprocess(drawing)
        assert correlation(reduced, image) > 0.97


def test_the_default_squeezes_the_digit_sideways_about_the_centre() -> None:
    """The default narrows the finished image (StrokeStyle.narrow): a wide 0 comes out
    narrower by about that factor, as tall, centred, with all its ink inside the field."""
    zero = Drawing(
        280,
        280,
        [[(140 + 100 * np.cos(a), 140 + 80 * np.sin(a)) for a in np.linspace(0, 2 * np.pi, 60)]],
    )
    plain = preprocess(zero, MNIST_BOX)
    narrow = preprocess(zero)
    assert StrokeStyle().narrow < 1.0
    (plain_h, plain_w), (narrow_h, narrow_w) = ink_box(plain), ink_box(narrow)
    assert narrow_h == plain_h
    assert abs(narrow_w - StrokeStyle().narrow * plain_w) <= 1.0
    cy, cx = centre_of_mass(narrow)
    assert abs(cy - CENTRE) <= 0.5 and abs(cx - CENTRE) <= 0.5
    assert narrow[:, :2].max() == 0.0 and narrow[:, -2:].max() == 0.0


def test_network_pen_is_the_pen_of_the_28x28_in_drawing_units() -> None:
    """What the canvas shows the ink with: the fixed 2.6 px pen of the 20 px box, mapped
    back to the drawing (so proportional to the digit's size), None for no ink."""
    style = StrokeStyle()
    bar = Drawing(280, 280, [[(140.0, 40.0), (140.0, 240.0)]])
    assert network_pen(bar) == pytest.approx(style.pen28 * 200.0 / (BOX - style.pen28))
    small = Drawing(280, 280, [[(140.0, 120.0), (140.0, 160.0)]])
    assert network_pen(small) == pytest.approx(network_pen(bar) / 5.0)
    # on a canvas twice the size, the same digit drawn twice as big: twice the pen
    big_canvas = Drawing(560, 560, [[(280.0, 80.0), (280.0, 480.0)]])
    assert network_pen(big_canvas) == pytest.approx(2.0 * network_pen(bar))
    assert network_pen(Drawing(280, 280, [])) is None
    dot = network_pen(Drawing(280, 280, [[(50.0, 50.0)]]))
    assert dot is not None and 0.0 < dot < 1.0  # a dot has no size to follow


# --------------------------------------------------------------------------- speed-ups


def test_the_input_is_what_it_was_before_the_renderer_was_made_faster(
    unipen_dir: Path,
) -> None:
    """The bundled model's figures were measured on these inputs: making ``preprocess``
    cheaper (issue 12) must not change them. The reference was made by the commit before
    (ad473a3) from the bundled samples and five unipen-dev drawings, both centrings."""
    from drawdigit.store import resource_path

    reference = np.load(Path(__file__).parent / "data" / "preprocess_before_issue12.npz")
    assert len(reference.files) == 20
    for name in reference.files:
        file, _, centring = name.partition(" ")
        if file.startswith("digit-"):
            drawing = load_drawing(resource_path("samples", file))
        else:
            drawing = load_drawing(unipen_dir / file)
        style = StrokeStyle(centring=centring or "subpixel")
        np.testing.assert_allclose(preprocess(drawing, style), reference[name], rtol=0, atol=1e-6)


def _dense_rasterise(strokes: list[np.ndarray], pen: float, edge: float) -> np.ndarray:
    """The renderer's definition, written the slow, obvious way: every pixel against every
    segment, each pixel's coverage the largest any segment gives (float32 as the renderer)."""
    import drawdigit.preprocess as pre

    starts, ends = pre._segments([pre._resample(s, 1.0) for s in strokes])
    a, b = starts.astype(np.float32), ends.astype(np.float32)
    d = b - a
    rows, cols = np.mgrid[0:28, 0:28].astype(np.float32)
    apx = cols[None] - a[:, 0, None, None]
    apy = rows[None] - a[:, 1, None, None]
    dx, dy = d[:, 0, None, None], d[:, 1, None, None]
    t = np.clip((apx * dx + apy * dy) / (dx * dx + dy * dy + np.float32(1e-12)), 0, 1)
    distance = np.sqrt((apx - t * dx) ** 2 + (apy - t * dy) ** 2)
    ramp = (np.float32(pen / 2 + edge / 2) - distance) / np.float32(edge)
    return np.clip(ramp, 0, 1).max(axis=0)


def test_the_renderer_gives_what_its_definition_gives(unipen_dir: Path) -> None:
    """The renderer computes distances on a small square per segment and applies the ramp
    once per pixel to the nearest distance (issue 12); on 1,000 real drawings placed in the
    field it gives what every pixel against every segment gives."""
    files = sorted(unipen_dir.glob("*.json"))[:1000]
    assert len(files) == 1000
    worst = 0.0
    for file in files:
        drawing = load_drawing(file)
        points = np.concatenate([np.asarray(s, dtype=np.float64) for s in drawing.strokes if s])
        low, high = points.min(axis=0), points.max(axis=0)
        scale = 17.4 / max(float((high - low).max()), 1e-9)
        strokes = [
            (np.asarray(s, dtype=np.float64) - (low + high) / 2) * scale + CENTRE
            for s in drawing.strokes
            if s
        ]
        fast = rasterise(strokes, 2.6, edge=2.5)
        worst = max(worst, float(np.abs(fast - _dense_rasterise(strokes, 2.6, 2.5)).max()))
    assert worst <= 1e-6


def test_the_budget_shortcut_agrees_with_measuring_the_path(drawings: list[Drawing]) -> None:
    """A drawing with few points fits the exact renderer's budget without its path being
    measured (the box's extent bounds every segment); where the bound says so, measuring
    says so too, and where the bound cannot tell, measuring decides."""
    import drawdigit.preprocess as pre

    decided = []
    for drawing in drawings:
        flat, lengths = pre._as_arrays(drawing)
        extent = float((flat.max(axis=0) - flat.min(axis=0)).max())
        for scale in (BOX / extent, 10 * BOX / extent, 1e4 * BOX / extent):
            measured = pre._fits_exact_budget(flat, lengths, scale, 1.0)
            assert pre._fits_exact_budget(flat, lengths, scale, 1.0, extent) == measured
            decided.append(measured)
    assert set(decided) == {True, False}  # both answers were exercised


def test_a_file_is_read_once_and_still_refused_clearly(
    drawings: list[Drawing], tmp_path: Path, monkeypatch
) -> None:
    """``read_source`` opens a file once and reads a strokes file on from its first bytes
    (issue 12): the drawing is the one ``load_drawing`` reads, and a folder, a missing
    file, a strokes file over the cap or broken JSON each get their clear message."""
    import drawdigit.preprocess as pre
    import drawdigit.strokes as strokes_module

    path = tmp_path / "drawing.txt"
    save_drawing(path, drawings[0])
    assert pre.read_source(path) == load_drawing(path)
    with pytest.raises(ImageError, match="it is a folder"):
        pre.read_source(tmp_path)
    with pytest.raises(ImageError, match="no such file"):
        pre.read_source(tmp_path / "missing.json")
    (tmp_path / "broken.json").write_text('{"width": 280, "strokes": [[')
    with pytest.raises(StrokesError, match="broken.json: not a strokes file"):
        pre.read_source(tmp_path / "broken.json")
    monkeypatch.setattr(pre, "MAX_FILE_BYTES", 100)
    monkeypatch.setattr(strokes_module, "MAX_FILE_BYTES", 100)
    with pytest.raises(StrokesError, match="too large"):
        pre.read_source(path)

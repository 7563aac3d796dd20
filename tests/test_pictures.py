"""Pictures of a digit (photos, scans, paint programs) reach the network like a clean drawing.

Every picture is made here: a digit drawn with Pillow, then put on dim, coloured, shadowed
or cut-off paper, turned under an EXIF tag, made huge or a decompression bomb. The clean
picture's 28x28 input is the reference the spoiled ones must come back to.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from drawdigit.pictures import (
    WORK_SIDE,
    ImageError,
    clean_ink,
    digit_ink,
    ink_strength,
    read_picture,
    work_gray,
)
from drawdigit.pictures.placing import to_field
from drawdigit.preprocess import CENTRE, load_image, normalise_image, preprocess

# A "4" and a "7" in a 100x100 box: asymmetric, so a wrong orientation cannot pass.
FOUR = [[(62, 8), (14, 66), (88, 66)], [(62, 8), (62, 94)]]
SEVEN = [[(14, 12), (84, 12), (42, 94)]]


def digit_layer(
    size: tuple[int, int], strokes, pen: float, box: tuple[int, int, int]
) -> np.ndarray:
    """Ink coverage (H, W) in [0, 1]: ``strokes`` scaled into the square ``box`` = (x, y, side)."""
    x0, y0, side = box
    layer = Image.new("L", size, 0)
    draw = ImageDraw.Draw(layer)
    for stroke in strokes:
        points = [(x0 + x * side / 100, y0 + y * side / 100) for x, y in stroke]
        draw.line(points, fill=255, width=max(1, round(pen)))
        if pen > 2:
            r = pen / 2
            for x, y in points:
                draw.ellipse([x - r, y - r, x + r, y + r], fill=255)
    return np.asarray(layer, np.float32) / 255.0


def on_paper(layer: np.ndarray, paper=(1.0, 1.0, 1.0), ink=(0.0, 0.0, 0.0)) -> np.ndarray:
    """RGB uint8: ``ink`` where the layer is, ``paper`` elsewhere."""
    a = layer[..., None]
    rgb = np.array(paper, np.float32) * (1 - a) + np.array(ink, np.float32) * a
    return (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


@pytest.fixture(scope="module")
def clean() -> dict[str, np.ndarray]:
    """The reference 28x28 inputs: black 8 px strokes on white, 400x400."""
    return {
        name: preprocess(on_paper(digit_layer((400, 400), strokes, 8, (100, 100, 200))))
        for name, strokes in (("four", FOUR), ("seven", SEVEN))
    }


# EXIF orientation -> the turn that, applied to upright pixels, makes a file that the tag
# turns upright again (Pillow's exif_transpose applies the inverse of these).
STORED = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


@pytest.mark.parametrize("tag", sorted(STORED))
def test_every_exif_orientation_reads_upright(tag: int, tmp_path: Path) -> None:
    upright = on_paper(digit_layer((300, 200), SEVEN, 8, (60, 40, 150)), paper=(0.9, 0.9, 0.85))
    stored = Image.fromarray(upright)
    if STORED[tag] is not None:
        stored = stored.transpose(STORED[tag])
    exif = Image.Exif()
    exif[0x0112] = tag
    path = tmp_path / f"tag{tag}.png"
    stored.save(path, exif=exif.tobytes())
    picture = read_picture(path)
    assert np.array_equal(picture.rgb, upright)  # what the window shows
    assert picture.gray.shape == (200, 300)
    assert np.array_equal(preprocess(picture.gray), preprocess(upright))


def test_light_ink_on_dark_paper_equals_dark_on_light(clean) -> None:
    layer = digit_layer((400, 400), FOUR, 8, (100, 100, 200))
    light_on_dark = preprocess(on_paper(layer, paper=(0.05,) * 3, ink=(0.95,) * 3))
    assert correlation(light_on_dark, clean["four"]) > 0.98


def test_dim_paper_is_still_paper(clean) -> None:
    """Paper at 40% gray (a photo taken in a dim room) is not light ink on dark paper."""
    layer = digit_layer((400, 400), FOUR, 8, (100, 100, 200))
    dim = on_paper(layer, paper=(0.4,) * 3, ink=(0.08,) * 3)
    out = preprocess(dim)
    assert out is not None and correlation(out, clean["four"]) > 0.98
    # the old reading (median of the border > 0.5 means paper) took the paper for ink
    assert out[0, 0] == 0.0 and out.mean() < 0.25


def test_shadow_touching_the_border_is_not_ink(clean) -> None:
    h = w = 600
    layer = digit_layer((w, h), SEVEN, 10, (250, 150, 260))
    rgb = on_paper(layer, paper=(0.92, 0.92, 0.9), ink=(0.1, 0.1, 0.15)).astype(np.float32)
    shadow = Image.new("L", (w, h), 0)
    ImageDraw.Draw(shadow).polygon([(0, 0), (220, 0), (160, h), (0, h)], fill=255)
    shade = np.asarray(shadow.filter(ImageFilter.GaussianBlur(12)), np.float32) / 255
    rgb *= (1 - 0.55 * shade)[..., None]
    out = preprocess(rgb.astype(np.uint8))
    assert correlation(out, clean["seven"]) > 0.95


def test_paper_edge_and_table_are_dropped(clean) -> None:
    h, w = 500, 600
    layer = digit_layer((w, h), FOUR, 9, (160, 120, 240))
    rgb = on_paper(layer, paper=(0.95, 0.93, 0.88), ink=(0.05, 0.05, 0.1))
    rgb[:, 500:] = (70, 55, 40)  # the table beyond the sheet's right edge
    rgb[440:, :] = (70, 55, 40)  # and below it
    rgb[:, 497:500] = (150, 150, 150)  # the sheet's shaded edge
    out = preprocess(rgb)
    assert correlation(out, clean["four"]) > 0.95


@pytest.mark.parametrize(
    "paper, ink",
    [
        ((1.0, 0.78, 0.84), (0.75, 0.1, 0.12)),  # red ink on pink paper
        ((0.98, 0.92, 0.45), (0.12, 0.18, 0.6)),  # blue ink on a yellow note
        ((0.6, 0.72, 0.92), (0.1, 0.12, 0.35)),  # dark blue ink on a blue note
    ],
)
def test_coloured_ink_on_coloured_paper(paper, ink, clean) -> None:
    layer = digit_layer((400, 400), FOUR, 8, (100, 100, 200))
    out = preprocess(on_paper(layer, paper=paper, ink=ink))
    assert correlation(out, clean["four"]) > 0.98


def test_ruled_and_squared_paper(clean) -> None:
    layer = digit_layer((500, 500), FOUR, 8, (150, 150, 200))
    lines = np.zeros((500, 500), np.float32)
    lines[::25, :] = lines[:, ::25] = 0.5  # squared paper, lines half as dark as the ink
    out = preprocess(on_paper(np.maximum(layer, lines), ink=(0.1, 0.2, 0.5)))
    assert correlation(out, clean["four"]) > 0.93


def test_a_one_pixel_line_gets_mnist_weight(clean) -> None:
    """A hairline in a large picture reaches the network as thick as a drawn stroke."""
    thin = preprocess(on_paper(digit_layer((1200, 1200), FOUR, 1, (300, 300, 600))))
    assert correlation(thin, clean["four"]) > 0.9
    ink, reference = float((thin > 0.5).sum()), float((clean["four"] > 0.5).sum())
    assert 0.7 < ink / reference < 1.4


def test_a_fat_marker_is_thinned(clean) -> None:
    fat = preprocess(on_paper(digit_layer((400, 400), FOUR, 40, (100, 100, 200))))
    assert correlation(fat, clean["four"]) > 0.9
    assert (fat > 0.5).sum() < 1.5 * (clean["four"] > 0.5).sum()


def test_a_huge_photo_is_reduced_first(tmp_path: Path, clean) -> None:
    layer = digit_layer((6000, 4500), FOUR, 30, (1800, 1200, 2000))
    path = tmp_path / "huge.jpg"
    Image.fromarray(on_paper(layer, paper=(0.9, 0.9, 0.88))).save(path, quality=85)
    picture = read_picture(path)
    # decoded at 1/8 size straight from the JPEG (the smallest that keeps WORK_SIDE/2)
    assert picture.rgb.shape[:2] == (563, 750) and max(picture.rgb.shape) <= WORK_SIDE
    assert correlation(preprocess(picture.gray), clean["four"]) > 0.95
    assert correlation(normalise_image(np.asarray(Image.open(path))), clean["four"]) > 0.95


def test_a_decompression_bomb_is_refused_with_a_message(tmp_path: Path) -> None:
    """A tiny file that would decode to over twice Pillow's pixel limit (~180 million)."""
    side = int((2 * Image.MAX_IMAGE_PIXELS) ** 0.5) + 100
    path = tmp_path / "bomb.png"
    Image.new("1", (side, side), 1).save(path, optimize=True)
    assert path.stat().st_size < 1_000_000
    with pytest.raises(ImageError, match="too large") as info:
        load_image(path)
    assert str(path) in str(info.value)


def test_no_digit_gives_none() -> None:
    paper = np.full((300, 400, 3), (250, 230, 120), np.uint8)  # a blank yellow note
    assert preprocess(paper) is None
    rng = np.random.default_rng(1)
    noise = np.clip(rng.normal(150, 4, (300, 400)), 0, 255).astype(np.uint8)
    assert preprocess(noise) is None


def test_output_is_centred_and_boxed(clean) -> None:
    out = clean["seven"]
    index = np.arange(28)
    mass = out.sum()
    assert abs(out.sum(axis=1) @ index / mass - CENTRE) < 0.1
    assert abs(out.sum(axis=0) @ index / mass - CENTRE) < 0.1
    rows = np.flatnonzero((out > 0.2).any(axis=1))
    assert 18 <= rows[-1] - rows[0] + 1 <= 23


def test_a_clean_drawing_skips_the_photo_cleaning_and_reads_the_same() -> None:
    """A paint program's drawing (one exact paper tone, nothing at the border) takes the
    short path; its input is the one the full cleaning gives (but for the paper's level that
    the cleaning estimates block by block). A photo never does."""
    for paper, ink in (((1.0,) * 3, (0.0,) * 3), ((0.0,) * 3, (1.0,) * 3)):
        drawing = on_paper(digit_layer((280, 280), FOUR, 18, (40, 40, 200)), paper, ink)
        gray = work_gray(drawing)
        assert clean_ink(gray) is not None
        full = to_field(digit_ink(ink_strength(gray)))
        assert correlation(preprocess(drawing), full) > 0.99
    rng = np.random.default_rng(0)
    noisy = drawing.astype(np.float32) + rng.normal(0, 3, drawing.shape)
    assert clean_ink(work_gray(np.clip(noisy, 0, 255).astype(np.uint8))) is None
    touching = on_paper(digit_layer((280, 280), FOUR, 18, (-30, 40, 200)))  # cut at the left
    assert clean_ink(work_gray(touching)) is None
    assert preprocess(np.full((50, 50), 255, np.uint8)) is None  # clean, and no digit


def test_only_pictures_import_scipy(tmp_path: Path) -> None:
    """``import scipy.ndimage`` costs ~0.4 s (1.3-1.8 s on a busy machine): predicting a
    strokes file never pays it; a photo does (so the check can see it)."""
    from test_no_torch import SAMPLE, imported_modules

    names, out = imported_modules(["predict", str(SAMPLE)], tmp_path)
    assert "scipy" not in names and out.startswith(f"{SAMPLE}: 3 ")
    layer = digit_layer((300, 300), SEVEN, 8, (50, 50, 200))
    noisy = on_paper(layer, paper=(0.9, 0.88, 0.8)).astype(np.float32)
    noisy += np.random.default_rng(0).normal(0, 4, noisy.shape)
    photo = tmp_path / "photo.png"
    Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(photo)
    names, out = imported_modules(["predict", str(photo)], tmp_path)
    assert "scipy" in names and out.startswith(f"{photo}: 7 ")


def test_a_shadow_edge_across_the_digit_is_not_a_stroke(clean) -> None:
    """A sharp shadow across the whole sheet, through the middle of the digit: the half in
    shadow keeps its strokes and the edge itself is not read as a bar."""
    h, w = 500, 600
    layer = digit_layer((w, h), FOUR, 3, (200, 130, 240))
    rgb = on_paper(layer, paper=(0.93, 0.92, 0.88), ink=(0.35, 0.35, 0.38)).astype(np.float32)
    shadow = Image.new("L", (w, h), 0)
    ImageDraw.Draw(shadow).polygon([(0, 240), (w, 270), (w, h), (0, h)], fill=255)
    shade = np.asarray(shadow.filter(ImageFilter.GaussianBlur(3)), np.float32) / 255
    rgb *= (1 - 0.5 * shade)[..., None]
    noisy = rgb + np.random.default_rng(2).normal(0, 3, rgb.shape)
    out = preprocess(np.clip(noisy, 0, 255).astype(np.uint8))
    assert out is not None and correlation(out, clean["four"]) > 0.9


# --------------------------------------------------------------------------- paper photos
# Phone photos of a digit on squared paper, cropped tightly, drawn with a fat marker, and
# of paper with no digit at all, answered through the decision the app gives (segment.cut
# and the bundled network with its digit-ness head).


@pytest.fixture(scope="module")
def decider():
    from drawdigit.decide import load_decider
    from drawdigit.inference import load_predictor
    from drawdigit.store import bundled_model_path

    predictor, _ = load_predictor(bundled_model_path())
    made, warnings = load_decider(predictor)
    assert warnings == [] and made.digitness is not None
    return made


def sample_strokes(digit: int) -> list[np.ndarray]:
    """A bundled sample drawing of ``digit`` as point arrays (x, y)."""
    from drawdigit.store import resource_path
    from drawdigit.strokes import load_drawing

    drawing = load_drawing(resource_path("samples", f"digit-{digit}.json"))
    return [np.asarray(s, np.float64) for s in drawing.strokes if s]


def pen_layer(size: tuple[int, int], strokes, pen: float, box: tuple[float, float, float]):
    """Ink coverage (H, W) in [0, 1]: ``strokes`` scaled so their taller side is ``box[2]``
    px, from (box[0], box[1]), drawn with a round pen ``pen`` px wide."""
    points = np.concatenate(strokes)
    low, high = points.min(axis=0), points.max(axis=0)
    scale = box[2] / max(high - low)
    layer = Image.new("L", size, 0)
    draw = ImageDraw.Draw(layer)
    r = pen / 2
    for stroke in strokes:
        xy = [(box[0] + (x - low[0]) * scale, box[1] + (y - low[1]) * scale) for x, y in stroke]
        draw.line(xy, fill=255, width=max(1, round(pen)))
        for x, y in xy:
            draw.ellipse([x - r, y - r, x + r, y + r], fill=255)
    return np.asarray(layer, np.float32) / 255.0


def squared_paper(size: tuple[int, int], pitch: float, grey: float = 0.6) -> np.ndarray:
    """A grid's coverage (H, W) in [0, 1]: lines 1.5 px wide every ``pitch`` px, ``grey``
    as dark as black ink."""
    w, h = size
    lines = Image.new("L", size, 0)
    draw = ImageDraw.Draw(lines)
    for k in range(int(w / pitch) + 1):
        draw.line([(7 + k * pitch, 0), (7 + k * pitch, h)], fill=255, width=2)
    for k in range(int(h / pitch) + 1):
        draw.line([(0, 5 + k * pitch), (w, 5 + k * pitch)], fill=255, width=2)
    return np.asarray(lines, np.float32) / 255.0 * (1.0 - grey)


def phone_photo(rgb: np.ndarray, seed: int, angle: float = 3.0, light: float = 0.25):
    """``rgb`` (uint8) as a phone sees it: a light gradient, turned by ``angle`` degrees and
    seen a little from one side, blurred, noisy, JPEG-compressed."""
    import io

    h, w = rgb.shape[:2]
    ramp = np.linspace(1.0, 1.0 - light, w, dtype=np.float32)[None, :, None]
    image = Image.fromarray((rgb.astype(np.float32) * ramp).astype(np.uint8))
    image = image.rotate(angle, Image.Resampling.BILINEAR, fillcolor=(90, 80, 70))
    tilt = (1.0, 0.02, 0.0, 0.0, 1.0, 0.0, 0.00004, 0.0)
    image = image.transform((w, h), Image.Transform.PERSPECTIVE, tilt, Image.Resampling.BILINEAR)
    image = image.filter(ImageFilter.GaussianBlur(0.8))
    noisy = np.asarray(image, np.float32) + np.random.default_rng(seed).normal(0, 4, (h, w, 3))
    buffer = io.BytesIO()
    Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=80)
    return np.asarray(Image.open(buffer).convert("RGB"))


@pytest.mark.parametrize("digit", [6, 3])
def test_a_digit_on_squared_paper_is_read_and_the_grid_never_is(decider, digit: int) -> None:
    """A ballpoint digit two squares tall on grey 5 mm squared paper (a grid as dark as the
    ink's half), photographed at an angle: the network reads the digit, not a grid line
    (the old cleaning kept one line: "1, 100%"), nor the digit merged with the grid."""
    size = (640, 480)
    ink = pen_layer(size, sample_strokes(digit), 3.0, (280, 150, 150))
    grid = squared_paper(size, pitch=72.0)
    rgb = on_paper(np.maximum(ink, grid), paper=(0.96, 0.96, 0.94), ink=(0.1, 0.12, 0.3))
    decision = decider.decide(phone_photo(rgb, seed=digit))
    assert (decision.kind, decision.digit) == ("digit", digit)
    # what the model saw is the digit alone: no grid line reaches the edge of its 28x28
    seen = decision.whole.image28
    assert seen[:, 0].max() < 0.2 and seen[:, -1].max() < 0.2


def test_a_grid_alone_and_a_blank_page_with_a_shadow_are_no_sure_digit(decider) -> None:
    """Squared paper with nothing on it, a blank page across which a hard shadow falls, and
    one with a soft shadow in a corner: never a sure digit or number (the rim of a shadow,
    a grid line and the sheet's edge are straight bars a network reads as a sure 1)."""
    size = (640, 480)
    grid = on_paper(squared_paper(size, pitch=40.0), paper=(0.95, 0.95, 0.92))
    blank = np.full((480, 640, 3), 240, np.uint8)
    shade = Image.new("L", size, 0)
    ImageDraw.Draw(shade).polygon([(0, 0), (260, 0), (200, 480), (0, 480)], fill=255)
    hard = np.asarray(shade.filter(ImageFilter.GaussianBlur(1.5)), np.float32)[..., None] / 255
    soft = np.asarray(shade.filter(ImageFilter.GaussianBlur(30)), np.float32)[..., None] / 255
    pictures = [
        grid,
        (blank * (1 - 0.45 * hard)).astype(np.uint8),
        (blank * (1 - 0.4 * soft)).astype(np.uint8),
    ]
    for seed, rgb in enumerate(pictures):
        decision = decider.decide(phone_photo(rgb, seed=seed, angle=2.0))
        assert decision.kind not in ("digit", "number"), (seed, decision.kind, decision.digit)


@pytest.mark.parametrize(
    "digit, pen, ink",
    [(3, 16.0, (0.05, 0.05, 0.05)), (5, 16.0, (0.05, 0.05, 0.05)), (0, 32.0, (0.1, 0.2, 0.7))],
)
def test_a_digit_touching_all_four_edges_is_read(decider, digit: int, pen: float, ink) -> None:
    """A clear digit cropped so tightly that its strokes touch (and are cut by) all four
    edges of the picture: a 3 and a 5 in black felt pen, a 0 in a fat blue marker, with a
    stray dot of ink beside the digit and a phone camera's darker corners. (The old cleaning
    took what touches the border for the sheet's edge and read the dot, or nothing:
    "empty", "not a digit".)"""
    size = (400, 400)
    layer = pen_layer(size, sample_strokes(digit), pen, (100, 60, 280))
    rows = np.flatnonzero(layer.max(axis=1) > 0.5)
    cols = np.flatnonzero(layer.max(axis=0) > 0.5)
    cut = 4  # px cut off each side: every edge crosses a stroke
    crop = layer[rows[0] + cut : rows[-1] - cut, cols[0] + cut : cols[-1] - cut]
    assert crop[0].max() > 0.5 and crop[-1].max() > 0.5
    assert crop[:, 0].max() > 0.5 and crop[:, -1].max() > 0.5
    h, w = crop.shape
    dot = Image.new("L", (w, h), 0)
    ImageDraw.Draw(dot).ellipse([w * 0.45, h * 0.45, w * 0.45 + 6, h * 0.45 + 6], fill=255)
    crop = np.maximum(crop, np.asarray(dot, np.float32) / 255.0)
    rgb = on_paper(crop, paper=(0.97, 0.97, 0.95), ink=ink).astype(np.float32)
    yy, xx = np.mgrid[0:h, 0:w]
    rgb *= (1.0 - 0.5 * (((yy - h / 2) / h) ** 2 + ((xx - w / 2) / w) ** 2))[..., None]
    decision = decider.decide(phone_photo(rgb.astype(np.uint8), seed=digit, angle=0.0, light=0.1))
    assert (decision.kind, decision.digit) == ("digit", digit)


def holes(image28: np.ndarray) -> int:
    """How many regions of paper the ink encloses (an 8 has two, a 0 one)."""
    from scipy import ndimage

    paper, count = ndimage.label(image28 < 0.3)
    border = set(np.concatenate([paper[0], paper[-1], paper[:, 0], paper[:, -1]]).tolist())
    return len(set(range(1, count + 1)) - border)


def test_a_fat_marker_8_keeps_both_loops(decider) -> None:
    """An 8 in a marker as wide as a fifth of its loops' height, photographed: its stroke
    comes out at MNIST's weight and both loops stay open."""
    size = (500, 500)
    layer = pen_layer(size, sample_strokes(8), 30.0, (120, 80, 340))
    rgb = on_paper(layer, paper=(0.95, 0.94, 0.9), ink=(0.05, 0.05, 0.1))
    photo = phone_photo(rgb, seed=8)
    seen = preprocess(photo)
    assert holes(seen) == 2
    decision = decider.decide(photo)
    assert (decision.kind, decision.digit) == ("digit", 8)
    assert holes(decision.whole.image28) == 2


def test_a_sheet_mostly_in_shadow_still_has_dark_ink(decider) -> None:
    """A hard shadow over two thirds of the sheet: the shadowed paper is the picture's
    median, and the lit third lies further above it than the ink below it; the ink is
    still read as dark on light paper (it was read as light ink on dark paper)."""
    from drawdigit.pictures.paper import ink_is_dark

    size = (640, 480)
    ink = pen_layer(size, sample_strokes(5), 3.0, (240, 120, 220))
    rgb = on_paper(ink, paper=(0.92, 0.92, 0.9), ink=(0.1, 0.1, 0.2)).astype(np.float32)
    shade = Image.new("L", size, 0)
    ImageDraw.Draw(shade).polygon([(200, 0), (640, 0), (640, 480), (240, 480)], fill=255)
    rgb *= (
        1
        - 0.5 * np.asarray(shade.filter(ImageFilter.GaussianBlur(1.5)), np.float32)[..., None] / 255
    )
    photo = phone_photo(rgb.astype(np.uint8), seed=5, angle=1.0, light=0.1)
    assert ink_is_dark(work_gray(photo))
    decision = decider.decide(photo)
    assert (decision.kind, decision.digit) == ("digit", 5)


@pytest.mark.parametrize("digit", [None, 5])
def test_the_sheets_straight_edge_is_no_sure_digit_nor_part_of_one(decider, digit) -> None:
    """A dark straight line near the picture's side (the sheet's edge against the table),
    alone or beside a digit in faint pencil: it is never answered a sure 1, and does not
    outshine the pencil (its darkness no longer sets the scale the digit is measured on)."""
    size = (640, 480)
    edge = Image.new("L", size, 0)
    ImageDraw.Draw(edge).line([(585, 110), (589, 400)], fill=255, width=3)
    layer = 0.9 * np.asarray(edge, np.float32) / 255.0
    if digit is not None:
        pencil = 0.35 * pen_layer(size, sample_strokes(digit), 2.0, (300, 130, 210))
        layer = np.maximum(layer, pencil)
    rgb = on_paper(layer, paper=(0.93, 0.93, 0.9), ink=(0.0, 0.0, 0.0))
    decision = decider.decide(phone_photo(rgb, seed=11, angle=0.0, light=0.1))
    if digit is None:
        assert decision.kind not in ("digit", "number"), (decision.kind, decision.digit)
    else:
        assert (decision.kind, decision.digit) == ("digit", digit)

"""Reading picture files: PNGs decoded a strip at a time, huge pictures within bounded memory.

The PNGs are made here byte by byte (every colour type and bit depth PNG has, every row
filtered by one of PNG's five filters at random), so that the strips are checked against
Pillow's own decoding of the whole file for everything a PNG can hold, and huge pictures
are written a row at a time without ever being in this process's memory.
"""

from __future__ import annotations

import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from drawdigit.pictures import ImageError, read_picture
from drawdigit.pictures.png_strips import PngStrips
from drawdigit.pictures.reading import DECODE_BUDGET, WORK_SIDE, reduced

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_large_pictures import write_huge_png  # noqa: E402  (rows written one at a time)

CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
# Every (bit depth, colour type) PNG allows.
KINDS = [(1, 0), (2, 0), (4, 0), (8, 0), (16, 0), (8, 2), (16, 2), (1, 3), (2, 3), (4, 3)]
KINDS += [(8, 3), (8, 4), (16, 4), (8, 6), (16, 6)]


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def filtered(raw: bytes, previous: bytes, kind: int, bpp: int) -> bytes:
    """One row filtered with PNG filter ``kind`` (0 None, 1 Sub, 2 Up, 3 Average, 4 Paeth)."""
    out = bytearray(len(raw))
    for i, value in enumerate(raw):
        a = raw[i - bpp] if i >= bpp else 0
        b = previous[i]
        c = previous[i - bpp] if i >= bpp else 0
        guess = (0, a, b, (a + b) // 2, _paeth(a, b, c))[kind]
        out[i] = (value - guess) & 255
    return bytes(out)


def packed(samples: np.ndarray, depth: int) -> bytes:
    """One row of samples as PNG stores them: big-endian 16-bit, bytes, or bits MSB first."""
    if depth == 16:
        return samples.astype(">u2").tobytes()
    if depth == 8:
        return samples.astype(np.uint8).tobytes()
    per = 8 // depth
    padded = np.zeros(-(-samples.size // per) * per, np.int64)
    padded[: samples.size] = samples
    shifts = np.arange(per - 1, -1, -1) * depth
    return (padded.reshape(-1, per) << shifts).sum(axis=1).astype(np.uint8).tobytes()


def png_bytes(
    size: tuple[int, int],
    depth: int,
    colour: int,
    rng: np.random.Generator,
    *,
    exif: bytes | None = None,
) -> bytes:
    """A PNG of random samples, each row under a random filter; palette pictures get a
    random palette and a transparency chunk; ``exif`` goes after the image data."""
    w, h = size
    bits = depth * CHANNELS[colour]
    bpp = max(1, bits // 8)
    previous = bytes((w * bits + 7) // 8)
    rows = []
    for _ in range(h):
        raw = packed(rng.integers(0, 1 << depth, size=w * CHANNELS[colour]), depth)
        kind = int(rng.integers(0, 5))
        rows.append(bytes([kind]) + filtered(raw, previous, kind, bpp))
        previous = raw
    out = b"\x89PNG\r\n\x1a\n" + chunk(
        b"IHDR", struct.pack(">IIBBBBB", w, h, depth, colour, 0, 0, 0)
    )
    if colour == 3:
        out += chunk(b"PLTE", rng.integers(0, 256, 3 << depth, dtype=np.uint8).tobytes())
        out += chunk(b"tRNS", bytes([0, 128]))
    data = zlib.compress(b"".join(rows))
    for start in range(0, len(data), 777):  # several IDAT chunks
        out += chunk(b"IDAT", data[start : start + 777])
    if exif is not None:
        out += chunk(b"eXIf", exif)
    return out + chunk(b"IEND", b"")


@pytest.mark.parametrize(("depth", "colour"), KINDS)
def test_a_png_read_in_strips_is_what_pillow_decodes_whole(tmp_path, depth, colour) -> None:
    """Strips of 4 rows, each after the first starting from the row above it as PNG's
    filters need it, give exactly the rows of Pillow's whole decoding."""
    rng = np.random.default_rng(depth * 10 + colour)
    path = tmp_path / "random.png"
    path.write_bytes(png_bytes((37, 29), depth, colour, rng))
    with Image.open(path) as whole:
        whole.load()
        with open(path, "rb") as file:
            strips = list(PngStrips(file).strips(4))
        assert [s.height for s in strips] == [4] * 7 + [1]
        assert {s.mode for s in strips} == {whole.mode}
        for k, strip in enumerate(strips):
            expected = whole.crop((0, 4 * k, 37, 4 * k + strip.height))
            assert np.array_equal(np.asarray(strip), np.asarray(expected)), f"strip {k}"


def _reference(path: Path, mode: str) -> np.ndarray:
    """How a picture was read before strips: decoded whole, converted, then reduced."""
    with Image.open(path) as image:
        return np.asarray(reduced(image.convert(mode)))


@pytest.mark.parametrize(("depth", "colour", "mode"), [(8, 2, "RGB"), (16, 0, "F"), (8, 3, "RGBA")])
def test_a_large_png_reads_as_it_did_decoded_whole(tmp_path, depth, colour, mode) -> None:
    """A PNG over WORK_SIDE, read a strip at a time, is reduced to the very same numbers as
    the whole picture converted and reduced by Pillow (with transparency: premultiplied)."""
    rng = np.random.default_rng(colour)
    path = tmp_path / "large.png"
    path.write_bytes(png_bytes((1301, 2087), depth, colour, rng))
    picture = read_picture(path)
    reference = _reference(path, mode)
    assert picture.rgb.shape[:2] == reference.shape[:2] == (WORK_SIDE, 638)
    if mode == "RGB":
        assert np.array_equal(picture.rgb, reference)
    elif mode == "F":
        top = float(reference.max())
        assert np.array_equal(picture.gray, np.clip(reference / max(top, 1.0), 0.0, 1.0))
    else:
        assert np.array_equal(picture.rgb, read_picture_whole(reference))


def read_picture_whole(rgba: np.ndarray) -> np.ndarray:
    """The colours ``read_picture`` shows for reduced RGBA: composited on paper that
    contrasts with the ink (as it was computed before strips)."""
    colour = rgba[..., :3].astype(np.float32) / 255.0
    alpha = rgba[..., 3:].astype(np.float32) / 255.0
    luma = colour @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    paper = 1.0 if float((luma * alpha[..., 0]).sum() / alpha.sum()) < 0.5 else 0.0
    return ((colour * alpha + paper * (1.0 - alpha)) * 255.0 + 0.5).astype(np.uint8)


@pytest.mark.parametrize("fmt", ["TIFF", "GIF", "WEBP"])
def test_other_large_pictures_read_as_they_did(tmp_path, fmt) -> None:
    """Formats decoded whole, then converted and reduced a strip at a time: the same
    numbers as converting and reducing the whole picture."""
    rng = np.random.default_rng(5)
    path = tmp_path / f"large.{fmt.lower()}"
    Image.fromarray(rng.integers(0, 256, (1700, 2300, 3), dtype=np.uint8)).save(path, fmt)
    assert np.array_equal(read_picture(path).rgb, _reference(path, "RGB"))


def test_an_orientation_after_the_image_data_turns_a_large_png(tmp_path) -> None:
    """PNG may put its eXIf chunk after the image data: a picture read in strips still
    comes out upright (tag 6: stored turned a quarter to the left)."""
    upright = np.full((1400, 1100, 3), 255, np.uint8)
    upright[:200, :200] = (200, 0, 0)  # a red top-left corner
    stored = np.ascontiguousarray(np.rot90(upright, 1))  # turned left, as a phone stores it
    exif = Image.Exif()
    exif[0x0112] = 6
    rows = b"".join(b"\x00" + row.tobytes() for row in stored)
    h, w = stored.shape[:2]
    data = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"eXIf", exif.tobytes())
        + chunk(b"IEND", b"")
    )
    path = tmp_path / "turned.png"
    path.write_bytes(data)
    rgb = read_picture(path).rgb
    assert rgb.shape[:2] == (WORK_SIDE, round(1100 * WORK_SIDE / 1400))
    assert tuple(rgb[20, 20]) == (200, 0, 0) and tuple(rgb[-20, -20]) == (255, 255, 255)


@pytest.mark.parametrize("damage", ["cut short", "bad checksum"])
def test_a_damaged_large_png_is_refused_with_a_message(tmp_path, damage) -> None:
    data = png_bytes((1100, 1200), 8, 0, np.random.default_rng(1))
    if damage == "cut short":
        data = data[: len(data) // 2]
    else:
        start = data.index(b"IDAT") + 100
        data = data[:start] + bytes([data[start] ^ 1]) + data[start + 1 :]
    path = tmp_path / "damaged.png"
    path.write_bytes(data)
    with pytest.raises(ImageError, match="damaged or unreadable image"):
        read_picture(path)


# The child's own peak: /proc's VmHWM belongs to the process image (Linux keeps ru_maxrss
# across exec, so a child of a large process, such as pytest, would report its parent's).
PEAK_RSS = """
import resource, sys, warnings
warnings.simplefilter("ignore")  # Pillow's decompression-bomb warning
from drawdigit.pictures import read_picture
picture = read_picture(sys.argv[1])
h, w = picture.gray.shape
middle = picture.gray[h // 2, w // 2 - 2 : w // 2 + 3].max()
try:
    kb = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
except OSError:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(kb, h, w, round(float(middle), 2))
"""


def peak_rss(path: Path) -> tuple[int, tuple[int, int], float]:
    """Peak resident memory (bytes) of a fresh process that reads ``path``, the shape it
    read and the gray at the middle of the picture."""
    out = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, str(path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout.split()
    return int(out[0]) * 1024, (int(out[1]), int(out[2])), float(out[3])


@pytest.mark.parametrize("channels", [3, 4])
def test_a_huge_png_is_read_in_memory_bounded_by_its_strips(tmp_path, channels) -> None:
    """A 12000 x 12000 colour PNG (576 MB in Pillow's memory decoded whole) is read within
    a few strips' worth more than a 1200 x 1200 one: the bound does not grow with it."""
    small, huge = tmp_path / "small.png", tmp_path / "huge.png"
    write_huge_png(small, 1200, channels)
    write_huge_png(huge, 12000, channels)
    base, shape, ink = peak_rss(small)
    assert shape == (1024, 1024) and ink < 0.2
    peak, shape, ink = peak_rss(huge)
    assert shape == (1024, 1024) and ink < 0.2  # the bar, read
    assert peak - base < 64_000_000, f"{(peak - base) / 1e6:.0f} MB more for the huge one"


def test_a_picture_too_large_to_decode_whole_is_refused_before_decoding(tmp_path) -> None:
    """A BMP (no way to decode part of it here) whose colour would take more than
    DECODE_BUDGET decoded: refused with a message, from its header alone."""
    path = tmp_path / "huge.bmp"
    Image.new("RGB", (8, 8), "white").save(path)
    data = bytearray(path.read_bytes())
    data[18:26] = struct.pack("<ii", 8000, 8000)  # BITMAPINFOHEADER: width, height
    path.write_bytes(bytes(data))
    assert DECODE_BUDGET < 8000 * 8000 * 4
    with pytest.raises(ImageError, match="too large to read") as info:
        read_picture(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_reading_a_large_picture_stops_between_strips_when_asked(tmp_path) -> None:
    """``check`` is called between strips: raising there stops the work (the window's
    reader does this when another file is opened or the window closes)."""
    path = tmp_path / "large.png"
    write_huge_png(path, 3000, 3)
    calls = []

    class Stop(Exception):
        pass

    def check() -> None:
        calls.append(1)
        if len(calls) == 2:
            raise Stop

    with pytest.raises(Stop):
        read_picture(path, check)
    assert len(calls) == 2
    assert read_picture(path).gray.shape == (1024, 1024)

"""A PNG decoded a strip of rows at a time, so that a huge one never lies whole in memory.

Pillow decodes a PNG into one image of its full size: 576 MB for a 12000 x 12000 colour
picture (it keeps 4 bytes a pixel), before any reduction. Pillow cannot decode part of a
PNG, but it decodes any small PNG exactly; so the file's image data is inflated here as a
stream (``zlib``), cut into strips of whole rows, and each strip is handed to Pillow as a
PNG of its own: the same header with the strip's height, the same palette and
transparency, and the strip's rows still filtered as the file has them. A row filtered
against the row above it (PNG's Up, Average and Paeth filters) needs that row's
unfiltered bytes: each strip after the first starts with the previous strip's last row,
unfiltered (``_raw_row``), which Pillow then reads with the strip and which is dropped.

Only what Pillow keeps of a pixel has to be right: of a 16-bit sample it keeps the high
byte, and PNG's filters work byte by byte on each byte of a pixel with the same byte of
its neighbours, so the high bytes unfilter right whatever the low bytes of the previous
row are (they are given as 0).

Interlaced PNGs (Adam7: seven passes over the picture, each a sub-image of its own) are not
read this way; ``reading`` decodes them whole, within its budget.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, BinaryIO

import numpy as np

if TYPE_CHECKING:
    from PIL.Image import Image

SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Samples per pixel of each PNG colour type: grey, RGB, palette, grey + alpha, RGBA.
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
# Compressed data is read and inflated this much at a time.
READ_BYTES = 1 << 16


class PngError(Exception):
    """The PNG's structure is damaged (a chunk cut short, a bad checksum, too few rows)."""


class PngStrips:
    """A non-interlaced PNG file read as strips of rows (``strips``), top to bottom.

    ``header`` holds what the file says of itself (width, height, bit depth, colour type,
    interlace); ``exif`` is the raw eXIf chunk wherever it lies in the file (before or
    after the image data), once ``strips`` has run to the end."""

    def __init__(self, file: BinaryIO) -> None:
        self._file = file
        if file.read(8) != SIGNATURE:
            raise PngError("not a PNG file")
        kind, data = self._chunk()
        if kind != b"IHDR" or len(data) != 13:
            raise PngError("the PNG does not start with its header")
        self.header = data
        w, h, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", data)
        if colour not in CHANNELS or w == 0 or h == 0:
            raise PngError("the PNG's header is not valid")
        self.width, self.height, self.depth, self.colour = w, h, depth, colour
        self.interlaced = interlace != 0
        self.row_bytes = 1 + (w * depth * CHANNELS[colour] + 7) // 8  # the filter byte first
        self.exif: bytes | None = None
        self._extra: list[tuple[bytes, bytes]] = []  # chunks each strip needs: PLTE, tRNS
        self._first: bytes | None = None  # the first IDAT's data, once reached
        while self._first is None:
            kind, data = self._chunk()
            if kind == b"IDAT":
                self._first = data
            elif kind in (b"PLTE", b"tRNS"):
                self._extra.append((kind, data))
            elif kind == b"eXIf":
                self.exif = data
            elif kind == b"IEND":
                raise PngError("the PNG holds no image data")

    def _chunk(self) -> tuple[bytes, bytes]:
        """The next chunk's type and data, its checksum checked."""
        head = self._file.read(8)
        if len(head) < 8:
            raise PngError("the PNG is cut short")
        length, kind = struct.unpack(">I4s", head)
        if length > 1 << 31:
            raise PngError("a PNG chunk is too long")
        data = self._file.read(length)
        crc = self._file.read(4)
        if len(data) < length or len(crc) < 4:
            raise PngError("the PNG is cut short")
        if zlib.crc32(kind + data) != struct.unpack(">I", crc)[0]:
            raise PngError(f"the PNG's {kind.decode('latin-1')} chunk is damaged")
        return kind, data

    def _compressed(self) -> Iterator[bytes]:
        """The image data, chunk after chunk, in pieces of at most READ_BYTES; then the
        chunks after it are read to the end (an eXIf may lie there)."""
        data = self._first or b""
        while True:
            for start in range(0, len(data), READ_BYTES):
                yield data[start : start + READ_BYTES]
            kind, data = self._chunk()
            if kind != b"IDAT":
                break
        while kind != b"IEND":
            if kind == b"eXIf":
                self.exif = data
            kind, data = self._chunk()

    def strips(self, rows: int, check: Callable[[], None] | None = None) -> Iterator[Image]:
        """The picture as Pillow images of ``rows`` rows each (the last may be shorter),
        top to bottom, in the mode Pillow opens the file in. ``check`` is called between
        strips (it may raise to stop)."""
        pending = bytearray()
        previous: bytes | None = None  # the last row above the strip, unfiltered
        done = 0
        for data in self._inflated():
            pending += data
            while done < self.height:
                count = min(rows, self.height - done)
                take = count * self.row_bytes
                if len(pending) < take:
                    break
                strip = self._decode(previous, bytes(pending[:take]), count)
                del pending[:take]
                done += count
                previous = _raw_row(strip, self.depth, self.colour)
                if check is not None:
                    check()
                yield strip
        if done < self.height:
            raise PngError(f"the PNG holds {done} of its {self.height} rows")

    def _inflated(self) -> Iterator[bytes]:
        """The image data inflated, at most 4 x READ_BYTES at a time (a piece of a blank
        picture inflates a thousandfold), then the chunks after it read to the end."""
        inflate = zlib.decompressobj()
        try:
            for piece in self._compressed():
                while piece:
                    yield inflate.decompress(piece, 4 * READ_BYTES)
                    piece = inflate.unconsumed_tail
            yield inflate.flush()
        except zlib.error as exc:
            raise PngError(f"the PNG's image data is damaged ({exc})") from exc

    def _decode(self, previous: bytes | None, filtered: bytes, count: int) -> Image:
        """One strip, decoded by Pillow from a PNG of its own (see the module docstring)."""
        from PIL import Image as PILImage

        height = count + (previous is not None)
        header = struct.pack(">II", self.width, height) + self.header[8:]
        data = filtered if previous is None else b"\x00" + previous + filtered
        chunks = [(b"IHDR", header), *self._extra, (b"IDAT", zlib.compress(data, 0))]
        body = io.BytesIO()
        body.write(SIGNATURE)
        for kind, payload in [*chunks, (b"IEND", b"")]:
            body.write(struct.pack(">I", len(payload)) + kind + payload)
            body.write(struct.pack(">I", zlib.crc32(kind + payload)))
        body.seek(0)
        with PILImage.open(body) as image:
            image.load()
            if previous is None:
                return image.copy()
            return image.crop((0, 1, self.width, height))


def _raw_row(strip: Image, depth: int, colour: int) -> bytes:
    """The strip's last row as the PNG's unfiltered bytes (see the module docstring: of a
    16-bit sample only the high byte is right, the low byte is 0)."""
    row = np.asarray(strip.crop((0, strip.height - 1, strip.width, strip.height)))[0]
    if depth == 16:
        if colour == 0:  # "I;16": the whole sample
            return row.astype(">u2").tobytes()
        channels = CHANNELS[colour]
        high = row[..., [0, 3]] if colour == 4 else row[..., :channels]  # LA opened as RGBA
        pairs = np.zeros((row.shape[0], channels, 2), np.uint8)
        pairs[..., 0] = high
        return pairs.tobytes()
    if depth == 8:
        return np.ascontiguousarray(row, np.uint8).tobytes()
    # 1, 2 or 4 bits a sample (grey or palette): Pillow spreads grey levels over 0..255
    values = np.asarray(row).astype(np.uint8)  # mode "1": 0 and 1 already
    if colour == 0 and depth > 1:
        values = values // (255 // ((1 << depth) - 1))
    per_byte = 8 // depth
    padded = np.zeros(-(-values.size // per_byte) * per_byte, np.uint8)
    padded[: values.size] = values
    shifts = np.arange(per_byte - 1, -1, -1, dtype=np.uint8) * depth
    return (padded.reshape(-1, per_byte) << shifts).sum(axis=1).astype(np.uint8).tobytes()

"""Make the shipped pen data (``resources/data/pen-*.npz``) from the UNIPEN strokes files.

    python -m drawdigit.make_pendata [--shared DIR] [--out DIR]

Reads ``unipen-dev`` (digits), ``unipen-notdigits-dev`` and ``unipen-notdigits-train``
(letters and symbols) from ``--shared`` (default: ``../shared`` beside the checkout), renders
every drawing with ``preprocess`` (the canvas's own rendering: what the network sees when a
person draws it), and writes ``pen-digits.npz`` and ``pen-notdigits.npz``, and
``pen-made.npz`` (parts, pairs and scribbles made from the digits, for the digit-ness head),
with a ``.json`` beside each (sha256, counts, the command, the source and its licence)
atomically. The
numbers set (``unipen-numbers-dev``) is not read: it is for measuring only.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from drawdigit.pendata import (
    DIGITS_NAME,
    MADE_NAME,
    NOT_A_DIGIT,
    NOT_DIGITS_NAME,
    PenSet,
    encode,
)
from drawdigit.preprocess import preprocess
from drawdigit.store import atomic_write_bytes, atomic_write_text
from drawdigit.strokes import Drawing, load_drawing

DEFAULT_SHARED = Path(__file__).resolve().parents[2] / "shared"
CREDIT = (
    "UNIPEN on-line handwriting benchmark, train_r01_v07 (Guyon, Schomaker, Plamondon,"
    " Liberman, Janet: UNIPEN project of on-line data exchange and recognizer benchmarks,"
    " ICPR 1994), CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/)"
)


class _Builder:
    """Collects rendered drawings; a drawing with no ink is left out and counted."""

    def __init__(self) -> None:
        self.images: list[np.ndarray] = []
        self.labels: list[int] = []
        self.writers: list[str] = []
        self.flagged: list[bool] = []
        self.characters: list[str] = []
        self.empty = 0

    def add(self, drawing: Drawing, label: int, writer: str, flagged: bool, char: str) -> None:
        image = preprocess(drawing)
        if image is None:
            self.empty += 1
            return
        self.images.append(np.round(image * 255.0).astype(np.uint8))
        self.labels.append(label)
        self.writers.append(writer)
        self.flagged.append(flagged)
        self.characters.append(char)

    def build(self) -> PenSet:
        names = tuple(sorted(set(self.writers)))
        index = {name: i for i, name in enumerate(names)}
        return PenSet(
            np.stack(self.images),
            np.array(self.labels, dtype=np.int64),
            np.array([index[w] for w in self.writers], dtype=np.int64),
            names,
            np.array(self.flagged, dtype=bool),
            np.array(self.characters, dtype=str),
        )


def _rows(folder: Path) -> list[dict[str, str]]:
    with open(folder / "labels.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def digits(shared: Path) -> tuple[PenSet, int]:
    builder = _Builder()
    folder = shared / "unipen-dev"
    for row in _rows(folder):
        builder.add(
            load_drawing(folder / row["file"]),
            int(row["label"]),
            f"{row['institution']}/{row['writer']}",
            bool(row["flags"]),
            row["label"],
        )
    return builder.build(), builder.empty


def not_digits(shared: Path) -> tuple[PenSet, int, dict[str, int]]:
    builder = _Builder()
    folder = shared / "unipen-notdigits-dev"
    for row in _rows(folder):
        writer = f"{row['institution']}/{row['writer']}"
        builder.add(load_drawing(folder / row["file"]), NOT_A_DIGIT, writer, False, row["label"])
    counts = {"unipen-notdigits-dev": len(builder.labels)}
    with gzip.open(shared / "unipen-notdigits-train" / "drawings.jsonl.gz", "rt") as f:
        for line in f:
            row = json.loads(line)
            drawing = Drawing.from_dict(
                {k: row[k] for k in ("width", "height", "strokes")}, row["file"]
            )
            writer = f"{row['institution']}/{row['writer']}"
            builder.add(drawing, NOT_A_DIGIT, writer, bool(row["flags"]), row["label"])
    counts["unipen-notdigits-train"] = len(builder.labels) - counts["unipen-notdigits-dev"]
    return builder.build(), builder.empty, counts


def made_not_digits(digits: PenSet, seed: int) -> PenSet:
    """Ink that is not one digit, made from the pen digits (``headfit.made_not_digits``):
    parts of a digit, two digits of one writer as one input (a wrong split of a number),
    and scribbles. Each keeps the writer of the digits it was made from, so the folds hold."""
    from drawdigit.headfit import made_not_digits as make

    images, kinds, writers = [], [], []
    for w in range(len(digits.writer_names)):
        mine = digits.select((digits.writers == w) & (digits.labels >= 0))
        if len(mine) < 2:
            continue
        made, made_kinds = make(mine.as_float(), np.random.default_rng([seed, w]))
        images.append(np.round(made * 255.0).astype(np.uint8))
        kinds.append(made_kinds)
        writers.append(np.full(len(made), w))
    kinds_all = np.concatenate(kinds)
    return PenSet(
        np.concatenate(images),
        np.full(len(kinds_all), NOT_A_DIGIT, dtype=np.int64),
        np.concatenate(writers).astype(np.int64),
        digits.writer_names,
        np.zeros(len(kinds_all), dtype=bool),
        kinds_all.astype(str),
    )


def write(out: Path, name: str, pen: PenSet, about: dict) -> None:
    data = encode(pen)
    meta = {
        "format": "drawdigit-pen-data",
        "format_version": 1,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python -m drawdigit.make_pendata", *sys.argv[1:]]),
        "sha256": hashlib.sha256(data).hexdigest(),
        "drawings": len(pen),
        "writers": len(pen.writer_names),
        "rendering": "drawdigit.preprocess.preprocess (DEFAULT_STYLE), x255 rounded to uint8",
        "source": CREDIT,
        **about,
    }
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out / name, data)
    atomic_write_text((out / name).with_suffix(".json"), json.dumps(meta, indent=2) + "\n")


def main(argv: list[str] | None = None) -> int:
    from drawdigit.store import resources_dir

    parser = argparse.ArgumentParser(prog="python -m drawdigit.make_pendata")
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    parser.add_argument("--out", type=Path, default=resources_dir() / "data")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    pen, empty = digits(args.shared)
    write(
        args.out,
        DIGITS_NAME,
        pen,
        {"sets": {"unipen-dev": len(pen)}, "left_out_no_ink": empty},
    )
    print(f"{DIGITS_NAME}: {len(pen)} digits by {len(pen.writer_names)} writers")
    letters, empty, counts = not_digits(args.shared)
    write(args.out, NOT_DIGITS_NAME, letters, {"sets": counts, "left_out_no_ink": empty})
    print(f"{NOT_DIGITS_NAME}: {len(letters)} letters and symbols")
    made = made_not_digits(pen, seed=0)
    kinds = {str(k): int((made.characters == k).sum()) for k in np.unique(made.characters)}
    write(
        args.out,
        MADE_NAME,
        made,
        {"sets": kinds, "made_from": f"{DIGITS_NAME} (drawdigit.headfit.made_not_digits, seed 0)"},
    )
    print(f"{MADE_NAME}: {len(made)} made from the digits {kinds}")
    print(f"{time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

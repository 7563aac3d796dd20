"""The shipped pen ink: what it holds, that it is read safely, and the writer folds."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from drawdigit.mnist import MnistData
from drawdigit.pendata import (
    DIGITS_NAME,
    FOLDS,
    MADE_NAME,
    NOT_A_DIGIT,
    NOT_DIGITS_NAME,
    load_made_not_digits,
    load_pen_digits,
    load_pen_not_digits,
    load_pen_set,
    mix_into,
    pen_data_path,
    writer_fold,
)
from drawdigit.preprocess import preprocess
from drawdigit.store import ModelFileError
from drawdigit.strokes import load_drawing
from drawdigit.training.config import NOT_DIGIT_CLASS

SHARED = Path(__file__).resolve().parents[2] / "shared"


def test_the_shipped_sets_hold_what_their_metadata_says() -> None:
    digits, letters, made = load_pen_digits(), load_pen_not_digits(), load_made_not_digits()
    for pen, name in ((digits, DIGITS_NAME), (letters, NOT_DIGITS_NAME), (made, MADE_NAME)):
        meta = json.loads(pen_data_path(name).with_suffix(".json").read_text())
        assert meta["drawings"] == len(pen)
        assert "UNIPEN" in meta["source"] and "CC BY 4.0" in meta["source"]
        assert "python -m drawdigit.make_pendata" in meta["command"]
        # every drawing has ink, in the field, as preprocess leaves it
        assert (pen.images.reshape(len(pen), -1).max(axis=1) >= 200).all()
    assert set(digits.labels.tolist()) == set(range(10))
    assert (letters.labels == NOT_A_DIGIT).all() and (made.labels == NOT_A_DIGIT).all()
    assert set(made.characters.tolist()) == {"part", "pair", "scribble"}
    # made from the digits of the writer they are filed under (so the folds hold for them)
    assert made.writer_names == digits.writer_names
    assert set(made.writers.tolist()) <= set(digits.writers.tolist())
    made_meta = json.loads(pen_data_path(MADE_NAME).with_suffix(".json").read_text())
    assert sum(made_meta["sets"].values()) == len(made)


@pytest.mark.skipif(not (SHARED / "unipen-dev").is_dir(), reason="needs ../shared/unipen-dev")
def test_a_shipped_digit_is_the_canvas_rendering_of_its_strokes() -> None:
    digits = load_pen_digits()
    with open(SHARED / "unipen-dev" / "labels.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for k in (0, 1234, len(rows) - 1):
        expected = preprocess(load_drawing(SHARED / "unipen-dev" / rows[k]["file"]))
        assert expected is not None
        assert np.abs(digits.images[k] / 255.0 - expected).max() <= 0.5 / 255 + 1e-6
        assert digits.labels[k] == int(rows[k]["label"])
        writer = f"{rows[k]['institution']}/{rows[k]['writer']}"
        assert digits.writer_names[digits.writers[k]] == writer


def test_folds_never_put_one_writer_on_both_sides() -> None:
    digits, letters = load_pen_digits(), load_pen_not_digits()
    for pen in (digits, letters):
        folds = pen.folds()
        assert set(folds.tolist()) == set(range(FOLDS))
        for fold in range(FOLDS):
            inside = {pen.writer_names[w] for w in pen.only_fold(fold).writers}
            outside = {pen.writer_names[w] for w in pen.without_fold(fold).writers}
            assert inside and outside
            assert not inside & outside
            assert len(pen.only_fold(fold)) + len(pen.without_fold(fold)) == len(pen)
    # one writer, one fold, in every set: the same function of the name alone
    shared_writers = set(digits.writer_names) & set(letters.writer_names)
    assert len(shared_writers) > 50
    for name in shared_writers:
        d = digits.folds()[digits.writers == digits.writer_names.index(name)]
        n = letters.folds()[letters.writers == letters.writer_names.index(name)]
        assert set(d.tolist()) == set(n.tolist()) == {writer_fold(name)}


def test_writer_fold_is_a_fixed_function_of_the_name() -> None:
    # a change here would silently mix writers across earlier and later measurements
    name = "aga/AnnZchrl"
    expected = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") % FOLDS
    assert writer_fold(name) == expected
    assert [writer_fold(f"inst/w{k}") for k in range(200)].count(0) > 20


def test_mixing_appends_pen_ink_and_leaves_a_fold_out() -> None:
    mnist = MnistData(
        np.zeros((5, 28, 28), np.uint8),
        np.arange(5, dtype=np.uint8),
        np.zeros((2, 28, 28), np.uint8),
        np.zeros(2, np.uint8),
    )
    digits, letters = load_pen_digits(), load_pen_not_digits()
    mixed = mix_into(mnist, 2, 1, leave_out_fold=3)
    kept_digits = int((~digits.without_fold(3).flagged).sum())  # doubtful labels left out
    kept_letters = len(letters.without_fold(3))
    assert len(mixed.train_labels) == 5 + 2 * kept_digits + kept_letters
    assert (mixed.train_labels[5 + 2 * kept_digits :] == NOT_DIGIT_CLASS).all()
    assert mixed.test_images is mnist.test_images
    assert mix_into(mnist, 0, 0) is mnist


@pytest.mark.parametrize("damage", ["bytes", "checksum", "shapes", "pickle"])
def test_a_damaged_pen_data_file_is_refused_with_its_name(tmp_path: Path, damage: str) -> None:
    source = pen_data_path(DIGITS_NAME)
    path = tmp_path / DIGITS_NAME
    shutil.copy(source, path)
    shutil.copy(source.with_suffix(".json"), path.with_suffix(".json"))
    meta = json.loads(path.with_suffix(".json").read_text())
    if damage == "bytes":
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
    elif damage in ("shapes", "pickle"):
        if damage == "shapes":
            arrays = {"images": np.zeros((3, 28, 27), np.uint8), "labels": np.zeros(3)}
            np.savez(path, **arrays)
        else:  # an object array: loading it would need pickle
            with open(path, "wb") as f:
                np.savez(f, images=np.array([object()], dtype=object))
        meta["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
        path.with_suffix(".json").write_text(json.dumps(meta))
    else:
        meta["sha256"] = "0" * 64
        path.with_suffix(".json").write_text(json.dumps(meta))
    with pytest.raises(ModelFileError, match=DIGITS_NAME):
        load_pen_set(path)

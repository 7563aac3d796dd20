"""The command line, run for real: predict, evaluate, train, and the model fallback rules."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from drawdigit import __version__
from drawdigit.cli import main
from drawdigit.store import active_model_path, load_checkpoint, resource_path
from drawdigit.strokes import load_drawing, pen_width

SAMPLES = sorted(resource_path("samples").glob("digit-*.json"))


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _png_of(drawing_path: Path, out: Path) -> Path:
    """Our own PNG of a drawing: dark ink on white paper, as a scan or a paint program makes."""
    drawing = load_drawing(drawing_path)
    image = Image.new("L", (int(drawing.width), int(drawing.height)), 255)
    draw = ImageDraw.Draw(image)
    width = int(round(pen_width(drawing.width, drawing.height)))
    for stroke in drawing.strokes:
        draw.line([tuple(p) for p in stroke], fill=0, width=width, joint="curve")
        for x, y in (stroke[0], stroke[-1]):
            r = width / 2
            draw.ellipse((x - r, y - r, x + r, y + r), fill=0)
    image.save(out)
    return out


def test_predict_json_on_strokes_and_png(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert len(SAMPLES) == 10
    pngs = [_png_of(p, tmp_path / f"{p.stem}.png") for p in SAMPLES]
    assert main(["predict", "--json", *map(str, SAMPLES), *map(str, pngs)]) == 0
    rows = _json_lines(capsys.readouterr().out)
    assert len(rows) == 20
    for row in rows:
        expected = int(Path(row["file"]).stem.split("-")[1])
        assert row["digit"] == expected, row["file"]
        assert len(row["probabilities"]) == 10
        assert abs(sum(row["probabilities"]) - 1.0) < 1e-4
        assert row["confidence"] == max(row["probabilities"])


def test_predict_reports_unreadable_files_and_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{not json")
    code = main(["predict", "--json", str(broken), str(SAMPLES[3]), str(bad_json)])
    assert code == 1
    rows = _json_lines(capsys.readouterr().out)
    assert [r["file"] for r in rows] == [str(broken), str(SAMPLES[3]), str(bad_json)]
    assert "error" in rows[0] and str(broken) in rows[0]["error"]
    assert rows[1]["digit"] == 3
    assert "error" in rows[2]


def test_empty_drawing_is_no_digit(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"width": 280, "height": 280, "strokes": []}))
    assert main(["predict", str(empty)]) == 0
    assert "no digit" in capsys.readouterr().out


def test_bundled_model_reaches_its_mnist_accuracy(
    mnist_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["evaluate", "--json", "--data-dir", str(mnist_dir)]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["accuracy"] >= 0.993
    confusion = np.array(report["confusion"])
    assert confusion.shape == (10, 10) and confusion.sum() == 10_000


def test_a_damaged_active_model_falls_back_to_the_bundled_one(
    capsys: pytest.CaptureFixture,
) -> None:
    active = active_model_path()
    active.parent.mkdir(parents=True)
    active.write_bytes(b"this is not a model")
    assert main(["predict", "--json", str(SAMPLES[7])]) == 0
    captured = capsys.readouterr()
    assert _json_lines(captured.out)[0]["digit"] == 7
    assert "could not be used" in captured.err


def test_an_explicit_bad_model_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    bad = tmp_path / "foreign.pt"
    bad.write_bytes(b"PK\x03\x04 truncated zip")
    assert main(["predict", "--model", str(bad), str(SAMPLES[0])]) == 2
    assert str(bad) in capsys.readouterr().err


def test_train_saves_a_model_that_becomes_active(
    tmp_path: Path, mnist_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "quick.pt"
    args = ["train", "--preset", "fast", "--epochs", "1", "--limit", "4000", "--json"]
    args += ["--data-dir", str(mnist_dir), "--out", str(out), "--activate", "--from-scratch"]
    assert main(args) == 0
    stdout, err = capsys.readouterr()
    report = json.loads(stdout.strip().splitlines()[-1])
    assert set(report) == {
        "test_accuracy",
        "seconds",
        "training_seconds",
        "out",
        "sha256",
        "config",
    }
    assert 0.8 < report["test_accuracy"] <= 1.0  # 4,000 images, one epoch: far above chance
    assert report["seconds"] > report["training_seconds"] > 0
    assert report["out"] == str(out) and report["config"]["epochs"] == 1
    assert f"test accuracy {report['test_accuracy'] * 100:.2f}%" in err
    assert "now the model in use" in err
    assert load_checkpoint(out).metadata["test_accuracy"] == pytest.approx(report["test_accuracy"])
    assert load_checkpoint(active_model_path()).metadata["test_accuracy"] == pytest.approx(
        report["test_accuracy"]
    )


def test_train_with_my_samples_measures_the_kept_aside_ones(
    tmp_path: Path, mnist_dir: Path, capsys: pytest.CaptureFixture, sideways_writer
) -> None:
    from drawdigit.samples import add_sample

    args = ["train", "--with-my-samples", "--limit", "3000", "--json"]
    args += ["--data-dir", str(mnist_dir), "--out", str(tmp_path / "mine.pt")]
    assert main(args) == 2  # no samples yet: says how to get some
    assert "Correct" in capsys.readouterr().err

    for digit, drawing in sideways_writer(4, 7):
        add_sample(digit, drawing=drawing)
    assert main(args) == 0
    out, err = capsys.readouterr()
    report = json.loads(out.strip().splitlines()[-1])
    assert set(report) == {
        "personal_samples",
        "personal_heldout",
        "personal_heldout_before",
        "personal_heldout_after",
        "test_accuracy",
        "seconds",
        "training_seconds",
        "out",
        "sha256",
        "config",
    }
    assert (report["personal_samples"], report["personal_heldout"]) == (30, 10)
    assert "your samples: trained on 30; the 10 kept aside:" in err
    assert report["config"]["from_scratch"] is False  # from the model in use
    assert report["config"]["epochs"] == 1 and report["config"]["augment"] is True
    before, after = report["personal_heldout_before"], report["personal_heldout_after"]
    assert 0.0 <= before <= 1.0 and 0.0 <= after <= 1.0
    saved = load_checkpoint(tmp_path / "mine.pt").metadata
    assert saved["personal_heldout_after"] == pytest.approx(after)


def test_missing_data_explains_how_to_get_it(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["train", "--data-dir", str(tmp_path / "nowhere")]) == 2
    assert "nowhere" in capsys.readouterr().err
    assert main(["train"]) == 2  # no data dir anywhere: how to get MNIST
    assert "download-mnist" in capsys.readouterr().err


def test_module_entry_point_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "drawdigit", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    assert __version__ in result.stdout

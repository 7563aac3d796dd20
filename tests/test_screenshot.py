"""docs/screenshot.py, the README's picture of the app: it draws in the real window, gets the
answer, writes a small PNG, and leaves the user's data and settings alone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "docs" / "screenshot.py"


def _files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def test_screenshot_draws_a_digit_in_the_real_window_and_touches_no_user_data(tmp_path):
    out = tmp_path / "shot" / "app.png"
    home, data, config = (tmp_path / name for name in ("home", "data", "config"))
    for folder in (home, data, config):
        folder.mkdir()
    env = dict(
        os.environ,
        QT_QPA_PLATFORM="offscreen",
        HOME=str(home),
        DRAWDIGIT_DATA_DIR=str(data),  # where a user's samples and models would be
        XDG_CONFIG_HOME=str(config),  # where a user's QSettings would be
    )
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out), "--sample", "digit-7.json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "digit 7" in result.stdout, result.stdout  # the window read the drawing as a 7

    image = Image.open(out)
    assert image.format == "PNG"
    assert image.size == (940, 640)  # the whole window at its default size
    assert out.stat().st_size < 150_000
    gray = np.asarray(image.convert("L"))
    canvas = gray[40:570, 50:595]  # the paper, left of the answer panel
    assert (canvas < 60).mean() > 0.01, "no ink on the canvas"
    assert (canvas > 200).mean() > 0.5, "the canvas is not white paper"

    for folder in (home, data, config):
        assert _files_under(folder) == [], f"the script wrote into {folder.name}"


def test_screenshot_says_why_when_the_sample_does_not_exist(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", DRAWDIGIT_DATA_DIR=str(tmp_path))
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(tmp_path / "a.png"), "--sample", "nope.json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert "nope.json" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "a.png").exists()

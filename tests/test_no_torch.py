"""Recognition never imports torch: ``import torch`` alone costs 1-2.5 s (10 s on a busy
machine), and ``drawdigit predict``, ``evaluate`` and the window answer without it.

Each test runs a real process with ``-X importtime`` and reads which modules it imported.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "resources" / "samples" / "digit-3.json"


def run_drawdigit(
    python_options: list[str], args: list[str], tmp_path: Path, **extra_env: str
) -> subprocess.CompletedProcess[str]:
    """``python [options] -m drawdigit [args]`` with its data in ``tmp_path``; it must succeed."""
    env = dict(os.environ, DRAWDIGIT_DATA_DIR=str(tmp_path), **extra_env)
    done = subprocess.run(
        [sys.executable, *python_options, "-m", "drawdigit", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def imported_modules(args: list[str], tmp_path: Path, **extra_env: str) -> tuple[set[str], str]:
    """The top-level names of every module the process imported, and its stdout."""
    done = run_drawdigit(["-X", "importtime"], args, tmp_path, **extra_env)
    lines = [line for line in done.stderr.splitlines() if line.startswith("import time:")]
    names = {line.split("|")[-1].strip().split(".")[0] for line in lines[1:]}
    assert "drawdigit" in names and "numpy" in names  # the log is real and complete
    return names, done.stdout


def test_predict_does_not_import_torch(tmp_path: Path) -> None:
    names, out = imported_modules(["predict", str(SAMPLE)], tmp_path)
    assert "torch" not in names
    assert out.startswith(f"{SAMPLE}: 3 ")


def test_evaluate_does_not_import_torch(tmp_path: Path, mnist_dir: Path) -> None:
    names, out = imported_modules(["evaluate", "--data-dir", str(mnist_dir)], tmp_path)
    assert "torch" not in names
    assert "MNIST test accuracy: 99." in out


def test_the_window_answers_without_importing_torch(tmp_path: Path) -> None:
    """``drawdigit`` with no command: the window opens a sample as soon as it is shown (as
    if drawn while the model loads), quits once the answer is on screen, and never imports
    torch on the way (the window, the recogniser, the model)."""
    marker = tmp_path / "answered.txt"
    names, _ = imported_modules(
        [],
        tmp_path,
        QT_QPA_PLATFORM="offscreen",
        DRAWDIGIT_EXIT_AFTER_PREDICTION=str(marker),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
    )
    shown, answered, digit = marker.read_text(encoding="utf-8").split()
    assert digit == "7" and float(answered) >= float(shown)
    assert "PySide6" in names and "torch" not in names


def test_the_window_shows_before_numpy_is_imported(tmp_path: Path) -> None:
    """numpy takes 0.1-0.2 s to import and only recognition needs it, which runs in the
    recogniser's thread once the window has painted: nothing the window needs to appear
    may import it (the app writes whether it had, with the time it was shown)."""
    marker = tmp_path / "shown.txt"
    run_drawdigit(
        [],
        [],
        tmp_path,
        QT_QPA_PLATFORM="offscreen",
        DRAWDIGIT_EXIT_AFTER_SHOWN=str(marker),
        XDG_CONFIG_HOME=str(tmp_path / "config"),
    )
    shown, numpy = marker.read_text(encoding="utf-8").split()
    assert float(shown) > 0 and numpy == "numpy=False"


def test_finetune_is_offered_once_the_model_has_loaded(qtbot, tmp_path: Path) -> None:
    """Samples are counted after the model has loaded, not while the window is built
    (counting imports numpy): with samples on disk at start, Fine-tune is greyed out until
    then and enabled after."""
    from PySide6.QtCore import QSettings

    from drawdigit.gui.main_window import MainWindow
    from drawdigit.samples import add_sample
    from drawdigit.strokes import load_drawing

    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    add_sample(3, drawing=load_drawing(SAMPLE))
    window = MainWindow()
    qtbot.addWidget(window)
    assert window.model_state() == "loading"
    assert not window.commands.finetune.isEnabled()
    window.show()
    qtbot.waitUntil(lambda: window.model_state() != "loading", timeout=90_000)
    assert window.model_ready()
    assert window.commands.finetune.isEnabled()

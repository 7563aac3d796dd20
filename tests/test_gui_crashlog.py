"""Uncaught exceptions in the GUI: logged to a file in the user data folder, one box that
says where the log is, and the app keeps running. Real slots, real threads, real files."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox, QPushButton

from drawdigit.gui.crashlog import LOG_NAME, CrashLog, install_crash_log, log_dir

# pytest-qt would catch exceptions in slots itself; these tests need the app's own hooks.
pytestmark = pytest.mark.qt_no_exception_capture


@pytest.fixture
def crash_log(qtbot, user_data):
    crash_log = install_crash_log()
    yield crash_log
    box = crash_log.box()
    if box is not None:
        box.close()
    crash_log.uninstall()


def failing_button(qtbot, calls: list[int]) -> QPushButton:
    button = QPushButton("Break")
    qtbot.addWidget(button)
    button.show()
    qtbot.waitExposed(button)

    def broken_slot() -> None:
        calls.append(1)
        raise ZeroDivisionError("a bug inside a slot")

    button.clicked.connect(broken_slot)
    return button


def test_an_exception_in_a_slot_is_logged_and_shown_once(qtbot, crash_log, user_data, capsys):
    calls: list[int] = []
    button = failing_button(qtbot, calls)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: crash_log.box() is not None and crash_log.box().isVisible())

    path = user_data / "logs" / LOG_NAME
    assert crash_log.path == path == log_dir() / LOG_NAME
    text = path.read_text(encoding="utf-8")
    assert "Traceback (most recent call last)" in text
    assert "in broken_slot" in text and "ZeroDivisionError: a bug inside a slot" in text
    assert "a bug inside a slot" in capsys.readouterr().err  # stderr still gets it

    box = crash_log.box()
    assert str(path) in box.informativeText()
    assert "ZeroDivisionError: a bug inside a slot" in box.text()
    assert "in broken_slot" in box.detailedText()
    assert box.windowModality() == Qt.WindowModality.NonModal

    # The app keeps running: the same button works (and fails) again; no second box.
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "1 more error" in box.informativeText())
    assert calls == [1, 1]
    assert path.read_text(encoding="utf-8").count("ZeroDivisionError: a bug inside") == 2
    boxes = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox)]
    assert [b for b in boxes if b.isVisible()] == [box]

    # Once it is closed, the next error gets a box again.
    box.accept()
    qtbot.waitUntil(lambda: crash_log.box() is None)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: crash_log.box() is not None)
    assert "more error" not in crash_log.box().informativeText()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_an_exception_in_a_python_thread_is_logged_and_shown(qtbot, crash_log):
    def work() -> None:
        raise RuntimeError("a bug in a worker thread")

    thread = threading.Thread(target=work, name="drawdigit-test-thread")
    thread.start()
    thread.join()
    qtbot.waitUntil(lambda: crash_log.box() is not None)
    text = crash_log.path.read_text(encoding="utf-8")
    assert "in drawdigit-test-thread" in text
    assert "RuntimeError: a bug in a worker thread" in text
    assert str(crash_log.path) in crash_log.box().informativeText()


def test_the_log_is_bounded(tmp_path: Path):
    crash_log = CrashLog(tmp_path / "logs" / LOG_NAME, max_bytes=4000, backups=2)
    try:
        for n in range(100):
            try:
                raise ValueError(f"error number {n}")
            except ValueError as exc:
                crash_log.record(type(exc), exc, exc.__traceback__)
    finally:
        crash_log.uninstall()
    files = sorted(p.name for p in (tmp_path / "logs").iterdir())
    assert files == [LOG_NAME, f"{LOG_NAME}.1", f"{LOG_NAME}.2"]
    assert all((tmp_path / "logs" / name).stat().st_size <= 4000 for name in files)
    assert "error number 99" in (tmp_path / "logs" / LOG_NAME).read_text(encoding="utf-8")


def test_a_log_that_cannot_be_written_is_said_in_the_box(qtbot, tmp_path: Path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the logs folder should be")
    crash_log = CrashLog(blocker / "logs" / LOG_NAME)
    crash_log.install()
    try:
        try:
            raise KeyError("lost")
        except KeyError as exc:
            crash_log.record(type(exc), exc, exc.__traceback__)
        qtbot.waitUntil(lambda: crash_log.box() is not None)
        assert "could not be written" in crash_log.box().informativeText()
        assert str(crash_log.path) in crash_log.box().informativeText()
    finally:
        crash_log.box().close()
        crash_log.uninstall()


def test_uninstall_puts_the_previous_hooks_back(qtbot):
    import sys

    before = (sys.excepthook, threading.excepthook)
    crash_log = install_crash_log()
    assert (sys.excepthook, threading.excepthook) != before
    crash_log.uninstall()
    assert (sys.excepthook, threading.excepthook) == before


def test_the_app_installs_the_crash_log(tmp_path: Path):
    """``run_gui`` (what ``drawdigit`` runs): a bug in a slot lands in the log and the box;
    the event loop goes on, and quitting with the box still open exits cleanly."""
    import os
    import subprocess
    import sys

    code = (
        "from PySide6.QtCore import QTimer\n"
        "from drawdigit.gui.app import create_application, run_gui\n"
        "app = create_application()\n"
        "def boom():\n"
        "    raise RuntimeError('a bug while the app runs')\n"
        "def quit_with_the_box_open():\n"
        "    boxes = [w for w in app.topLevelWidgets() if w.isVisible() and 'log' in\n"
        "             getattr(w, 'informativeText', str)()]\n"
        "    print('boxes open:', len(boxes), flush=True)\n"
        "    app.quit()\n"
        "QTimer.singleShot(0, boom)\n"
        "QTimer.singleShot(1000, quit_with_the_box_open)\n"
        "raise SystemExit(run_gui())\n"
    )
    env = dict(os.environ, DRAWDIGIT_DATA_DIR=str(tmp_path / "data"), QT_QPA_PLATFORM="offscreen")
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")  # the window's QSettings
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "boxes open: 1" in result.stdout
    log = (tmp_path / "data" / "logs" / LOG_NAME).read_text(encoding="utf-8")
    assert "RuntimeError: a bug while the app runs" in log and "in boom" in log

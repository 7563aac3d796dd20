"""Start the desktop app: ``run_gui(argv)`` is what ``drawdigit`` with no command calls.

Import cost matters here: the window must be on screen well under a second after launch,
and ``import torch`` alone takes longer than that. So this module and everything the
window needs at construction import Qt only; the model is loaded by the recogniser's thread
once the window has painted.

From ``run_gui`` on, an uncaught exception is written to the crash log in the user data
folder and shown in a box (``gui/crashlog.py``) instead of only reaching stderr.

``DRAWDIGIT_EXIT_AFTER_SHOWN=<file>``: for ``benchmarks/bench_gui.py``. When the window
has painted for the first time, write ``time.monotonic()`` (a clock shared by all processes
on Linux and macOS) to that file and quit, so launch-to-window time can be measured from a
real ``python -m drawdigit`` start. A second field, ``numpy=True|False``, says whether numpy
had been imported by then (it should not: tests/test_no_torch.py).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from drawdigit import __version__

if TYPE_CHECKING:
    from drawdigit.gui.main_window import MainWindow

EXIT_AFTER_SHOWN_ENV = "DRAWDIGIT_EXIT_AFTER_SHOWN"
EXIT_AFTER_PREDICTION_ENV = "DRAWDIGIT_EXIT_AFTER_PREDICTION"


def create_application(argv: list[str] | None = None) -> QApplication:
    """The QApplication with drawdigit's names (QSettings use them) and icon.

    Pointer events are never merged: by default Qt keeps only the last of the mouse and
    tablet moves queued while the event loop is busy, and a "3" drawn while the model
    loaded came out as one straight line. The canvas keeps every distinct point it gets;
    these two attributes make sure it gets them all (set before the QApplication exists,
    and again on one that already does: Qt reads them as events arrive).
    """
    for attribute in (
        Qt.ApplicationAttribute.AA_CompressHighFrequencyEvents,
        Qt.ApplicationAttribute.AA_CompressTabletEvents,
    ):
        QApplication.setAttribute(attribute, False)
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        app = existing
    else:
        QApplication.setHighDpiScaleFactorRoundingPolicy(
            Qt.HighDpiScaleFactorRoundingPolicy.PassThrough
        )
        app = QApplication(list(argv) if argv else [sys.argv[0] if sys.argv else "drawdigit"])
    app.setOrganizationName("drawdigit")
    app.setApplicationName("drawdigit")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("drawdigit")
    from drawdigit.gui.icons import app_icon

    app.setWindowIcon(app_icon())
    return app


def run_gui(
    argv: list[str] | None = None,
    on_window: Callable[[QApplication, MainWindow], None] | None = None,
) -> int:
    """Show the main window and run the event loop; returns the exit status.

    ``on_window`` is called with the app and the window before it is shown: for
    ``benchmarks/bench_gui.py``, which times this very start-up path."""
    app = create_application(argv)
    from drawdigit.gui.crashlog import install_crash_log
    from drawdigit.gui.main_window import MainWindow

    crash_log = install_crash_log(app)  # from here on, a bug is logged and shown, not fatal
    window = MainWindow()
    marker = os.environ.get(EXIT_AFTER_SHOWN_ENV)
    if marker:

        def report_and_quit() -> None:
            numpy = "numpy" in sys.modules
            Path(marker).write_text(f"{time.monotonic():.6f} numpy={numpy}\n", encoding="utf-8")
            window.close()
            app.quit()

        window.firstShown.connect(report_and_quit)
    prediction_marker = os.environ.get(EXIT_AFTER_PREDICTION_ENV)
    if prediction_marker:
        _exit_after_first_prediction(app, window, Path(prediction_marker))
    if on_window is not None:
        on_window(app, window)
    window.show()
    try:
        return app.exec()
    finally:
        crash_log.uninstall()


def _exit_after_first_prediction(app: QApplication, window: object, marker: Path) -> None:
    """For benchmarks/bench_bundle.py: open a bundled sample as soon as the window is shown
    (as if drawn while the model loads); once its prediction is on screen, write
    "<shown> <predicted> <digit>" (``time.monotonic()`` values) to ``marker`` and quit."""
    from drawdigit.store import resource_path

    shown: list[float] = []

    def on_shown() -> None:
        shown.append(time.monotonic())
        window.open_path(resource_path("samples", "digit-7.json"))

    def on_result(result: object) -> None:
        if result.prediction is None or not shown:
            return
        marker.write_text(
            f"{shown[0]:.6f} {time.monotonic():.6f} {result.prediction.digit}\n", encoding="utf-8"
        )
        window.close()
        app.quit()

    window.firstShown.connect(on_shown)
    window.recognitionShown.connect(on_result)

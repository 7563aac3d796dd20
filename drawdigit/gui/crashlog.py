"""Uncaught exceptions in the app go to a log file and a message box, and the app goes on.

Without this, an exception raised in a slot or a Python thread is printed to a stderr the
user of a windowed app never sees, and nothing on screen says anything went wrong. With
``install_crash_log()`` (called by ``app.run_gui``):

- ``sys.excepthook`` (exceptions in slots and event handlers: PySide6 reports them through
  it) and ``threading.excepthook`` (Python threads) write the traceback to
  ``<user data>/logs/drawdigit.log`` through ``logging``'s ``RotatingFileHandler``
  (bounded: ``MAX_BYTES`` per file, ``BACKUPS`` old files), then call the hook they replaced,
  so the traceback still reaches stderr;
- a message box says what happened and where the log is. It is not modal and shows at most
  one at a time: errors that follow while it is open are logged and counted, not boxed.
  A thread's exception reaches the box through a queued signal, so widgets are only ever
  touched in the GUI thread.
"""

from __future__ import annotations

import sys
import threading
import traceback
from pathlib import Path
from typing import TYPE_CHECKING

import shiboken6
from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import QMessageBox, QWidget

LOG_NAME = "drawdigit.log"
MAX_BYTES = 512 * 1024
BACKUPS = 2

if TYPE_CHECKING:
    import logging
    from types import TracebackType


def log_dir() -> Path:
    """Where crash logs are kept: ``logs`` in the user data folder."""
    from drawdigit.store import user_data_dir

    return user_data_dir() / "logs"


class CrashLog(QObject):
    """The installed hooks, the log file and the one box; see the module docstring."""

    crashed = Signal(str, str)  # the exception's one-line summary, the traceback

    def __init__(
        self,
        path: Path | None = None,
        parent: QObject | None = None,
        max_bytes: int = MAX_BYTES,
        backups: int = BACKUPS,
    ) -> None:
        super().__init__(parent)
        self.path = path if path is not None else log_dir() / LOG_NAME
        self._max_bytes = max_bytes
        self._backups = backups
        self._handler: logging.Handler | None = None
        self._log_error = ""  # why the log could not be written, if it could not
        self._previous_hook = sys.excepthook
        self._previous_thread_hook = threading.excepthook
        self._installed = False
        self._box: QMessageBox | None = None
        self._unshown = 0  # errors logged while the box was open
        self.crashed.connect(self._show_box, Qt.ConnectionType.QueuedConnection)

    # ------------------------------------------------------------------ install

    def install(self) -> None:
        """Replace ``sys.excepthook`` and ``threading.excepthook`` (keeping the old ones)."""
        if self._installed:
            return
        self._previous_hook = sys.excepthook
        self._previous_thread_hook = threading.excepthook
        sys.excepthook = self._excepthook
        threading.excepthook = self._thread_excepthook
        self._installed = True

    def uninstall(self) -> None:
        """Put the previous hooks back and close the log file."""
        if self._installed:
            sys.excepthook = self._previous_hook
            threading.excepthook = self._previous_thread_hook
            self._installed = False
        if self._handler is not None:
            _crash_logger().removeHandler(self._handler)
            self._handler.close()
            self._handler = None

    def box(self) -> QMessageBox | None:
        """The box on screen about the last error, if one is open."""
        box = self._box
        if box is None or not shiboken6.isValid(box) or not box.isVisible():
            return None  # closed (and, being WA_DeleteOnClose, perhaps deleted)
        return box

    # ------------------------------------------------------------------ the hooks

    def _excepthook(
        self,
        exc_type: type[BaseException],
        exc: BaseException,
        tb: TracebackType | None,
    ) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            self._previous_hook(exc_type, exc, tb)  # Ctrl+C in a terminal is not a crash
            return
        self.record(exc_type, exc, tb, "")
        self._previous_hook(exc_type, exc, tb)

    def _thread_excepthook(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_type is not SystemExit and args.exc_value is not None:
            name = args.thread.name if args.thread is not None else "a thread"
            self.record(args.exc_type, args.exc_value, args.exc_traceback, f" in {name}")
        self._previous_thread_hook(args)

    def record(
        self,
        exc_type: type[BaseException],
        exc: BaseException,
        tb: TracebackType | None,
        where: str = "",
    ) -> None:
        """Log the exception and ask for the box (from any thread)."""
        text = "".join(traceback.format_exception(exc_type, exc, tb))
        summary = "".join(traceback.format_exception_only(exc_type, exc)).strip()
        self._write(f"Uncaught exception{where}:\n{text.rstrip()}")
        self.crashed.emit(summary, text)

    def _write(self, message: str) -> None:
        # logging.handlers costs ~50 ms of import (socket, pickle...): paid at the first
        # error, not at every start of the app.
        import logging
        from logging.handlers import RotatingFileHandler

        logger = _crash_logger()
        try:
            if self._handler is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                handler = RotatingFileHandler(
                    self.path,
                    maxBytes=self._max_bytes,
                    backupCount=self._backups,
                    encoding="utf-8",
                )
                handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
                logger.addHandler(handler)
                self._handler = handler
            logger.error(message)
            self._handler.flush()
            self._log_error = ""
        except OSError as exc:
            self._log_error = exc.strerror or str(exc)

    # ------------------------------------------------------------------ the box

    @Slot(str, str)
    def _show_box(self, summary: str, details: str) -> None:
        shown = self.box()
        if shown is not None:
            self._unshown += 1  # one box at a time; the log has them all
            shown.setInformativeText(self._where_text())
            return
        from PySide6.QtWidgets import QApplication

        parent = QApplication.activeWindow()
        box = QMessageBox(
            QMessageBox.Icon.Critical,
            "drawdigit — Unexpected Error",
            f"Something went wrong inside drawdigit: {summary}\n\n"
            "The app is still running; your drawing has not been touched.",
            QMessageBox.StandardButton.Ok,
            parent if isinstance(parent, QWidget) else None,
        )
        box.setDetailedText(details)
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setWindowModality(Qt.WindowModality.NonModal)
        # No slot on the box's own signals: PySide6 6.11 crashes at exit when a dialog
        # with a connected ``finished`` is still open as the app quits. ``box()`` asks Qt.
        self._box = box
        self._unshown = 0
        box.setInformativeText(self._where_text())
        box.show()

    def _where_text(self) -> str:
        if self._log_error:
            where = f"The details could not be written to {self.path}: {self._log_error}."
        else:
            where = f"The details are in the log file:\n{self.path}"
        if self._unshown:
            more = "1 more error" if self._unshown == 1 else f"{self._unshown} more errors"
            where += f"\n\n{more} since this one, also in the log."
        return where


def _crash_logger() -> logging.Logger:
    import logging

    logger = logging.getLogger("drawdigit.crash")
    logger.propagate = False  # only to our file (and stderr through the previous hook)
    logger.setLevel(logging.ERROR)
    return logger


def install_crash_log(parent: QObject | None = None) -> CrashLog:
    """Install the hooks for the running app; keep the returned object alive."""
    crash_log = CrashLog(parent=parent)
    crash_log.install()
    return crash_log

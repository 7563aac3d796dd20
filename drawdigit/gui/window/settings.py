"""What the window remembers between runs: geometry, the last folder, the samples option.

All QSettings access of the window is here, so the keys are written in one place and a
test can point them at a temporary folder (``QSettings.setPath``) without knowing them.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtWidgets import QWidget

ORGANISATION = "drawdigit"
APPLICATION = "drawdigit"
DEFAULT_SIZE = (940, 640)
MINIMUM_SIZE = (640, 500)

_GEOMETRY = "window/geometry"
_LAST_DIR = "files/last_dir"
_SAVE_CONFIRMED = "samples/save_confirmed"


def settings() -> QSettings:
    """The app's settings (window geometry, last folder); organisation "drawdigit"."""
    return QSettings(ORGANISATION, APPLICATION)


def save_confirmed_samples() -> bool:
    """The "save confirmed samples" option: Enter on a right guess keeps it as a sample."""
    value = settings().value(_SAVE_CONFIRMED, False)
    return value in (True, "true", "1", 1)


def set_save_confirmed_samples(on: bool) -> None:
    settings().setValue(_SAVE_CONFIRMED, bool(on))


def last_dir() -> str:
    """The folder of the last file opened, saved or exported (home if it is gone)."""
    value = settings().value(_LAST_DIR, "")
    return str(value) if value and Path(str(value)).is_dir() else str(Path.home())


def remember_dir(path: Path) -> None:
    """Start the next file dialog where ``path`` is."""
    settings().setValue(_LAST_DIR, str(path.parent))


def restore_geometry(window: QWidget) -> None:
    """Put the window where and as large as it was when last closed (else the default)."""
    geometry = settings().value(_GEOMETRY)
    if isinstance(geometry, QByteArray) and not geometry.isEmpty():
        window.restoreGeometry(geometry)
    else:
        window.resize(*DEFAULT_SIZE)


def save_geometry(window: QWidget) -> None:
    settings().setValue(_GEOMETRY, window.saveGeometry())

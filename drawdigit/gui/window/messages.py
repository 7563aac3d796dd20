"""The window's message boxes: window-modal but non-blocking.

``QMessageBox.open`` returns at once, so a drop handler or a worker's signal handler that
reports a problem returns too, and nothing else changes while the box is up (the drawing
stays as it was). One helper, so every part of the window reports the same way.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget


def show_message(
    parent: QWidget, icon: QMessageBox.Icon, title: str, text: str, detail: str | None = None
) -> QMessageBox:
    """Open a window-modal box over ``parent`` and return it at once (deleted on close)."""
    box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, parent)
    if detail:
        box.setInformativeText(detail)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.setWindowModality(Qt.WindowModality.WindowModal)
    box.open()
    return box


def html_escape(text: str) -> str:
    """Plain text for a rich-text label (the About box shows file paths and errors)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

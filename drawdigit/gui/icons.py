"""Icons from ``resources/icons``: the app icon, and line icons that follow the palette.

The line icons are SVGs drawn in ``currentColor``; they are rendered on demand in the
palette's button-text colour (greyed when disabled), so they read on light and dark themes
and stay sharp at any device pixel ratio. A missing resources folder only costs the icons.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from PySide6.QtCore import QByteArray, QPoint, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QGuiApplication, QIcon, QIconEngine, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer


@cache
def icons_dir() -> Path | None:
    try:
        from drawdigit.store import resource_path

        path = resource_path("icons")
    except (FileNotFoundError, OSError):
        return None
    return path if path.is_dir() else None


def app_icon() -> QIcon:
    """The app's icon (SVG for any size, with a 256 px PNG for platforms without SVG)."""
    icon = QIcon()
    folder = icons_dir()
    if folder is None:
        return icon
    png = folder / "app-256.png"
    svg = folder / "app.svg"
    if png.is_file():
        icon.addFile(str(png), QSize(256, 256))
    if svg.is_file():
        icon.addFile(str(svg))
    return icon


class _TintedSvgEngine(QIconEngine):
    """Renders a ``currentColor`` SVG in the application palette's colour at paint time."""

    def __init__(self, svg: str) -> None:
        super().__init__()
        self._svg = svg

    def _renderer(self, mode: QIcon.Mode) -> QSvgRenderer:
        group = (
            QPalette.ColorGroup.Disabled
            if mode == QIcon.Mode.Disabled
            else QPalette.ColorGroup.Active
        )
        colour = QGuiApplication.palette().color(group, QPalette.ColorRole.ButtonText)
        data = self._svg.replace("currentColor", colour.name())
        return QSvgRenderer(QByteArray(data.encode("utf-8")))

    def paint(self, painter: QPainter, rect: QRect, mode: QIcon.Mode, state: QIcon.State) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        self._renderer(mode).render(painter, QRectF(rect))

    def pixmap(self, size: QSize, mode: QIcon.Mode, state: QIcon.State) -> QPixmap:
        return self.scaledPixmap(size, mode, state, 1.0)

    def scaledPixmap(
        self, size: QSize, mode: QIcon.Mode, state: QIcon.State, scale: float
    ) -> QPixmap:
        pixmap = QPixmap(size * scale)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        self.paint(painter, QRect(QPoint(0, 0), size * scale), mode, state)
        painter.end()
        pixmap.setDevicePixelRatio(scale)
        return pixmap

    def clone(self) -> QIconEngine:
        return _TintedSvgEngine(self._svg)


def line_icon(name: str) -> QIcon:
    """``resources/icons/<name>.svg`` tinted for the current palette (empty if missing)."""
    folder = icons_dir()
    path = None if folder is None else folder / f"{name}.svg"
    if path is None or not path.is_file():
        return QIcon()
    return QIcon(_TintedSvgEngine(path.read_text(encoding="utf-8")))

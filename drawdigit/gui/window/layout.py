"""The window's central area: the square paper, its tool row, and the answer panel beside it.

Geometry only; no behaviour. ``Composition`` places the widgets by hand because the paper
must stay square and the panel must grow a little with it, which box layouts cannot say.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction, QResizeEvent
from PySide6.QtWidgets import QHBoxLayout, QSizePolicy, QToolButton, QVBoxLayout, QWidget


class Composition(QWidget):
    """The square paper with its tool row underneath (as wide as the paper, so the buttons
    line up with its edges) and the prediction panel beside it, centred together in the
    window. The paper takes what the window's height and width allow; the panel widens a
    little with it, so a maximised window reads as one picture rather than two islands."""

    SPACING = 8  # paper to tool row
    GAP = 24  # paper to panel

    def __init__(self, canvas: QWidget, tools: QHBoxLayout, panel: QWidget) -> None:
        super().__init__()
        self._column = QWidget(self)
        column = QVBoxLayout(self._column)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(self.SPACING)
        column.addWidget(canvas, 1)
        column.addLayout(tools)
        self._tools = tools
        self._panel = panel
        panel.setParent(self)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def _tools_height(self) -> int:
        return self._tools.sizeHint().height() + self.SPACING

    def sizeHint(self) -> QSize:
        side = 520
        return QSize(side + self.GAP + 280, side + self._tools_height())

    def minimumSizeHint(self) -> QSize:
        side = max(240, self._tools.minimumSize().width())
        panel = self._panel.minimumSizeHint()
        return QSize(
            side + self.GAP + max(panel.width(), self._panel.minimumWidth()),
            max(side + self._tools_height(), panel.height()),
        )

    def resizeEvent(self, event: QResizeEvent) -> None:
        width, height = self.width(), self.height()
        tools_height = self._tools_height()
        panel_min = max(self._panel.minimumWidth(), 250)
        side = min(width - self.GAP - panel_min, height - tools_height)
        side = max(side, self._tools.minimumSize().width(), 1)
        panel_width = int(min(380, max(panel_min, side * 0.5)))
        panel_width = max(panel_min, min(panel_width, width - side - self.GAP))
        total = side + self.GAP + panel_width
        left = max(0, (width - total) // 2)
        top = max(0, (height - side - tools_height) // 2)
        self._column.setGeometry(left, top, side, side + tools_height)
        self._panel.setGeometry(left + side + self.GAP, top, panel_width, height - top)
        super().resizeEvent(event)


def tool_button(action: QAction) -> QToolButton:
    """A button for the tool row that mirrors ``action`` (text, icon, enabled, checked)."""
    button = QToolButton()
    button.setDefaultAction(action)
    button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    button.setAutoRaise(False)
    return button


def central_widget(
    canvas: QWidget, panel: QWidget, left_tools: Sequence[QAction], right_tools: Sequence[QAction]
) -> QWidget:
    """The window's central widget: the paper with ``left_tools`` and ``right_tools`` under
    its left and right edges, and the panel beside it."""
    central = QWidget()
    layout = QHBoxLayout(central)
    layout.setContentsMargins(14, 12, 14, 8)
    layout.setSpacing(18)
    tools = QHBoxLayout()
    tools.setContentsMargins(0, 0, 0, 0)
    tools.setSpacing(6)
    for action in left_tools:
        tools.addWidget(tool_button(action))
    tools.addStretch(1)
    for action in right_tools:
        tools.addWidget(tool_button(action))
    layout.addWidget(Composition(canvas, tools, panel), 1)
    return central

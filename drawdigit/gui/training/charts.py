"""Live training charts (loss and accuracy) drawn with pyqtgraph.

Why pyqtgraph: it is a maintained plotting library built on QGraphicsView that runs on
PySide6-Essentials (QtCharts would need the full PySide6 package, about 3x the download and
bundle size), and its curves take whole numpy arrays in one ``setData`` call, cheap enough
to redraw thousands of points several times a second. Why buffers and ``refresh``: events
arrive once per batch (tens per second); they are only appended to Python lists here, and
the dialog calls :meth:`TrainingCharts.refresh` from a ~8 Hz timer, so the GUI thread
draws a few frames a second however fast training goes.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QVBoxLayout, QWidget

AXIS_WIDTH = 52  # px, fixed: both plot areas start at the same x, whatever the labels
# The accuracy axis starts at the highest of these below the recent points (the second
# half of the run so far): 95-100% once they are all above 95%, where the action is.
ACCURACY_FLOORS = (99.0, 98.0, 95.0, 90.0, 80.0, 50.0, 0.0)
BELOW = 0.12  # share of a y range shown below its floor: room for the floor's label (0)
BLUE = "#1f77b4"
ORANGE = "#ff7f0e"
GREEN = "#2ca02c"
PURPLE = "#9467bd"


class _Series:
    """Points appended one at a time, handed to pyqtgraph as arrays when asked."""

    def __init__(self) -> None:
        self.x: list[float] = []
        self.y: list[float] = []

    def append(self, x: float, y: float) -> None:
        self.x.append(x)
        self.y.append(y)

    def clear(self) -> None:
        self.x.clear()
        self.y.clear()

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return np.asarray(self.x, dtype=np.float64), np.asarray(self.y, dtype=np.float64)

    def __len__(self) -> int:
        return len(self.x)


class TrainingCharts(QWidget):
    """Two stacked plots sharing the x axis (epochs): loss, and accuracy in percent."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        palette = self.palette()
        background = palette.color(QPalette.ColorRole.Base)
        foreground = palette.color(QPalette.ColorRole.Text)
        # Legends where the curves are not: loss falls (top right is free), accuracy rises
        # (bottom right is free).
        self.loss_plot = self._make_plot("Loss", "loss", background, foreground, (-8, 8))
        self.accuracy_plot = self._make_plot(
            "Accuracy", "accuracy (%)", background, foreground, (-8, -8)
        )
        self.accuracy_plot.setXLink(self.loss_plot)
        for plot in (self.loss_plot, self.accuracy_plot):
            plot.setLabel("bottom", "epoch", color=foreground.name())

        self.loss_curve = self.loss_plot.plot(
            name="batch loss (smoothed)", pen=pg.mkPen(BLUE, width=2)
        )
        self.epoch_loss_curve = self.loss_plot.plot(
            name="training loss per epoch",
            pen=pg.mkPen(BLUE, width=1, style=pg.QtCore.Qt.PenStyle.DashLine),
            symbol="o",
            symbolSize=7,
            symbolBrush=BLUE,
        )
        self.test_loss_curve = self.loss_plot.plot(
            name="test loss per epoch",
            pen=pg.mkPen(GREEN, width=1, style=pg.QtCore.Qt.PenStyle.DashLine),
            symbol="s",
            symbolSize=7,
            symbolBrush=GREEN,
        )
        self.train_acc_curve = self.accuracy_plot.plot(
            name="training accuracy (epoch so far)", pen=pg.mkPen(ORANGE, width=2)
        )
        self.estimate_curve = self.accuracy_plot.plot(
            name="test accuracy, quick estimate",
            pen=pg.mkPen(PURPLE, width=1),
            symbol="t",
            symbolSize=6,
            symbolBrush=PURPLE,
        )
        self.test_acc_curve = self.accuracy_plot.plot(
            name="test accuracy, whole set",
            pen=pg.mkPen(GREEN, width=1, style=pg.QtCore.Qt.PenStyle.DashLine),
            symbol="s",
            symbolSize=8,
            symbolBrush=GREEN,
        )
        for plot in (self.loss_plot, self.accuracy_plot):
            item = plot.getPlotItem()
            item.setDownsampling(auto=True, mode="peak")
            item.setClipToView(True)
        self.loss_plot.getPlotItem().setLimits(yMin=-1)
        self.accuracy_plot.getPlotItem().setLimits(yMin=-5, yMax=101)
        self._set_ranges(1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.loss_plot, 1)
        layout.addWidget(self.accuracy_plot, 1)

        self._loss = _Series()
        self._train_acc = _Series()
        self._estimate = _Series()
        self._epoch_loss = _Series()
        self._test_loss = _Series()
        self._test_acc = _Series()
        self._pairs = (
            (
                (self.loss_curve, self._loss),
                (self.epoch_loss_curve, self._epoch_loss),
                (self.test_loss_curve, self._test_loss),
            ),
            (
                (self.train_acc_curve, self._train_acc),
                (self.estimate_curve, self._estimate),
                (self.test_acc_curve, self._test_acc),
            ),
        )
        self._dirty: set[int] = set()  # charts with points not drawn yet: 0 loss, 1 accuracy
        self._turn = 0  # which chart the next refresh() draws first
        self.redraws = 0  # how many times the curves were redrawn (for tests/benchmarks)

    @staticmethod
    def _make_plot(
        title: str,
        axis_title: str,
        background: QColor,
        foreground: QColor,
        legend_offset: tuple[int, int],
    ) -> pg.PlotWidget:
        plot = pg.PlotWidget(background=background, enableMenu=False)  # no menus to build
        plot.setMinimumHeight(140)
        item = plot.getPlotItem()
        item.setTitle(title, color=foreground.name(), size="10pt")
        item.showGrid(x=True, y=True, alpha=0.25)
        item.setMenuEnabled(False)
        for name in ("left", "bottom"):
            axis = item.getAxis(name)
            axis.setTextPen(foreground)
            axis.setPen(foreground)
            axis.enableAutoSIPrefix(False)
            # Major ticks only: the minor grid lines made each redraw ~7x slower (50 vs 7 ms
            # for both charts on the 2-core machine), enough to stall the event loop.
            axis.setStyle(maxTickLevel=0)
        item.getAxis("left").setWidth(AXIS_WIDTH)
        item.setLabel("left", axis_title, color=foreground.name())
        legend = item.addLegend(
            offset=legend_offset, labelTextColor=foreground, labelTextSize="8pt"
        )
        legend.setBrush(pg.mkBrush(background.red(), background.green(), background.blue(), 200))
        return plot

    # ---------------------------------------------------------------- data in

    def _set_ranges(self, epochs: int) -> None:
        """The whole run on the x axis from the start (the curves show progress too), and
        y ranges from 0 while there is no data (:meth:`_fit_y` follows the data)."""
        self.loss_plot.setXRange(0, epochs, padding=0.02)
        _show_y(self.loss_plot, 0, 2.5)
        _show_y(self.accuracy_plot, 0, 100.5)

    def _fit_y(self, index: int) -> None:
        """Loss: from 0 to a little above the highest point. Accuracy: up to 100%, from the
        highest of ``ACCURACY_FLOORS`` below the recent points (the second half of the
        run so far; earlier, lower points may then sit below the axis)."""
        if index == 0:
            values = [y for _curve, series in self._pairs[0] for y in series.y]
            if values:
                _show_y(self.loss_plot, 0, max(values) * 1.08 or 1.0)
            return
        points = [
            point
            for _curve, series in self._pairs[1]
            for point in zip(series.x, series.y, strict=True)
        ]
        if not points:
            return
        half = max(x for x, _y in points) / 2
        lowest = min(y for x, y in points if x >= half)
        floor = next(f for f in ACCURACY_FLOORS if f <= lowest)
        _show_y(self.accuracy_plot, floor, 100.5 if floor < 90 else 100.1)

    def reset(self, epochs: int = 1) -> None:
        """Empty the charts for a new run of ``epochs`` epochs."""
        for series in (
            self._loss,
            self._train_acc,
            self._estimate,
            self._epoch_loss,
            self._test_loss,
            self._test_acc,
        ):
            series.clear()
        self._dirty = {0, 1}
        self.refresh(everything=True)
        self._set_ranges(max(1, epochs))

    def add_batch(self, x: float, loss: float, accuracy: float) -> None:
        """One batch at ``x`` epochs: the smoothed loss and the epoch's training accuracy
        so far (0-1), both as ``training.BatchProgress`` carries them."""
        self._loss.append(x, loss)
        self._train_acc.append(x, 100.0 * accuracy)
        self._dirty.update((0, 1))

    def add_estimate(self, x: float, accuracy: float) -> None:
        self._estimate.append(x, 100.0 * accuracy)
        self._dirty.add(1)

    def add_epoch(
        self, epoch: float, train_loss: float, test_loss: float | None, test_acc: float
    ) -> None:
        self._epoch_loss.append(epoch, train_loss)
        if test_loss is not None:
            self._test_loss.append(epoch, test_loss)
        self._test_acc.append(epoch, 100.0 * test_acc)
        self._dirty.update((0, 1))

    # ---------------------------------------------------------------- drawing

    def refresh(self, everything: bool = False) -> None:
        """Push the buffers into the curves that have new points since they were drawn.

        One chart per call, taking turns (both when ``everything``): a chart costs ~5-10 ms
        to redraw on a 2-core machine, so each timer tick stays short while each chart
        still updates several times a second.
        """
        if not self._dirty:
            return
        self.redraws += 1
        order = [self._turn, 1 - self._turn]
        chosen = [i for i in order if i in self._dirty]
        if not everything:
            chosen = chosen[:1]
            self._turn = 1 - chosen[0]
        for index in chosen:
            self._dirty.discard(index)
            for curve, series in self._pairs[index]:
                x, y = series.arrays()
                curve.setData(x, y)
            self._fit_y(index)

    def y_range(self, index: int) -> tuple[float, float]:
        """The y range shown: 0 the loss chart, 1 the accuracy chart (tests)."""
        plot = (self.loss_plot, self.accuracy_plot)[index]
        low, high = plot.getPlotItem().getViewBox().viewRange()[1]
        return float(low) + BELOW * (high - low) / (1 + BELOW), float(high)

    def plot_left(self, index: int) -> int:
        """Where the plot area of chart ``index`` starts, in this widget's pixels (tests)."""
        plot = (self.loss_plot, self.accuracy_plot)[index]
        corner = plot.getPlotItem().getViewBox().sceneBoundingRect().topLeft()
        return plot.viewport().mapTo(self, plot.mapFromScene(corner)).x()

    def points(self) -> dict[str, int]:
        """How many points each series holds (tests look at this)."""
        return {
            "batch": len(self._loss),
            "estimate": len(self._estimate),
            "epoch": len(self._test_acc),
        }


def _show_y(plot: pg.PlotWidget, low: float, high: float) -> None:
    """Show ``low``..``high`` with a sliver below ``low``: pyqtgraph leaves out a tick label
    that sits on the very edge, and the floor ("0", "95") is the one that tells the scale."""
    plot.setYRange(low - BELOW * (high - low), high, padding=0)

"""How a training run leaves the app responsive: drawing comes first.

Training in the app takes every core (``training_worker.training_threads``), and the GUI
thread shares the GIL with the training thread's Python. Two measures keep drawing and live
recognition smooth, each measured on the 2-core machine (benchmarks/bench_gui_training.py):

- a short GIL switch interval during a run (:class:`ShortSwitchInterval`);
- a lag probe: while the user draws *and* the event loop runs late, the run gives a core
  back until they have stopped drawing for a moment (:class:`Responsiveness`).
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Slot

from drawdigit.gui.training_worker import (
    SWITCH_INTERVAL,
    drawing_threads,
    restore_switch_interval,
    shorten_switch_interval,
)

DRAWING_PAUSE_MS = 1000  # no drawing for this long: training takes all its threads again
LAG_PROBE_MS = 20  # during a run, how often the event loop's lateness is measured
LAG_LIMIT = 0.025  # seconds late while the user draws: training gives a core back


class ShortSwitchInterval:
    """While a run is active, hand the GIL over every 1 ms instead of Python's 5 ms.

    The training thread runs Python between its torch calls; each time the GUI thread
    needs the GIL (every Qt event handled in Python, every chart redraw step) it may wait
    a whole switch interval for it. Measured during a run on the 2-core machine: 99th
    percentile event-loop gap 41-47 ms at 5 ms, 21 ms at 1 ms. ``restore`` puts back
    exactly what was there (also when called twice, or without ``shorten``), once the
    warm-up, which shortens it too, is also over (``training_worker.shorten_switch_interval``).
    """

    def __init__(self, interval: float = SWITCH_INTERVAL) -> None:
        self.interval = interval
        self._held = False

    def shorten(self) -> None:
        if not self._held:
            self._held = True
            shorten_switch_interval(self.interval)

    def restore(self) -> None:
        if self._held:
            self._held = False
            restore_switch_interval()


class Responsiveness(QObject):
    """The run's responsiveness policy: ``attach`` it to a run's control, ``detach`` after.

    ``user_is_drawing`` (the main window's canvas changed) starts a one-second window in
    which a late event loop makes the run drop to ``drawing_threads``; once the user has
    stopped drawing for ``DRAWING_PAUSE_MS`` it takes all its threads again.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.lag_limit = LAG_LIMIT
        self.drawing_threads: int = drawing_threads()
        self.switch_interval = ShortSwitchInterval()
        self._control: Any = None
        self._drawing_timer = QTimer(self)
        self._drawing_timer.setSingleShot(True)
        self._drawing_timer.setInterval(DRAWING_PAUSE_MS)
        self._drawing_timer.timeout.connect(self._drawing_stopped)
        self._lag_timer = QTimer(self)
        self._lag_timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._lag_timer.setInterval(LAG_PROBE_MS)
        self._lag_timer.timeout.connect(self._probe_lag)
        self._last_probe = 0.0

    def attach(self, control: Any) -> None:
        """A run starts with ``control`` (a ``training.TrainControl``)."""
        self._control = control
        self.switch_interval.shorten()
        self._last_probe = time.perf_counter()
        self._lag_timer.start()

    def detach(self) -> None:
        """The run is over (or the dialog closes): stop watching, put the GIL back."""
        self._control = None
        self._drawing_timer.stop()
        self._lag_timer.stop()
        self.switch_interval.restore()

    def threads_now(self) -> int | None:
        """The thread limit the run has at this moment (None: all it was started with)."""
        return None if self._control is None else self._control.threads_limit

    @Slot()
    def user_is_drawing(self) -> None:
        """The main window's canvas changed: the user is drawing (for the next second)."""
        if self._control is not None:
            self._drawing_timer.start()

    @Slot()
    def _probe_lag(self) -> None:
        """Give a core back when the event loop runs late while the user draws.

        Measured on the quiet 2-core machine while drawing, two training threads left the
        app responsive (longest stall 26 ms, 48 recognitions/s) and trained 22% faster than
        one, so the app keeps both unless the lag shows that the machine cannot spare them
        (with other work running, two threads gave 27-35 recognitions/s against 40-47 for
        one). It keeps the lower count until the user stops drawing.
        """
        now = time.perf_counter()
        late = now - self._last_probe - LAG_PROBE_MS / 1000
        self._last_probe = now
        if (
            late > self.lag_limit
            and self._drawing_timer.isActive()
            and self._control is not None
            and self._control.threads_limit is None
        ):
            self._control.limit_threads(self.drawing_threads)

    @Slot()
    def _drawing_stopped(self) -> None:
        if self._control is not None:
            self._control.limit_threads(None)

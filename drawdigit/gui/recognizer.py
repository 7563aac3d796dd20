"""Recognition off the GUI thread: load the model, preprocess and classify drawings.

Why a thread, and why this shape:
- Loading the model reads a file and checks it (numpy only, no torch: ``inference``), so
  it happens here, after the window is shown; the window says "loading model…" meanwhile
  and whatever is drawn in that time is recognised as soon as the model is ready.
- Drawing must never wait for the network. The GUI thread only hands over plain values (a
  ``Drawing`` copy, or an image's pixel array) and gets plain values back (the 28x28 input
  as a numpy array and a ``Prediction``); the worker never touches a widget.
- Latest wins: while one drawing is being classified, newer ones replace each other in a
  one-slot inbox, so the answer is never more than one drawing behind the pen however fast
  the events come.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal, Slot

if TYPE_CHECKING:  # numpy and torch are imported in the worker thread, not at import time
    import numpy as np

    from drawdigit.inference import Prediction, Predictor


@dataclass(frozen=True)
class RecognitionResult:
    """The recogniser's answer for one submitted drawing (identified by ``seq``)."""

    seq: int
    image28: np.ndarray | None  # the network's input; None when there is no ink
    prediction: Prediction | None  # None: no ink, or no model (yet)
    seconds: float  # preprocessing + classification time in the worker
    error: str | None = None


class _Inbox:
    """A one-slot mailbox: ``put`` replaces what is waiting (latest wins)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._item: tuple[int, Any] | None = None
        self._wake_pending = False

    def put(self, item: tuple[int, Any]) -> bool:
        """Leave ``item``; True when the worker must be woken (no wake-up is on its way)."""
        with self._lock:
            self._item = item
            if self._wake_pending:
                return False
            self._wake_pending = True
            return True

    def take(self) -> tuple[int, Any] | None:
        with self._lock:
            item, self._item = self._item, None
            self._wake_pending = False
            return item


class _Worker(QObject):
    """Lives in the recogniser's thread; only ever called through queued signals."""

    modelLoading = Signal()
    modelReady = Signal(object, list)  # ModelSource, warnings (list[str])
    modelFailed = Signal(str)
    resultReady = Signal(object)  # RecognitionResult

    def __init__(self, inbox: _Inbox) -> None:
        super().__init__()
        self._inbox = inbox
        self._predictor: Predictor | None = None
        self._last: tuple[int, Any] | None = None

    @Slot(object)
    def load_model(self, path: Path | None) -> None:
        """(Re)load the model in use; then answer the latest drawing with it."""
        self.modelLoading.emit()
        try:
            from drawdigit.inference import load_predictor  # numpy only: no torch to wait for

            predictor, warnings = load_predictor(path)
        except Exception as exc:  # noqa: BLE001 - any failure: report it, keep drawing usable
            self._predictor = None
            self.modelFailed.emit(str(exc) or type(exc).__name__)
        else:
            self._predictor = predictor
            self.modelReady.emit(predictor.source, list(warnings))
        item = self._inbox.take() or self._last
        if item is not None:
            self._answer(item)

    @Slot()
    def process(self) -> None:
        item = self._inbox.take()
        if item is not None:
            self._answer(item)

    def _answer(self, item: tuple[int, Any]) -> None:
        self._last = item
        seq, source = item
        started = time.perf_counter()
        image28 = None
        prediction = None
        error = None
        try:
            from drawdigit.preprocess import preprocess

            image28 = None if source is None else preprocess(source)
            if image28 is not None and self._predictor is not None:
                prediction = self._predictor.classify(image28)
        except Exception as exc:  # noqa: BLE001 - a bad image must not kill the worker
            error = str(exc) or type(exc).__name__
        seconds = time.perf_counter() - started
        self.resultReady.emit(RecognitionResult(seq, image28, prediction, seconds, error))


class Recognizer(QObject):
    """The GUI thread's handle on the worker: ``start``, ``submit``, ``reload_model``.

    Signals arrive in the GUI thread. ``submit`` returns a sequence number that the matching
    ``resultReady`` carries, so the caller can drop answers to drawings it has moved past.
    """

    modelLoading = Signal()
    modelReady = Signal(object, list)
    modelFailed = Signal(str)
    resultReady = Signal(object)
    _wake = Signal()
    _load = Signal(object)

    def __init__(self, model_path: Path | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._model_path = model_path
        self._inbox = _Inbox()
        self._seq = 0
        self._started = False
        self._stopped = False
        self._thread = QThread(self)
        self._thread.setObjectName("drawdigit-recognizer")
        self._worker = _Worker(self._inbox)
        self._worker.moveToThread(self._thread)
        self._wake.connect(self._worker.process)
        self._load.connect(self._worker.load_model)
        self._worker.modelLoading.connect(self.modelLoading)
        self._worker.modelReady.connect(self.modelReady)
        self._worker.modelFailed.connect(self.modelFailed)
        self._worker.resultReady.connect(self.resultReady)
        self._thread.finished.connect(self._worker.deleteLater)
        app = QCoreApplication.instance()
        if app is not None:  # never leave a running QThread behind at exit
            app.aboutToQuit.connect(self.shutdown)

    @property
    def started(self) -> bool:
        return self._started

    def start(self) -> None:
        """Start the thread and load the model there (call once the window is visible)."""
        if self._started or self._stopped:
            return
        self._started = True
        self._thread.start()
        self._load.emit(self._model_path)

    def reload_model(self) -> None:
        """Load the model in use again (after a new one was activated or the user's removed)."""
        if not self._started:
            self.start()
            return
        if self._stopped:
            return
        self._load.emit(self._model_path)

    def submit(self, source: Any) -> int:
        """Queue a ``Drawing`` or a grayscale image (None: nothing) for recognition."""
        self._seq += 1
        if self._inbox.put((self._seq, source)) and self._started:
            self._wake.emit()
        return self._seq

    def shutdown(self) -> None:
        """Stop the thread for good (waits for a model load in progress to finish)."""
        self._stopped = True
        if self._thread.isRunning():
            self._thread.quit()
            self._thread.wait()

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

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from drawdigit.gui.workers import GeneratorWorker, LatestInbox

if TYPE_CHECKING:  # numpy and torch are imported in the worker thread, not at import time
    import numpy as np

    from drawdigit.decide import Decider, Decision
    from drawdigit.inference import Prediction, Predictor


@dataclass(frozen=True)
class RecognitionResult:
    """The recogniser's answer for one submitted drawing (identified by ``seq``)."""

    seq: int
    image28: np.ndarray | None  # the network's input; None when there is no ink
    prediction: Prediction | None  # None: no ink, or no model (yet)
    seconds: float  # preprocessing + classification time in the worker
    error: str | None = None
    # The answer of ``decide`` (digit, unsure, number, not-a-digit, empty); None: no model
    # yet, or an error. ``image28`` / ``prediction`` are the whole ink read as one digit.
    decision: Decision | None = None


class _Worker(QObject):
    """Its methods run in the recogniser's thread (``_serve``); it answers by signals only."""

    modelLoading = Signal()
    modelReady = Signal(object, list)  # ModelSource, warnings (list[str])
    modelNote = Signal(str)  # what this model cannot answer (e.g. no "not a digit")
    modelFailed = Signal(str)
    resultReady = Signal(object)  # RecognitionResult

    def __init__(self, inbox: LatestInbox) -> None:
        super().__init__()
        self._inbox = inbox
        self._predictor: Predictor | None = None
        self._decider: Decider | None = None
        self._last: tuple[int, Any] | None = None

    def load_model(self, path: Path | None, drawing: tuple[int, Any] | None = None) -> None:
        """(Re)load the model in use; then answer the latest drawing with it (one drawn
        while it loaded, else ``drawing``, else the last one answered)."""
        self.modelLoading.emit()
        try:
            from drawdigit.decide import load_decider
            from drawdigit.inference import load_predictor  # numpy only: no torch to wait for

            predictor, warnings = load_predictor(path)
            decider, notes = load_decider(predictor)  # once per model
        except Exception as exc:  # noqa: BLE001 - any failure: report it, keep drawing usable
            self._predictor = self._decider = None
            self.modelFailed.emit(str(exc) or type(exc).__name__)
        else:
            self._predictor, self._decider = predictor, decider
            self.modelReady.emit(predictor.source, list(warnings))
            for note in notes:
                self.modelNote.emit(note)
        item = self._inbox.take("drawing") or drawing or self._last
        if item is not None:
            self._answer(item)

    def answer(self, item: tuple[int, Any]) -> None:
        """Answer ``item`` (seq, drawing), or a newer drawing posted since it was taken."""
        self._answer(self._inbox.take("drawing") or item)

    def _answer(self, item: tuple[int, Any]) -> None:
        self._last = item
        seq, source = item
        started = time.perf_counter()
        image28 = None
        prediction = None
        decision = None
        error = None
        try:
            from drawdigit.decide import Decision
            from drawdigit.inference import Prediction
            from drawdigit.preprocess import preprocess

            if source is None:
                decision = Decision("empty")
            elif self._decider is None:
                image28 = preprocess(source)  # no model (yet): show what it will see
            else:
                from drawdigit.segment import cut

                pieces = cut(source)
                if self._inbox.cancelled:  # closing: stop between the two steps
                    return
                decision = self._decider.decide_pieces([pieces])[0]
                if decision.whole is not None:  # the single-digit fields, as before
                    image28 = decision.whole.image28
                    prediction = Prediction.from_probabilities(decision.whole.network_probabilities)
        except Exception as exc:  # noqa: BLE001 - a bad image must not kill the worker
            error = str(exc) or type(exc).__name__
        seconds = time.perf_counter() - started
        self.resultReady.emit(RecognitionResult(seq, image28, prediction, seconds, error, decision))


def _serve(worker: _Worker, inbox: LatestInbox) -> Iterator[None]:
    """The recogniser's work, run by a ``GeneratorWorker``: load and answer until closed.
    A model load goes first; the drawing waiting with it is answered with the new model."""
    while (jobs := inbox.wait()) is not None:
        if "load" in jobs:
            worker.load_model(jobs["load"], jobs.get("drawing"))
        elif "drawing" in jobs:
            worker.answer(jobs["drawing"])
        yield None


class Recognizer(QObject):
    """The GUI thread's handle on the worker: ``start``, ``submit``, ``reload_model``.

    Signals arrive in the GUI thread. ``submit`` returns a sequence number that the matching
    ``resultReady`` carries, so the caller can drop answers to drawings it has moved past.
    The thread is a ``workers.GeneratorWorker`` running ``_serve``, so quitting the app stops
    it like every other worker.
    """

    modelLoading = Signal()
    modelReady = Signal(object, list)
    modelNote = Signal(str)
    modelFailed = Signal(str)
    resultReady = Signal(object)

    def __init__(self, model_path: Path | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._model_path = model_path
        self._inbox = LatestInbox()
        self._seq = 0
        self._started = False
        self._stopped = False
        self._worker = _Worker(self._inbox)
        # Emitted in the worker's thread, queued to this object's (the GUI) thread.
        self._worker.modelLoading.connect(self.modelLoading)
        self._worker.modelReady.connect(self.modelReady)
        self._worker.modelNote.connect(self.modelNote)
        self._worker.modelFailed.connect(self.modelFailed)
        self._worker.resultReady.connect(self.resultReady)
        self._thread = GeneratorWorker(
            _serve, self._worker, self._inbox, control=self._inbox, name="drawdigit-recognizer"
        )

    @property
    def started(self) -> bool:
        return self._started

    def start(self) -> None:
        """Start the thread and load the model there (call once the window is visible)."""
        if self._started or self._stopped:
            return
        self._started = True
        self._inbox.put("load", self._model_path)
        self._thread.start()

    def reload_model(self) -> None:
        """Load the model in use again (after a new one was activated or the user's removed)."""
        if not self._started:
            self.start()
            return
        if self._stopped:
            return
        self._inbox.put("load", self._model_path)

    def submit(self, source: Any) -> int:
        """Queue a ``Drawing`` or a grayscale image (None: nothing) for recognition."""
        self._seq += 1
        self._inbox.put("drawing", (self._seq, source))
        return self._seq

    def shutdown(self) -> None:
        """Stop the thread for good (waits for a model load in progress to finish)."""
        self._stopped = True
        self._inbox.cancel()
        if self._started:
            self._thread.stop()

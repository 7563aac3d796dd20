"""The "Look inside" work, off the GUI thread: explain the latest drawing, find its memories.

Two threads, both ``workers.GeneratorWorker`` so that closing the window or quitting the app
stops them like every other worker:

- The explainer (``_serve``): loads its own numpy network from the model file the recogniser
  loaded (``inference.load_predictor``; no torch), and for the latest drawing runs
  ``explain.explain`` (heat, feature maps, hidden vector), looks up the nearest memories and
  renders every picture as an RGB array (``render``). Latest wins, like the recogniser's
  inbox: while one drawing is explained, newer ones replace each other in the inbox, so the
  panel is never more than one drawing behind the pen, and it never queues up work that
  would compete with the recogniser for the two cores.
- The memory builder (``build_memories``): the first time a model is looked inside, the
  60,000 MNIST feature vectors are computed (about a minute) and cached by
  ``memories.load_memories``; meanwhile the explainer keeps answering, and the index is
  handed to it when ready. The builder runs at a lower OS priority, so the recogniser's
  answers do not wait for it.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from drawdigit.gui.workers import LatestInbox

if TYPE_CHECKING:
    import numpy as np

    from drawdigit.memories import Memory, MemoryIndex
    from drawdigit.numpy_net import NumpyDigitNet

MEMORY_COUNT = 8
# "compare with" choices besides a digit: the runner-up of the answer, or nothing.
RUNNER_UP = "runner-up"


@dataclass(frozen=True)
class InsideFrame:
    """Everything the window shows for one drawing, ready to paint (arrays are the worker's
    own copies; the GUI thread only wraps them in QImages)."""

    seq: int
    image28: np.ndarray | None  # None: an empty canvas (everything else is empty too)
    # The answer's distribution as the main window's bars show it (``Part.distribution``,
    # 11 values: P(0)..P(9), then P(not a digit)), so both windows give one percentage.
    probabilities: np.ndarray | None
    target: int | None  # the digit explained (the likeliest digit of ``probabilities``)
    versus: int | None  # compared against, or None
    method: str
    heat_rgb: np.ndarray | None  # (28, 28, 3) uint8
    layer_rgbs: tuple[np.ndarray, ...]  # one grid per convolution, (H, W, 3) uint8
    layer_shapes: tuple[tuple[int, int, int], ...]  # (channels, h, w) of each layer's maps
    memories: tuple[Memory, ...] | None  # None: no index (yet)
    seconds: float  # the worker's time for this frame (wall clock)
    cpu_seconds: float = 0.0  # the CPU time its thread used for it (the load left aside)


@dataclass(frozen=True)
class ModelView:
    """What the window shows of a model until it changes: the first layer's filters."""

    path: Path
    net: NumpyDigitNet
    filters_rgb: np.ndarray
    filter_count: int


class Explainer(QObject):
    """The explainer's state; its methods run in the worker's thread and answer by signals."""

    modelReady = Signal(object)  # ModelView
    modelFailed = Signal(str)
    frameReady = Signal(object)  # InsideFrame

    def __init__(self, inbox: LatestInbox) -> None:
        super().__init__()
        self._inbox = inbox
        self._path: Path | None = None
        self._net: NumpyDigitNet | None = None
        # (seq, the 28x28 input, its distribution from the main window's answer or None)
        self._drawing: tuple[int, np.ndarray | None, np.ndarray | None] | None = None
        self._versus: int | str | None = RUNNER_UP
        self._memories: MemoryIndex | None = None

    def handle(self, jobs: dict[str, Any]) -> None:
        """Take in what was posted, then (re)draw the latest drawing once."""
        if "model" in jobs:
            self._load(jobs["model"])
        if "memories" in jobs:
            path, index = jobs["memories"]
            if path == self._path:  # an index for the model in use, not an earlier one
                self._memories = index
        if "versus" in jobs:
            self._versus = jobs["versus"]
        if "drawing" in jobs:
            self._drawing = jobs["drawing"]
        if self._drawing is not None and (self._net is not None or self._drawing[1] is None):
            self.frameReady.emit(self._frame(*self._drawing))

    def _load(self, path: Path) -> None:
        from drawdigit.explain import first_layer_filters
        from drawdigit.gui.inside.render import filter_grid
        from drawdigit.inference import load_predictor

        self._memories = None
        try:
            net = load_predictor(path)[0].net
            filters = first_layer_filters(net)
            view = ModelView(path, net, filter_grid(filters), len(filters))
        except Exception as exc:  # noqa: BLE001 - any failure: say it, keep the window usable
            self._path = self._net = None
            self.modelFailed.emit(str(exc) or type(exc).__name__)
            return
        self._path, self._net = path, net
        self.modelReady.emit(view)

    def _frame(
        self, seq: int, image28: np.ndarray | None, distribution: np.ndarray | None = None
    ) -> InsideFrame:
        """Explain ``image28``. ``distribution``: the main window's answer for it (the
        numbers shown, and the digits explained); without one (no answer came with the
        drawing) the network's own softmax stands in, with 0 for "not a digit"."""
        started, cpu_started = time.perf_counter(), time.thread_time()
        if image28 is None or self._net is None:
            return InsideFrame(seq, None, None, None, None, "", None, (), (), None, 0.0)
        import numpy as np

        from drawdigit.explain import explain
        from drawdigit.gui.inside.render import activation_grid, heat_picture
        from drawdigit.numpy_net import softmax

        if distribution is None:  # one forward pass, ~1 ms, then one explain
            logits = self._net.logits_and_features(np.asarray(image28, np.float32)[None])[0]
            distribution = np.append(softmax(logits.astype(np.float64))[0], 0.0)
        digits = distribution[: self._net.config.num_classes]
        order = np.argsort(-digits, kind="stable")  # ties: the lower digit, as ``decide``
        target = int(order[0])
        versus = int(order[1]) if self._versus == RUNNER_UP else self._versus
        if versus == target:
            versus = None  # "why 4 and not 4?": the plain heat says it
        explanation = explain(self._net, image28, target=target, versus=versus)
        memories = None
        if self._memories is not None:
            memories = tuple(self._memories.nearest(explanation.hidden, MEMORY_COUNT))
        return InsideFrame(
            seq=seq,
            image28=explanation.image28,
            probabilities=np.asarray(distribution, dtype=np.float64),
            target=explanation.target,
            versus=explanation.versus,
            method=explanation.method,
            heat_rgb=heat_picture(explanation.image28, explanation.heat),
            layer_rgbs=tuple(activation_grid(maps) for maps in explanation.layers),
            layer_shapes=tuple(tuple(maps.shape) for maps in explanation.layers),
            memories=memories,
            seconds=time.perf_counter() - started,
            cpu_seconds=time.thread_time() - cpu_started,
        )


# At most 15 frames a second: above the 10 the panel must reach, and a frame costs ~20 ms
# of CPU, which at 15/s leaves most of a core to the recogniser and the pen.
MIN_FRAME_INTERVAL_S = 1 / 15
# How much less CPU the window's threads ask for than the app's others (a nice value,
# added to the process's): on two busy cores the recogniser's answer and the pen come first.
EXPLAINER_NICENESS = 5
BUILDER_NICENESS = 10


def lower_priority(niceness: int) -> None:
    """Lower the calling thread's OS priority (Linux sets a nice value per thread; where the
    call is missing or refused the thread simply keeps the usual priority)."""
    with contextlib.suppress(AttributeError, OSError):
        current = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), min(19, current + niceness))


def _serve(explainer: Explainer, inbox: LatestInbox) -> Iterator[None]:
    """The explainer's work, run by a ``GeneratorWorker`` until the inbox is closed."""
    lower_priority(EXPLAINER_NICENESS)
    while (jobs := inbox.wait()) is not None:
        started = time.monotonic()
        explainer.handle(jobs)
        yield None
        inbox.rest(MIN_FRAME_INTERVAL_S - (time.monotonic() - started))


def build_memories(
    net: NumpyDigitNet,
    path: Path,
    report: Callable[[Any], None],
    cancelled: Callable[[], bool],
    loader: Callable[..., MemoryIndex] | None = None,
) -> MemoryIndex:
    """The memory builder's work: ``memories.load_memories`` (or ``loader``, the same
    function with other arguments, e.g. a few training images in tests), progress reported
    as (done, total), at a lower OS priority than the app's other threads."""
    if loader is None:
        from drawdigit.memories import load_memories as loader
    lower_priority(BUILDER_NICENESS)
    return loader(
        net, path, progress=lambda done, total: report((done, total)), cancelled=cancelled
    )


def majority(memories: tuple[Memory, ...] | list[Memory]) -> tuple[int, int] | None:
    """The label most of the memories have and how many have it (ties: the closest first)."""
    if not memories:
        return None
    counts: dict[int, int] = {}
    for memory in memories:
        counts[memory.label] = counts.get(memory.label, 0) + 1
    label = max(counts, key=lambda lab: (counts[lab], -[m.label for m in memories].index(lab)))
    return label, counts[label]

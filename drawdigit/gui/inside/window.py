"""The "Look inside" window: where the network looked, what each layer sees, its memories.

A top-level window of its own (the main window keeps its size), fed by the main window's
``recognitionShown`` (the exact 28x28 input each answer came from) and the recogniser's
``modelReady`` (the model file in use). All the computing happens in ``engine``'s threads;
this module only wraps the finished RGB arrays in QImages and lays them out. The threads
run while the window is open: closing it stops them (and quitting the app stops every
worker, ``workers.stop_all_workers``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QSize, Qt, Signal, Slot
from PySide6.QtGui import QCloseEvent, QFont, QImage, QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from drawdigit.formatting import percent
from drawdigit.gui.images import gray_to_qimage, rgb_to_qimage
from drawdigit.gui.inside.engine import (
    MEMORY_COUNT,
    RUNNER_UP,
    Explainer,
    InsideFrame,
    ModelView,
    _serve,
    build_memories,
    majority,
)
from drawdigit.gui.inside.widgets import ArrayView, caption, ordinal, separator, title_label
from drawdigit.gui.placement import place_beside_parent
from drawdigit.gui.workers import GeneratorWorker, LatestInbox, WorkerControl

if TYPE_CHECKING:
    from pathlib import Path

    from drawdigit.gui.recognizer import RecognitionResult
    from drawdigit.gui.window.main import MainWindow
    from drawdigit.inference import ModelSource
    from drawdigit.memories import MemoryIndex

EMPTY_TEXT = "Draw a digit in the main window."
TIPS = {
    "heat": (
        "Which pixels of your drawing pushed the network toward its answer (red) and which "
        "pushed it away (blue); white ones hardly mattered."
    ),
    "versus": (
        "Ask why it chose its answer rather than another digit: the heat then shows what "
        "speaks for the answer (red) and for the other digit (blue)."
    ),
    "part": (
        "Your drawing reads as a number: each of its digits goes through the network on its "
        "own. Choose which one to look at, or the whole ink read as one digit."
    ),
    "layers": (
        "Each small square is one filter's response to your drawing after a convolution: "
        "bright where the filter found its pattern (a stroke, an edge, a corner)."
    ),
    "filters": (
        "The 3×3 patterns the first layer looks for, learned from MNIST: red weights add the "
        "pixel under them, blue ones subtract it."
    ),
    "memories": (
        "The MNIST training digits the network finds most similar to your drawing, compared "
        "on the 64 numbers it computes just before answering."
    ),
}


class InsideWindow(QWidget):
    """Look inside the network, live, on the drawing in the main window (see the module
    docstring). ``memories_loader``: ``memories.load_memories`` with other arguments (tests
    use a few thousand training images instead of 60,000)."""

    frameShown = Signal(object)  # the InsideFrame now shown
    modelShown = Signal(object)  # the ModelView now shown

    def __init__(
        self, main_window: MainWindow, memories_loader: Callable[..., MemoryIndex] | None = None
    ) -> None:
        super().__init__(main_window, Qt.WindowType.Window)
        self.setWindowTitle("Look Inside — drawdigit")
        self.setMinimumSize(540, 360)  # the layers row at one screen pixel per map pixel
        self._main = main_window
        self._memories_loader = memories_loader
        self._seq = 0
        self._model_path: Path | None = None
        self._model_view: ModelView | None = None
        self._frame: InsideFrame | None = None
        self._inbox: LatestInbox | None = None
        self._explainer_thread: GeneratorWorker | None = None
        self._builder: GeneratorWorker | None = None
        self._built: tuple[Path, MemoryIndex] | None = None  # the index of the model in use
        self._memories_note = ""
        self._result: RecognitionResult | None = None
        self._waiting: tuple[int, Any] | None = None  # a drawing not yet handed over
        self.last_show_seconds = 0.0  # the GUI thread's time to show the last frame
        self._placed = False
        self._build_ui()

        main_window.recognitionShown.connect(self._on_result)
        main_window.canvas.drawingChanged.connect(self._on_drawing_changed)
        main_window.recognizer.modelReady.connect(self._on_model_ready)
        main_window.recognizer.modelFailed.connect(self._on_model_failed)
        self.resize(720, 700)

    # ------------------------------------------------------------------ layout

    def _build_ui(self) -> None:
        content = QWidget()
        layout = QVBoxLayout(content)
        layout.setContentsMargins(14, 12, 14, 12)
        layout.setSpacing(8)

        # Where it looked
        layout.addWidget(title_label("Where it looked", TIPS["heat"]))
        row = QHBoxLayout()
        self.heat_view = ArrayView(cell=8, minimum_cell=4)
        self.heat_view.setToolTip(TIPS["heat"])
        self.heat_view.setAccessibleName("Where it looked")
        row.addWidget(self.heat_view, 3)
        side = QVBoxLayout()
        self.question_label = caption(EMPTY_TEXT, TIPS["heat"])
        font = QFont(self.question_label.font())
        font.setPointSizeF(font.pointSizeF() * 1.3)
        self.question_label.setFont(font)
        self.legend_view = ArrayView(cell=1, stretch=True)
        self.legend_view.setFixedHeight(12)
        self.legend_view.setToolTip(TIPS["heat"])
        self.legend_label = caption(tip=TIPS["heat"])
        # A number: which of its digits to look at (each is its own 28x28 input).
        choices = QGridLayout()
        self.part_label = QLabel("Look at:")
        self.part_label.setToolTip(TIPS["part"])
        self.part_combo = QComboBox()
        self.part_combo.setToolTip(TIPS["part"])
        self.part_combo.currentIndexChanged.connect(self._on_part_changed)
        self.part_label.setBuddy(self.part_combo)
        choices.addWidget(self.part_label, 0, 0)
        choices.addWidget(self.part_combo, 0, 1)
        self.part_label.hide()
        self.part_combo.hide()
        compare_label = QLabel("Compare with:")
        compare_label.setToolTip(TIPS["versus"])
        self.versus_combo = QComboBox()
        self.versus_combo.setToolTip(TIPS["versus"])
        self.versus_combo.addItem("its runner-up", RUNNER_UP)
        self.versus_combo.addItem("nothing", None)
        for digit in range(10):
            self.versus_combo.addItem(str(digit), digit)
        self.versus_combo.currentIndexChanged.connect(self._on_versus_changed)
        compare_label.setBuddy(self.versus_combo)
        choices.addWidget(compare_label, 1, 0)
        choices.addWidget(self.versus_combo, 1, 1)
        choices.setColumnStretch(1, 1)
        self.method_label = caption()
        self.method_label.setEnabled(False)  # the muted colour: a detail, not the message
        side.addWidget(self.question_label)
        side.addWidget(self.legend_view)
        side.addWidget(self.legend_label)
        side.addSpacing(6)
        side.addLayout(choices)
        side.addStretch(1)
        side.addWidget(self.method_label)
        row.addLayout(side, 2)
        layout.addLayout(row)
        layout.addWidget(separator())

        # What each layer sees
        layout.addWidget(title_label("What each layer sees", TIPS["layers"]))
        # One row, in the order the drawing goes through them: the filters layer 1 looks
        # for, then what each layer finds.
        grid = QGridLayout()
        grid.setHorizontalSpacing(12)
        self.filters_label = caption("Layer 1's filters", TIPS["filters"])
        self.filters_view = ArrayView(cell=6, minimum_cell=3, natural=QSize(31, 15))
        self.filters_view.setToolTip(TIPS["filters"])
        self.filters_view.setAccessibleName("First layer filters")
        grid.addWidget(self.filters_label, 0, 0, Qt.AlignmentFlag.AlignBottom)
        grid.addWidget(self.filters_view, 1, 0)
        grid.setColumnStretch(0, 2)
        self.layer_labels: list[QLabel] = []
        self.layer_views: list[ArrayView] = []
        # The grids of the usual network (32, 64, 64 maps) until the first drawing.
        naturals = (QSize(215, 107), QSize(95, 95), QSize(31, 31))
        for k, cell in enumerate((2, 3, 8)):
            label = caption(f"Layer {k + 1}", TIPS["layers"])
            view = ArrayView(cell=cell, minimum_cell=1, natural=naturals[k])
            view.setToolTip(TIPS["layers"])
            view.setAccessibleName(f"Feature maps of layer {k + 1}")
            grid.addWidget(label, 0, k + 1, Qt.AlignmentFlag.AlignBottom)
            grid.addWidget(view, 1, k + 1)
            grid.setColumnStretch(k + 1, (4, 2, 2)[k])
            self.layer_labels.append(label)
            self.layer_views.append(view)
        notes = caption(f"{TIPS['filters']} {TIPS['layers']}")
        notes.setEnabled(False)  # the muted colour: help, not content
        grid.addWidget(notes, 2, 0, 1, 4)
        layout.addLayout(grid)
        layout.addWidget(separator())

        # Its nearest memories
        layout.addWidget(title_label("Its nearest memories", TIPS["memories"]))
        self.memories_label = caption(tip=TIPS["memories"])
        layout.addWidget(self.memories_label)
        self.memories_progress = QProgressBar()
        self.memories_progress.setFormat("%v of %m training digits")
        self.memories_progress.hide()
        layout.addWidget(self.memories_progress)
        strip = QHBoxLayout()
        self.memory_views: list[ArrayView] = []
        self.memory_labels: list[QLabel] = []
        for _ in range(MEMORY_COUNT):
            cell = QVBoxLayout()
            view = ArrayView(cell=2, minimum_cell=1)
            label = QLabel()
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            cell.addWidget(view, 1)
            cell.addWidget(label)
            strip.addLayout(cell)
            self.memory_views.append(view)
            self.memory_labels.append(label)
        layout.addLayout(strip)
        layout.addStretch(1)

        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # fits
        scroll.setWidget(content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)

    # ------------------------------------------------------------------ threads

    def is_running(self) -> bool:
        """Whether the explainer's thread runs (while the window is open)."""
        return self._explainer_thread is not None and self._explainer_thread.is_running()

    def workers(self) -> list[GeneratorWorker]:
        """The threads this window started and that have not finished (tests)."""
        return [w for w in (self._explainer_thread, self._builder) if w and w.is_running()]

    def showEvent(self, event: QShowEvent) -> None:
        if not self._placed:  # the first time only: later, where the user left it
            self._placed = True
            place_beside_parent(self)
        super().showEvent(event)
        if self._explainer_thread is None:
            self._start()

    def _start(self) -> None:
        """Start the explainer with the model and the drawing the main window has now."""
        self._inbox = LatestInbox()
        explainer = Explainer(self._inbox)
        explainer.modelReady.connect(self._on_model_view)
        explainer.modelFailed.connect(self._on_model_failed)
        explainer.frameReady.connect(self._show_frame)
        worker = GeneratorWorker(
            _serve, explainer, self._inbox, control=self._inbox, name="drawdigit-inside"
        )
        worker.finished.connect(lambda: self._explainer_finished(worker))
        self._explainer = explainer  # kept: its signals are the window's only feed
        # Deleted without being closed (with the main window): the thread must end too.
        self.destroyed.connect(self._inbox.cancel)
        self._explainer_thread = worker
        self.versus_combo.setCurrentIndex(self.versus_combo.findData(RUNNER_UP))
        source = self._main.model_source()
        if source is not None:
            self._post_model(source.path)
        result = self._main.last_result()
        if result is None:
            self._post_drawing(None)
        else:
            self._on_result(result)
        worker.start()

    def _explainer_finished(self, worker: GeneratorWorker) -> None:
        if self._explainer_thread is worker:
            self._explainer_thread = None

    def stop(self) -> None:
        """Stop the explainer and wait for it (a frame at most), and let the memory builder
        go (the window is closing)."""
        if self._explainer_thread is not None:
            self._explainer_thread.stop()
            self._explainer_thread = None
        self._let_builder_go()
        self._inbox = None

    def closeEvent(self, event: QCloseEvent) -> None:
        self.stop()
        super().closeEvent(event)

    # ------------------------------------------------------------------ feeding

    def _post_model(self, path: Path) -> None:
        self._model_path = path
        if self._inbox is not None:
            self._inbox.put("model", path)

    def _post_drawing(self, image28: Any, distribution: Any = None) -> None:
        """Hand the drawing (and the main window's distribution for it, whose percentages
        this window repeats) to the explainer; while the window is minimised it waits here
        (the latest only), so a window nobody sees takes no CPU from the recogniser."""
        self._seq += 1
        self._waiting = (self._seq, image28, distribution)
        self._hand_waiting()

    def _hand_waiting(self) -> None:
        if self._inbox is not None and self._waiting is not None and not self.isMinimized():
            self._inbox.put("drawing", self._waiting)
            self._waiting = None

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.WindowStateChange:
            self._hand_waiting()  # back from minimised: show the drawing as it is now
        super().changeEvent(event)

    @Slot(object)
    def _on_result(self, result: RecognitionResult) -> None:
        self._result = result
        decision = result.decision
        parts = decision.parts if decision is not None and decision.kind == "number" else ()
        labels = [f"{ordinal(k + 1)} digit ({part.digit})" for k, part in enumerate(parts)]
        if parts:
            labels.append("the whole ink as one digit")
        if labels != [self.part_combo.itemText(k) for k in range(self.part_combo.count())]:
            keep = self.part_combo.currentIndex()
            self.part_combo.blockSignals(True)
            self.part_combo.clear()
            self.part_combo.addItems(labels)
            self.part_combo.setCurrentIndex(keep if 0 <= keep < len(labels) else 0)
            self.part_combo.blockSignals(False)
        self.part_label.setVisible(bool(parts))
        self.part_combo.setVisible(bool(parts))
        self._post_drawing(*self._chosen_input())

    def _chosen_input(self) -> tuple[Any, Any]:
        """The 28x28 to look at and its distribution (``decide.Part``'s, as the main
        window's bars show it): the chosen digit of a number, else the whole ink."""
        result = self._result
        if result is None:
            return None, None
        decision = result.decision
        index = self.part_combo.currentIndex()
        if decision is not None and decision.kind == "number" and 0 <= index < len(decision.parts):
            part = decision.parts[index]
            return part.image28, part.distribution
        if decision is not None and decision.whole is not None:
            return decision.whole.image28, decision.whole.distribution
        return result.image28, None

    @Slot(int)
    def _on_part_changed(self, _index: int) -> None:
        self._post_drawing(*self._chosen_input())

    @Slot(object)
    def _on_drawing_changed(self, _source: Any) -> None:
        if self._main.canvas.is_empty():  # no answer comes for an empty canvas: say it here
            self._result = None
            self.part_label.hide()
            self.part_combo.hide()
            self._post_drawing(None)

    @Slot(object, list)
    def _on_model_ready(self, source: ModelSource, _warnings: list[str]) -> None:
        self._post_model(source.path)

    @Slot(str)
    def _on_model_failed(self, message: str) -> None:
        self._model_view = None
        self.question_label.setText(f"No model to look inside: {message}")

    @Slot(int)
    def _on_versus_changed(self, _index: int) -> None:
        if self._inbox is not None:
            self._inbox.put("versus", self.versus_combo.currentData())

    # ------------------------------------------------------------------ memories

    def _start_memories(self, view: ModelView) -> None:
        """Find the model's memory index (built the first time, in a thread of its own)."""
        self._let_builder_go()
        if self._built is not None and self._built[0] == view.path:
            self._hand_memories(*self._built)
            return
        self._memories_note = (
            "Looking through the MNIST training digits (about a minute the first time for a "
            "model; everything else keeps working meanwhile)…"
        )
        self.memories_progress.setValue(0)
        control = WorkerControl()  # its report emits the worker's yielded, once bound
        worker = GeneratorWorker(
            build_memories,
            view.net,
            view.path,
            control.report,
            lambda: control.cancelled,
            self._memories_loader,
            control=control,
            name="drawdigit-inside-memories",
        )
        worker.yielded.connect(self._while_current(worker, self._on_progress))
        worker.returned.connect(
            self._while_current(worker, lambda index: self._hand_memories(view.path, index))
        )
        worker.errored.connect(
            self._while_current(worker, lambda exc: self._on_memories_failed(worker, exc))
        )
        worker.finished.connect(self._while_current(worker, self._builder_finished))
        self._builder = worker
        self.destroyed.connect(control.cancel)  # deleted without being closed: stop too
        worker.start()
        self._update_memories()

    def memories_building(self) -> bool:
        """Whether the memory index is being built or read (a thread of its own)."""
        return self._builder is not None

    def _while_current(
        self, worker: GeneratorWorker, slot: Callable[..., object]
    ) -> Callable[..., None]:
        """``slot``, called only while ``worker`` is still this window's memory builder: one
        let go (``_let_builder_go``) may still report, and must change nothing."""

        def call(*args: Any) -> None:
            if self._builder is worker:
                slot(*args)

        return call

    def _let_builder_go(self) -> None:
        """Ask the memory builder to stop and forget it, without waiting: reading MNIST can
        take seconds before it looks at the request, and the window must not freeze for
        that. It ends on its own in the background; quitting the app waits for it
        (``workers.stop_all_workers``)."""
        if self._builder is not None:
            self._builder.quit()
            self._builder = None
            self.memories_progress.hide()

    def _builder_finished(self) -> None:
        self._builder = None
        self.memories_progress.hide()

    def _on_progress(self, progress: tuple[int, int]) -> None:
        done, total = progress
        self.memories_progress.setMaximum(max(1, total))
        self.memories_progress.setValue(done)
        self.memories_progress.show()

    def _hand_memories(self, path: Path, index: MemoryIndex) -> None:
        self._built = (path, index)
        self._memories_note = ""
        self._update_memories()
        if self._inbox is not None:
            self._inbox.put("memories", (path, index))

    def _on_memories_failed(self, worker: GeneratorWorker, exc: BaseException) -> None:
        if worker.control.cancelled:
            return  # stopped on purpose: nothing went wrong
        from drawdigit.memories import MemoriesUnavailable

        if isinstance(exc, MemoriesUnavailable):
            self._memories_note = str(exc)
        else:
            self._memories_note = f"Its memories could not be read: {exc}"
        self._update_memories()

    def memories_text(self) -> str:
        return self.memories_label.text()

    def _update_memories(self) -> None:
        frame = self._frame
        memories = () if frame is None or frame.memories is None else frame.memories
        for k, (view, label) in enumerate(zip(self.memory_views, self.memory_labels, strict=True)):
            if k < len(memories):
                memory = memories[k]
                view.set_image(gray_to_qimage(memory.image))
                label.setText(str(memory.label))
                tip = (
                    f"MNIST training digit #{memory.index}, labelled {memory.label} "
                    f"(distance {memory.distance:.2f})"
                )
                view.setToolTip(tip)
            else:
                view.set_image(None)
                label.setText("")
                view.setToolTip(TIPS["memories"])
        if self._memories_note:
            text = self._memories_note
        elif frame is None or frame.image28 is None:
            text = "Draw a digit to see the training digits it resembles."
        elif not memories:
            text = "Finding its memories…"
        else:
            label, count = majority(memories) or (0, 0)
            text = f"It looks most like these {label}s ({count} of {len(memories)})."
        self.memories_label.setText(text)

    # ------------------------------------------------------------------ showing

    @Slot(object)
    def _on_model_view(self, view: ModelView) -> None:
        self._model_view = view
        self.filters_view.set_image(rgb_to_qimage(view.filters_rgb))
        self.filters_label.setText(f"Layer 1's {view.filter_count} filters (3×3)")
        self._start_memories(view)
        self.modelShown.emit(view)

    @Slot(object)
    def _show_frame(self, frame: InsideFrame) -> None:
        started = time.perf_counter()
        self._frame = frame
        if frame.image28 is None:
            self.heat_view.set_image(None)
            self.legend_view.hide()
            self.question_label.setText(EMPTY_TEXT)
            self.legend_label.setText("")
            self.method_label.setText("")
            for view, label in zip(self.layer_views, self.layer_labels, strict=True):
                view.set_image(None)
                label.setText(label.text().split(":")[0])
        else:
            self._show_heat(frame)
            for k, (view, label) in enumerate(
                zip(self.layer_views, self.layer_labels, strict=True)
            ):
                rgb = frame.layer_rgbs[k] if k < len(frame.layer_rgbs) else None
                view.set_image(None if rgb is None else rgb_to_qimage(rgb))
                if k < len(frame.layer_shapes):
                    channels, height, width = frame.layer_shapes[k]
                    label.setText(f"Layer {k + 1}: {channels} maps, {height}×{width}")
        self._update_memories()
        self.last_show_seconds = time.perf_counter() - started
        self.frameShown.emit(frame)

    def _show_heat(self, frame: InsideFrame) -> None:
        from drawdigit.gui.inside.render import colour_bar

        assert frame.heat_rgb is not None and frame.probabilities is not None
        target, versus, p = frame.target, frame.versus, frame.probabilities
        self.heat_view.set_image(rgb_to_qimage(frame.heat_rgb))
        if self.legend_view.image().isNull():  # the same for every frame: made once
            self.legend_view.set_image(rgb_to_qimage(colour_bar()))
        self.legend_view.show()
        not_digit = float(p[-1])  # P(not a digit): the main window's last bar
        if versus is None:
            question = f"Why {target}? ({percent(p[target], 0)})"
            self.legend_label.setText(
                f"Red pixels pushed it toward {target}, blue ones away from it; "
                "pale ones hardly mattered."
            )
        else:
            question = (
                f"Why {target} ({percent(p[target], 0)}) and not {versus} "
                f"({percent(p[versus], 0)})?"
            )
            self.legend_label.setText(
                f"Red pixels speak for {target} rather than {versus}, blue ones for {versus}; "
                "pale ones hardly mattered."
            )
        if not_digit > p[target]:  # the main window says "probably not a digit": so here
            question += f"\nMore likely not a digit ({percent(not_digit, 0)})"
        self.question_label.setText(question)
        self.method_label.setText(f"Method: {frame.method}")

    def heat_image(self) -> QImage:
        """The heat map shown (28x28 RGB; null with an empty canvas)."""
        return self.heat_view.image()

    def shown_frame(self) -> InsideFrame | None:
        return self._frame

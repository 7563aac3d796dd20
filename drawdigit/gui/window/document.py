"""The drawing as a document: open, save, export, drop, and which file it is.

``Document`` holds the file the drawing came from (a strokes file it may be saved back to)
or the name of the image shown, and reads "modified" from the canvas's undo stack (clean
at the last open or save). Opening is an undo step, so which file the drawing came from is
tied to the undo stack too: each open, save or New records the command it happened after,
and undoing past an open brings back the file (or "Untitled") from before it, so Save can
never write an earlier drawing over the file that was opened. Open, New and drop ask to
save a changed drawing first (a window-modal box; the window asks the same before it
closes). It handles the window's drag and drop through an event filter,
so the window need not forward its drop events. Files are read off the GUI thread (a
``GeneratorWorker``: a huge picture takes seconds to decode, the window never waits for it),
the latest open wins. Every failure is a window-modal message box that leaves the drawing
as it was; files are written atomically.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import shiboken6
from PySide6.QtCore import QBuffer, QByteArray, QEvent, QIODevice, QObject, Qt, QUrl, Signal
from PySide6.QtGui import QDropEvent, QImage, QUndoCommand
from PySide6.QtWidgets import QFileDialog, QMenu, QMessageBox, QWidget

from drawdigit.gui.images import gray_to_qimage, rgb_to_qimage
from drawdigit.gui.window.messages import show_message
from drawdigit.gui.window.settings import last_dir, remember_dir

if TYPE_CHECKING:
    import numpy as np

    from drawdigit.gui.canvas import DrawingCanvas
    from drawdigit.gui.workers import GeneratorWorker, WorkerControl
    from drawdigit.pictures import Picture
    from drawdigit.strokes import Drawing

OPEN_FILTER = (
    "Drawings and images (*.json *.png *.jpg *.jpeg *.bmp *.gif *.webp *.tif *.tiff *.pgm *.ppm);;"
    "Drawings (*.json);;Images (*.png *.jpg *.jpeg *.bmp *.gif *.webp *.tif *.tiff *.pgm *.ppm);;"
    "All files (*)"
)


@dataclass(frozen=True, eq=False)  # each record is itself: compared by identity
class _Source:
    """Where the drawing came from, from one point of the undo history on: ``index`` is the
    stack's index then and ``command`` the step just before it (None at index 0)."""

    index: int
    command: QUndoCommand | None
    path: Path | None
    name: str


_Loaded = tuple["Drawing | None", "np.ndarray | None", "QImage | None"]


class Document(QObject):
    """The file side of the window. ``model_input`` returns the 28x28 input the panel shows
    (None before the first answer), for "Export Model Input"."""

    changed = Signal()  # the file or the name shown changed (the title must follow)
    status = Signal(str, int)  # a status-bar message and how long to show it (ms)
    opened = Signal(object)  # the Path of a file read and shown (``open_path``)
    open_failed = Signal(object, str)  # the Path of a file that could not be, and why

    def __init__(
        self,
        window: QWidget,
        canvas: DrawingCanvas,
        model_input: Callable[[], np.ndarray | None],
    ) -> None:
        super().__init__(window)
        self._window = window
        self._canvas = canvas
        self._model_input = model_input
        self._sources: list[_Source] = []  # oldest first; none: an untitled drawing
        self._shown: tuple[Path | None, str] = (None, "")
        self._question: QMessageBox | None = None  # the save question, while it is open
        # the file being read off the GUI thread: (worker, path, ask to save?, untitled?)
        self._reading: tuple[GeneratorWorker, Path, bool, bool] | None = None
        canvas.undo_stack.indexChanged.connect(self._on_index_changed)
        window.setAcceptDrops(True)
        window.installEventFilter(self)

    # ------------------------------------------------------------------ state

    def path(self) -> Path | None:
        """The strokes file Save writes to (None: Save asks for a name)."""
        return self._current()[0]

    def display_name(self) -> str:
        """The name for the title bar: the file, the image, or "Untitled"."""
        path, name = self._current()
        if path is not None:
            return path.name
        return name or "Untitled"

    def is_modified(self) -> bool:
        """Changed since it was opened or saved: undoing back to that point is clean, as is
        undoing past an Open back to the unchanged drawing of the file before it (unless
        that file has been written from another drawing since)."""
        stack = self._canvas.undo_stack
        if stack.isClean():
            return False
        source = self._current_source()
        if source is None or source.path is None or source.index != stack.index():
            return True
        # The drawing is exactly as it was read or written at ``source``; unchanged unless
        # the same file was written later from another point of the history.
        later = self._sources[self._sources.index(source) + 1 :]
        return any(
            s.path == source.path and (s.index != source.index or s.command is not source.command)
            for s in later
        )

    def needs_saving(self) -> bool:
        """Whether leaving this drawing loses work: changed, and strokes to lose (an empty
        canvas or an image, which is a file already, has nothing to save)."""
        return self.is_modified() and not self._canvas.is_empty() and self._canvas.picture() is None

    def _current(self) -> tuple[Path | None, str]:
        """The file and name the drawing came from (``_current_source``)."""
        source = self._current_source()
        return (None, "") if source is None else (source.path, source.name)

    def _current_source(self) -> _Source | None:
        """The latest source in the undo history up to now (the one at the highest index;
        of several at one index, the last recorded). None: an untitled drawing."""
        stack = self._canvas.undo_stack
        index = stack.index()
        best: _Source | None = None
        for source in self._sources:
            if source.index > index or (best is not None and source.index < best.index):
                continue  # undone past it (Redo may bring it back), or older
            if source.command is None or (
                shiboken6.isValid(source.command)
                and stack.command(source.index - 1) is source.command
            ):
                best = source
        return best

    def _set_source(self, path: Path | None, source_name: str = "") -> None:
        """From the undo stack's state now on, the drawing is ``path`` (or the image named)."""
        stack = self._canvas.undo_stack
        index = stack.index()
        command = stack.command(index - 1) if index > 0 else None
        # Drop sources whose step was undone and then replaced: they can never return.
        self._sources = [s for s in self._sources if s.index <= stack.count()]
        self._sources.append(_Source(index, command, path, source_name))
        self._on_index_changed()

    def _on_index_changed(self) -> None:
        if not shiboken6.isValid(self._canvas.undo_stack):
            return  # the stack emits as it is destroyed with its window: nothing to show
        current = self._current()
        if current != self._shown:
            self._shown = current
            self.changed.emit()

    # ------------------------------------------------------------------ asking to save

    def ask_to_save(self, doing: str, proceed: Callable[[], object]) -> None:
        """Run ``proceed`` once a changed drawing is saved or discarded; Cancel (or Escape)
        runs nothing. A window-modal box that returns at once, as every box of the window;
        unchanged drawings go on at once. ``doing`` ends the question ("before opening…")."""
        if not self.needs_saving():
            proceed()
            return
        if self._question is not None:
            self._question.raise_()
            return
        buttons = QMessageBox.StandardButton
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Unsaved Drawing",
            f"Save the changes to “{self.display_name()}” before {doing}?",
            buttons.Save | buttons.Discard | buttons.Cancel,
            self._window,
        )
        box.setInformativeText("If you don't save, your changes are lost.")
        box.setDefaultButton(buttons.Save)
        box.setEscapeButton(buttons.Cancel)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setWindowModality(Qt.WindowModality.WindowModal)

        def answered(button: object) -> None:
            self._question = None
            choice = box.standardButton(button)  # type: ignore[arg-type]
            if choice == buttons.Discard or (choice == buttons.Save and self.save()):
                proceed()

        box.buttonClicked.connect(answered)
        box.rejected.connect(lambda: setattr(self, "_question", None))
        self._question = box
        box.open()

    def new_drawing(self) -> None:
        """File > New: asks to save a changed drawing, then a blank untitled sheet (an undo
        step, like Clear: Undo brings the drawing back with its file)."""
        self.ask_to_save("starting a new drawing", self._new_now)

    def _new_now(self) -> None:
        self._canvas.clear()
        self._canvas.undo_stack.setClean()
        self._set_source(None)
        self.status.emit("New drawing", 3000)

    # ------------------------------------------------------------------ open

    def open_file_dialog(self) -> None:
        """File > Open: asks to save a changed drawing first, then which file to open."""
        self.ask_to_save("opening another file", self._choose_and_open)

    def _choose_and_open(self) -> None:
        name, _ = QFileDialog.getOpenFileName(
            self._window, "Open Drawing or Image", last_dir(), OPEN_FILTER
        )
        if name:
            self.open_path(Path(name))

    def ask_and_open(self, path: Path | str) -> None:
        """A dropped file: read first (a bad file only says so, and nothing is asked), then
        ask to save a changed drawing, then show it."""
        self._start_reading(Path(path), ask=True)

    def open_path(self, path: Path | str) -> None:
        """Show a strokes file or an image once it is read; a bad file gets a message box and
        changes nothing.

        The file is read off the GUI thread (a photo of a hundred million pixels takes
        seconds to decode): ``opened`` follows once it is shown, ``open_failed`` once a
        message said why not. A newer open replaces one still being read. A strokes file
        is known by its content, so one saved under another suffix opens too. Asks
        nothing: the File menu and drops ask to save first (``ask_to_save``).
        """
        self._start_reading(Path(path))

    def is_reading(self) -> bool:
        """Whether a file is being read to be shown."""
        return self._reading is not None

    def cancel_reading(self) -> None:
        """Stop reading a file (the window closes): it is not shown."""
        if self._reading is not None:
            self._reading[0].quit()
            self._reading = None

    def _start_reading(self, path: Path, *, ask: bool = False, untitled: bool = False) -> None:
        from drawdigit.gui.workers import GeneratorWorker, WorkerControl

        self.cancel_reading()
        control = WorkerControl()
        worker = GeneratorWorker(_read, path, control, control=control, name="drawdigit-open")
        self._reading = (worker, path, ask, untitled)
        worker.returned.connect(self._on_read)
        worker.errored.connect(self._on_read_failed)
        self.status.emit(f"Opening {path.name}…", 0)
        worker.start()

    def _read_by(self) -> tuple[Path, bool, bool] | None:
        """The file the worker that sent this signal read, if it is still the one wanted."""
        if self._reading is None or self.sender() is not self._reading[0]:
            return None
        _, path, ask, untitled = self._reading
        self._reading = None
        return path, ask, untitled

    def _on_read(self, source: Drawing | Picture) -> None:
        from drawdigit.strokes import Drawing

        wanted = self._read_by()
        if wanted is None:
            return
        path, ask, untitled = wanted
        if isinstance(source, Drawing):
            loaded: _Loaded = (source, None, None)
        else:
            loaded = (None, source.gray, rgb_to_qimage(source.rgb))  # upright, in colour
        if ask:
            self.ask_to_save(f"opening “{path.name}”", lambda: self._show(path, loaded))
        else:
            self._show(path, loaded, untitled=untitled)

    def _on_read_failed(self, exc: BaseException) -> None:
        from drawdigit.preprocess import ImageError
        from drawdigit.strokes import StrokesError

        wanted = self._read_by()
        if wanted is None:
            return
        path = wanted[0]
        if isinstance(exc, (StrokesError, ImageError)):
            self._open_failed(path, str(exc))
        elif isinstance(exc, (OSError, ValueError)):
            self._open_failed(path, f"{path}: {exc}")
        else:
            raise exc

    def _show(self, path: Path, loaded: _Loaded, *, untitled: bool = False) -> None:
        drawing, pixels, image = loaded
        if drawing is not None:
            self._canvas.set_drawing(drawing)
            self._canvas.undo_stack.setClean()
            self._set_source(None if untitled else path)
        else:
            assert image is not None
            self._canvas.set_picture(image, pixels, path.name)
            self._canvas.undo_stack.setClean()
            self._set_source(None, path.name)
        remember_dir(path)
        self.status.emit(f"Opened {path}", 5000)
        self.opened.emit(path)

    def _open_failed(self, path: Path, message: str) -> None:
        self.status.emit("", 0)
        show_message(
            self._window,
            QMessageBox.Icon.Warning,
            "Cannot Open File",
            f"“{path.name}” could not be opened.",
            detail=f"{message}\n\ndrawdigit opens drawings saved as strokes files (.json) "
            "and images (PNG, JPEG, BMP…). The current drawing is unchanged.",
        )
        self.open_failed.emit(path, message)

    def fill_samples_menu(self, menu: QMenu) -> None:
        """File > Open Sample: the bundled sample drawings, filled when the menu opens."""
        menu.clear()
        try:
            from drawdigit.store import resource_path

            files = sorted(resource_path("samples").glob("*.json"))
        except OSError:  # FileNotFoundError included: a build without samples
            files = []
        if not files:
            menu.addAction("No samples found").setEnabled(False)
            return
        for file in files:
            action = menu.addAction(file.stem.replace("-", " ").capitalize())
            action.triggered.connect(lambda _checked=False, f=file: self.ask_and_open_sample(f))

    def ask_and_open_sample(self, path: Path) -> None:
        """File > Open Sample: asks to save a changed drawing first."""
        self.ask_to_save("opening a sample", lambda: self.open_sample(path))

    def open_sample(self, path: Path) -> None:
        """Open a bundled sample as an untitled drawing: Save never overwrites a sample."""
        self._start_reading(Path(path), untitled=True)

    # ------------------------------------------------------------------ save

    def save(self) -> bool:
        """Save back to the file this drawing came from; Save As when it came from none."""
        path = self.path()
        if path is None:
            return self.save_as_dialog()
        return self.save_to(path)

    def save_as_dialog(self) -> bool:
        if self._canvas.picture() is not None:
            show_message(
                self._window,
                QMessageBox.Icon.Information,
                "Save",
                "An image is shown, not a drawing: use Export Drawing as PNG to save it.",
            )
            return False
        path = self.path()
        start = str(path) if path else str(Path(last_dir()) / "digit.json")
        name, _ = QFileDialog.getSaveFileName(
            self._window, "Save Drawing", start, "Drawings (*.json)"
        )
        if not name:
            return False
        path = Path(name)
        if path.suffix.lower() != ".json":
            path = path.with_name(path.name + ".json")
        return self.save_to(path)

    def save_to(self, path: Path | str) -> bool:
        """Write the drawing as a strokes file (atomically); errors get a message box."""
        from drawdigit.strokes import StrokesError, save_drawing

        path = Path(path)
        try:
            save_drawing(path, self._canvas.drawing())
        except (OSError, StrokesError) as exc:
            detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            show_message(
                self._window,
                QMessageBox.Icon.Critical,
                "Cannot Save",
                f"Could not save {path}.",
                detail=detail,
            )
            return False
        self._canvas.undo_stack.setClean()
        self._set_source(path)
        remember_dir(path)
        self.status.emit(f"Saved {path}", 5000)
        return True

    # ------------------------------------------------------------------ export

    def export_drawing_dialog(self) -> None:
        name = self._ask_png_name("Export Drawing as PNG", "drawing.png")
        if name:
            self.export_drawing_png(name)

    def export_input_dialog(self) -> None:
        if self._model_input() is None:
            show_message(
                self._window, QMessageBox.Icon.Information, "Export", "Draw a digit first."
            )
            return
        name = self._ask_png_name("Export Model Input as PNG", "model-input-28x28.png")
        if name:
            self.export_input_png(name)

    def _ask_png_name(self, title: str, default: str) -> Path | None:
        path = self.path()
        stem = path.stem + "-" if path else ""
        start = str(Path(last_dir()) / f"{stem}{default}")
        name, _ = QFileDialog.getSaveFileName(self._window, title, start, "PNG images (*.png)")
        if not name:
            return None
        path = Path(name)
        return path if path.suffix.lower() == ".png" else path.with_name(path.name + ".png")

    def export_drawing_png(self, path: Path | str) -> bool:
        """The paper at the drawing's own size (1 px per canvas px), dark ink on white."""
        return self._write_png(Path(path), self._canvas.render_document())

    def export_input_png(self, path: Path | str) -> bool:
        """The 28x28 network input as a 28x28 grayscale PNG (ink white, as MNIST)."""
        image28 = self._model_input()
        if image28 is None:
            return False
        return self._write_png(Path(path), gray_to_qimage(image28))

    def _write_png(self, path: Path, image: QImage) -> bool:
        from drawdigit.store import atomic_write_bytes

        data = QByteArray()
        buffer = QBuffer(data)
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        ok = image.save(buffer, "PNG")
        buffer.close()
        try:
            if not ok:
                raise OSError("the image could not be encoded as PNG")
            atomic_write_bytes(path, bytes(data.data()))
        except OSError as exc:
            show_message(
                self._window,
                QMessageBox.Icon.Critical,
                "Cannot Export",
                f"Could not write {path}.",
                detail=exc.strerror or str(exc),
            )
            return False
        remember_dir(path)
        self.status.emit(f"Exported {path}", 5000)
        return True

    # ------------------------------------------------------------------ drag and drop

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """The window's drag and drop: one local file is accepted and opened."""
        kind = event.type()
        if watched is self._window and kind in _DROP_EVENTS:
            assert isinstance(event, QDropEvent)  # DragEnter and DragMove derive from it
            path = dropped_path(event.mimeData().urls())
            if path is None:
                event.ignore()
            else:
                event.acceptProposedAction()
                if kind == QEvent.Type.Drop:
                    self.ask_and_open(path)
            return True
        return super().eventFilter(watched, event)


_DROP_EVENTS = (QEvent.Type.DragEnter, QEvent.Type.DragMove, QEvent.Type.Drop)


def dropped_path(urls: list[QUrl]) -> Path | None:
    """The one local file being dragged, or None (several files, or not local)."""
    if len(urls) != 1 or not urls[0].isLocalFile():
        return None
    return Path(urls[0].toLocalFile())


def _read(path: Path, control: WorkerControl) -> Drawing | Picture:
    """The worker's job: the file as a drawing or a picture (``read_source``), stopped
    between the strips of a large picture once ``control`` is cancelled."""
    from drawdigit.preprocess import read_source

    return read_source(path, control.check)

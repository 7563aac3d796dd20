"""The drawing as a document: open, save, export, drop, and which file it is.

``Document`` holds the file the drawing came from (a strokes file it may be saved back to)
or the name of the image shown, and reads "modified" from the canvas's undo stack (clean
at the last open or save). It handles the window's drag and drop through an event filter,
so the window need not forward its drop events. Every failure is a window-modal message box
that leaves the drawing as it was; files are written atomically.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QBuffer, QByteArray, QEvent, QIODevice, QObject, QUrl, Signal
from PySide6.QtGui import QDropEvent, QImage
from PySide6.QtWidgets import QFileDialog, QMenu, QMessageBox, QWidget

from drawdigit.gui.images import gray_to_qimage
from drawdigit.gui.window.messages import show_message
from drawdigit.gui.window.settings import last_dir, remember_dir

if TYPE_CHECKING:
    import numpy as np

    from drawdigit.gui.canvas import DrawingCanvas

OPEN_FILTER = (
    "Drawings and images (*.json *.png *.jpg *.jpeg *.bmp *.gif *.webp *.tif *.tiff *.pgm *.ppm);;"
    "Drawings (*.json);;Images (*.png *.jpg *.jpeg *.bmp *.gif *.webp *.tif *.tiff *.pgm *.ppm);;"
    "All files (*)"
)


class Document(QObject):
    """The file side of the window. ``model_input`` returns the 28x28 input the panel shows
    (None before the first answer), for "Export Model Input"."""

    changed = Signal()  # the file or the name shown changed (the title must follow)
    status = Signal(str, int)  # a status-bar message and how long to show it (ms)

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
        self._path: Path | None = None  # the strokes file being edited
        self._source_name = ""  # the image shown, when it is one
        window.setAcceptDrops(True)
        window.installEventFilter(self)

    # ------------------------------------------------------------------ state

    def path(self) -> Path | None:
        """The strokes file Save writes to (None: Save asks for a name)."""
        return self._path

    def display_name(self) -> str:
        """The name for the title bar: the file, the image, or "Untitled"."""
        if self._path is not None:
            return self._path.name
        return self._source_name or "Untitled"

    def is_modified(self) -> bool:
        """Changed since it was opened or saved (undoing back to that point is clean)."""
        return not self._canvas.undo_stack.isClean()

    def _set_source(self, path: Path | None, source_name: str = "") -> None:
        self._path = path
        self._source_name = source_name
        self.changed.emit()

    # ------------------------------------------------------------------ open

    def open_file_dialog(self) -> None:
        name, _ = QFileDialog.getOpenFileName(
            self._window, "Open Drawing or Image", last_dir(), OPEN_FILTER
        )
        if name:
            self.open_path(Path(name))

    def open_path(self, path: Path | str) -> bool:
        """Show a strokes file or an image; a bad file gets a message box and changes nothing.

        A strokes file is known by its content, so one saved under another suffix opens too.
        """
        from drawdigit.preprocess import ImageError, load_image
        from drawdigit.strokes import StrokesError, load_drawing

        path = Path(path)
        drawing = None
        pixels = None
        try:
            if path.suffix.lower() == ".json":
                drawing = load_drawing(path)
            else:
                try:
                    pixels = load_image(path)
                except ImageError:
                    if not _looks_like_json(path):
                        raise
                    drawing = load_drawing(path)  # a strokes file without .json
            image = None if pixels is None else gray_to_qimage(pixels)
        except (StrokesError, ImageError) as exc:
            self._open_failed(path, str(exc))
            return False
        except (OSError, ValueError) as exc:
            self._open_failed(path, f"{path}: {exc}")
            return False
        if drawing is not None:
            self._canvas.set_drawing(drawing)
            self._canvas.undo_stack.setClean()
            self._set_source(path)
        else:
            assert image is not None
            self._canvas.set_picture(image, pixels, path.name)
            self._canvas.undo_stack.setClean()
            self._set_source(None, path.name)
        remember_dir(path)
        self.status.emit(f"Opened {path}", 5000)
        return True

    def _open_failed(self, path: Path, message: str) -> None:
        show_message(
            self._window,
            QMessageBox.Icon.Warning,
            "Cannot Open File",
            f"“{path.name}” could not be opened.",
            detail=f"{message}\n\ndrawdigit opens drawings saved as strokes files (.json) "
            "and images (PNG, JPEG, BMP…). The current drawing is unchanged.",
        )

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
            action.triggered.connect(lambda _checked=False, f=file: self.open_sample(f))

    def open_sample(self, path: Path) -> bool:
        """Open a bundled sample as an untitled drawing: Save never overwrites a sample."""
        if not self.open_path(path):
            return False
        self._set_source(None)
        return True

    # ------------------------------------------------------------------ save

    def save(self) -> bool:
        if self._path is None:
            return self.save_as_dialog()
        return self.save_to(self._path)

    def save_as_dialog(self) -> bool:
        if self._canvas.picture() is not None:
            show_message(
                self._window,
                QMessageBox.Icon.Information,
                "Save",
                "An image is shown, not a drawing: use Export Drawing as PNG to save it.",
            )
            return False
        start = str(self._path) if self._path else str(Path(last_dir()) / "digit.json")
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
        stem = self._path.stem + "-" if self._path else ""
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
                    self.open_path(path)
            return True
        return super().eventFilter(watched, event)


_DROP_EVENTS = (QEvent.Type.DragEnter, QEvent.Type.DragMove, QEvent.Type.Drop)


def dropped_path(urls: list[QUrl]) -> Path | None:
    """The one local file being dragged, or None (several files, or not local)."""
    if len(urls) != 1 or not urls[0].isLocalFile():
        return None
    return Path(urls[0].toLocalFile())


def _looks_like_json(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(64).lstrip().startswith(b"{")
    except OSError:
        return False

"""Where the training data comes from: the MNIST folder, its download, the personal samples.

The folder is an explicit one, else the one remembered in the settings, else the first of
the usual places that holds the four files. Without one, the view offers to download MNIST
(a ``GeneratorWorker`` running ``training_worker.download``, with progress and cancel) or to
choose a folder. "MNIST + my samples" mixes the personal samples into the run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from drawdigit.gui.training_worker import DownloadStatus, describe_download_error, download
from drawdigit.gui.workers import GeneratorWorker, WorkerControl

SETTINGS_DATA_DIR = "training/mnist_dir"
DOWNLOAD_MB = 11.4  # compressed size of the four files, for "Download (about 11 MB)"


def not_found_text() -> str:
    from drawdigit.mnist import data_dir_candidates

    places = ", ".join(str(path) for _name, path in data_dir_candidates())
    return (
        "MNIST was not found (looked in: "
        f"{places}). Download it (about {DOWNLOAD_MB:.0f} MB), or choose a folder that "
        "holds the four files."
    )


def button(text: str, tip: str, slot: Any) -> QPushButton:
    """A push button that never becomes the dialog's default (Return must not press it)."""
    widget = QPushButton(text)
    widget.setToolTip(tip)
    widget.clicked.connect(slot)
    widget.setAutoDefault(False)
    return widget


class DataView(QGroupBox):
    """The "Data" box.

    Signals: ``dataDirChanged(object)`` (the folder the next run reads, or None),
    ``downloadingChanged(bool)`` and ``sourceChosen(bool)`` (the user chose "MNIST + my
    samples" (True) or "MNIST").
    """

    dataDirChanged = Signal(object)
    downloadingChanged = Signal(bool)
    sourceChosen = Signal(bool)

    def __init__(
        self,
        settings: QSettings,
        mirrors: tuple[str, ...] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__("Data", parent)
        self._settings = settings
        self.mirrors = mirrors
        self._data_dir: Path | None = None
        self._problem = ""
        self._download: GeneratorWorker | None = None
        self.folder_dialog: QFileDialog | None = None
        layout = QVBoxLayout(self)
        self.data_label = QLabel()
        self.data_label.setWordWrap(True)
        self.data_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.data_label)
        buttons = QHBoxLayout()
        self.download_button = button(
            f"Download ({DOWNLOAD_MB:.0f} MB)",
            "Download the four MNIST files into your data folder; each file's checksum is "
            "verified, and a broken transfer is resumed",
            self.start_download,
        )
        self.choose_button = button(
            "Choose folder…",
            "Use a folder that already holds the four MNIST files (.gz or unpacked)",
            self.choose_folder,
        )
        buttons.addWidget(self.download_button)
        buttons.addWidget(self.choose_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        progress_row = QHBoxLayout()
        self.download_progress = QProgressBar()
        self.download_progress.setToolTip("Download progress of the current file")
        self.download_progress.setTextVisible(True)
        self.download_cancel_button = button(
            "Cancel", "Stop the download (finished files are kept)", self.cancel_download
        )
        progress_row.addWidget(self.download_progress, 1)
        progress_row.addWidget(self.download_cancel_button)
        self.download_row = QWidget()
        self.download_row.setLayout(progress_row)
        progress_row.setContentsMargins(0, 0, 0, 0)
        self.download_row.hide()
        layout.addWidget(self.download_row)
        self.download_label = QLabel()
        self.download_label.setWordWrap(True)
        self.download_label.hide()
        layout.addWidget(self.download_label)
        source_row = QHBoxLayout()
        source_row.addWidget(QLabel("Train on:"))
        self.source_combo = QComboBox()
        self.source_combo.addItem("MNIST", False)
        self.source_combo.addItem("MNIST + my samples", True)
        self.source_combo.setToolTip(
            "“MNIST + my samples” mixes in the digits you corrected or confirmed in the main "
            "window (3% of every epoch, each copy varied by augmentation) and starts "
            "from the model in use; a quarter of your samples is kept aside to show how "
            "much the new model learnt your handwriting"
        )
        self.source_combo.activated.connect(self._on_source_chosen)
        source_row.addWidget(self.source_combo, 1)
        layout.addLayout(source_row)

    # ------------------------------------------------------------------ the folder

    def choose_initial(self, explicit: Path | str | None) -> None:
        """Explicit folder, else the remembered one, else the usual places."""
        from drawdigit.mnist import MnistError, find_data_dir, has_all_files

        if explicit is not None:
            self._set_data_dir(Path(explicit), remember=False)
            return
        remembered = self._settings.value(SETTINGS_DATA_DIR)
        if remembered and has_all_files(Path(str(remembered))):
            self._set_data_dir(Path(str(remembered)), remember=False)
            return
        try:
            found = find_data_dir()
        except MnistError:
            found = None
        self._data_dir = found
        self._problem = "" if found else not_found_text()
        self._show_state()

    def data_dir(self) -> Path | None:
        """The MNIST folder the next run reads, or None when there is none yet."""
        return self._data_dir

    def set_data_dir(self, path: Path | str) -> bool:
        """Use ``path`` for MNIST if it holds the four files; remember it. False if not."""
        return self._set_data_dir(Path(path), remember=True)

    def _set_data_dir(self, path: Path, remember: bool) -> bool:
        from drawdigit.mnist import missing_files

        if not path.is_dir():
            self._problem = f"{path}: no such folder."
            ok = False
        else:
            missing = missing_files(path)
            ok = not missing
            self._problem = (
                ""
                if ok
                else f"{path} does not hold the MNIST files; missing: "
                + ", ".join(f"{name}[.gz]" for name in missing)
                + "."
            )
        if ok:
            self._data_dir = path
            self.forget_download_error()  # the data is there now
            if remember:
                self._settings.setValue(SETTINGS_DATA_DIR, str(path))
                self._settings.sync()
        elif self._data_dir is not None and self._data_dir == path:
            self._data_dir = None
        self._show_state()
        self.dataDirChanged.emit(self._data_dir)
        return ok

    def _show_state(self) -> None:
        if self._data_dir is not None:
            text = f"MNIST: {self._data_dir}"
            if self._problem:
                text += f"\n{self._problem}"
            self.data_label.setText(text)
            self.data_label.setStyleSheet("")
            self.download_button.hide()
            self.choose_button.setText("Change folder…")
        else:
            self.data_label.setText(self._problem or not_found_text())
            self.data_label.setStyleSheet("color: palette(highlight);")
            self.download_button.show()
            self.choose_button.setText("Choose folder…")

    @Slot()
    def choose_folder(self) -> None:
        """Ask for the folder holding MNIST (window-modal, the app keeps running)."""
        start = str(self._data_dir or Path.home())
        dialog = QFileDialog(self, "Folder with the MNIST files", start)
        dialog.setFileMode(QFileDialog.FileMode.Directory)
        dialog.setOption(QFileDialog.Option.ShowDirsOnly, True)
        dialog.fileSelected.connect(self.set_data_dir)
        dialog.finished.connect(dialog.deleteLater)
        self.folder_dialog = dialog
        dialog.open()

    # ------------------------------------------------------------------ the download

    def downloading(self) -> bool:
        return self._download is not None

    def download_worker(self) -> GeneratorWorker | None:
        """The download in progress (its ``yielded`` carries ``DownloadStatus``), or None."""
        return self._download

    @Slot()
    def start_download(self) -> None:
        """Fetch MNIST into the user's cache in a worker thread, with progress and cancel."""
        from drawdigit.mnist import mnist_cache_dir

        if self._download is not None:
            return
        dest = mnist_cache_dir()
        control = WorkerControl()
        worker = GeneratorWorker(
            download, dest, self.mirrors, control, control=control, name="drawdigit-download"
        )
        worker.yielded.connect(self._on_download_progress)
        worker.returned.connect(self._on_download_succeeded)
        worker.aborted.connect(self._on_download_cancelled)
        worker.errored.connect(lambda exc: self._on_download_error(exc, dest))
        worker.finished.connect(self._on_download_finished)
        self._download = worker
        self.download_progress.setRange(0, 0)
        self.download_row.show()
        self.download_label.setText("Connecting…")
        self.download_label.setStyleSheet("")
        self.download_label.show()
        self.downloadingChanged.emit(True)
        worker.start()

    @Slot()
    def cancel_download(self) -> None:
        if self._download is not None:
            self._download.quit()
            self.download_label.setText("Cancelling…")

    def stop_download(self) -> None:
        """Stop a download and wait for its thread (the dialog closes)."""
        if self._download is not None:
            self._download.stop()

    @Slot(object)
    def _on_download_progress(self, status: DownloadStatus) -> None:
        total = status.bytes_total
        if total:
            self.download_progress.setRange(0, 1000)
            self.download_progress.setValue(int(1000 * status.bytes_done / total))
            size = f"{status.bytes_done / 1e6:.1f} of {total / 1e6:.1f} MB"
        else:
            self.download_progress.setRange(0, 0)
            size = f"{status.bytes_done / 1e6:.1f} MB"
        self.download_label.setText(
            f"{status.file}: {size} (file {status.files_done + 1} of {status.files_total})"
        )

    @Slot(object)
    def _on_download_succeeded(self, folder: str) -> None:
        self.download_label.setText("Downloaded and verified.")
        self.set_data_dir(folder)

    @Slot()
    def _on_download_cancelled(self) -> None:
        self.download_label.setText("Download cancelled. Finished files are kept.")
        self.download_button.setText("Resume download")

    def _on_download_error(self, exc: BaseException, dest: Path) -> None:
        self.download_label.setText(f"Download failed: {describe_download_error(exc, dest)}")
        self.download_label.setToolTip(str(exc))  # every mirror and its URL, for the curious
        self.download_label.setStyleSheet("color: #c0392b;")
        self.download_button.setText("Retry download")

    def forget_download_error(self) -> None:
        """A failed download's message goes once data is found or the dialog reopens."""
        if self._download is None and self.download_label.isVisibleTo(self):
            self.download_label.hide()
            self.download_label.clear()
            self.download_label.setToolTip("")
            self.download_label.setStyleSheet("")
            self.download_button.setText(f"Download ({DOWNLOAD_MB:.0f} MB)")

    @Slot()
    def _on_download_finished(self) -> None:
        self._download = None
        self.download_row.hide()
        self.downloadingChanged.emit(False)

    # ------------------------------------------------------------------ the source

    def with_my_samples(self) -> bool:
        """Whether the next run mixes the personal samples in."""
        return bool(self.source_combo.currentData())

    def set_with_my_samples(self, on: bool, announce: bool = True) -> None:
        """Choose the source; ``announce``: as if the user had (``sourceChosen``)."""
        index = self.source_combo.findData(bool(on))
        self.source_combo.setCurrentIndex(index)
        if announce:
            self._on_source_chosen(index)

    @Slot(int)
    def _on_source_chosen(self, index: int) -> None:
        self.sourceChosen.emit(bool(self.source_combo.itemData(index)))

    def refresh_sample_count(self) -> None:
        """Name how many personal samples there are in the source choice."""
        from drawdigit.samples import count_samples

        count = count_samples()
        self.source_combo.setItemText(
            1, f"MNIST + my samples ({count})" if count else "MNIST + my samples (none yet)"
        )

    def set_busy(self, running: bool) -> None:
        """A run is going (no changing the data) or not."""
        downloading = self._download is not None
        self.source_combo.setEnabled(not running)
        self.download_button.setEnabled(not downloading and not running)
        self.choose_button.setEnabled(not downloading and not running)

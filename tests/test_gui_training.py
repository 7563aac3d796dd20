"""The training dialog, driven like a user would: real training on a slice of MNIST.

Every run here is real (torch, a worker QThread, files in a temp user data dir, a loopback
HTTP server for the download). Runs use the first few thousand training images and one
epoch so each takes a few seconds on a 2-core machine.
"""

from __future__ import annotations

import functools
import gzip
import http.server
import os
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QSettings, Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractButton,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QSpinBox,
    QWidget,
)

from drawdigit.gui.training.settings_view import SettingsView
from drawdigit.gui.training_dialog import TrainingDialog
from drawdigit.gui.training_worker import available_devices, drawing_threads, training_threads
from drawdigit.gui.workers import live_workers, stop_all_workers
from drawdigit.store import active_model_path

TRAIN_LIMIT = 3000
TEST_LIMIT = 1000
RUN_TIMEOUT_MS = 120_000  # a shared 2-core machine can be slow; runs normally take ~5 s


@pytest.fixture(autouse=True)
def private_settings(tmp_path: Path) -> Iterator[None]:
    """QSettings (the main window's and the dialog's) go to a temp folder, not the user's."""
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    yield


def quick_config(dialog: TrainingDialog, **changes):
    """One epoch from scratch, no augmentation: the shortest real run; in float32, so that
    the figures asserted are the same on every CPU (auto picks bf16 on some)."""
    base = dialog.config()
    values = {"epochs": 1, "batch_size": 64, "from_scratch": True, "augment": False}
    values["precision"] = "fp32"
    values.update(changes)
    return replace(base, **values)


@pytest.fixture(autouse=True)
def close_dialogs() -> Iterator[list[TrainingDialog]]:
    """Close every dialog a test made (qtbot only holds weak references: a dialog that is
    garbage collected is never closed, and its threads would outlive the test)."""
    yield OPEN_DIALOGS
    while OPEN_DIALOGS:
        OPEN_DIALOGS.pop().close()


OPEN_DIALOGS: list[TrainingDialog] = []


def make_dialog(qtbot, data_dir: Path | None, **kwargs) -> TrainingDialog:
    settings = kwargs.pop("settings", None)
    if settings is None:
        settings = QSettings()
    dialog = TrainingDialog(
        data_dir=data_dir,
        train_limit=kwargs.pop("train_limit", TRAIN_LIMIT),
        test_limit=kwargs.pop("test_limit", TEST_LIMIT),
        settings=settings,
        **kwargs,
    )
    qtbot.addWidget(dialog)
    OPEN_DIALOGS.append(dialog)
    dialog.show()
    return dialog


def start(qtbot, dialog: TrainingDialog, **changes) -> None:
    dialog.set_config(quick_config(dialog, **changes))
    assert dialog.start_button.isEnabled()
    qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    assert dialog.running()


def wait_batches(qtbot, dialog: TrainingDialog, count: int) -> None:
    qtbot.waitUntil(lambda: dialog.batch_events >= count, timeout=RUN_TIMEOUT_MS)


def wait_end(qtbot, dialog: TrainingDialog) -> None:
    qtbot.waitUntil(lambda: not dialog.running(), timeout=RUN_TIMEOUT_MS)


class StallMeter:
    """A 10 ms timer on the GUI thread: when it ticked, and the longest gap between ticks."""

    def __init__(self) -> None:
        self.timer = QTimer()
        self.timer.setInterval(10)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self._tick)
        self.last = 0.0
        self.ticks: list[float] = []
        self.gaps: list[float] = []

    def start(self) -> None:
        self.last = time.perf_counter()
        self.timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.ticks.append(now)
        self.gaps.append(now - self.last)
        self.last = now

    def stop(self) -> float:
        self.timer.stop()
        return max(self.gaps, default=0.0)


# --------------------------------------------------------------------------- a whole run


def use_anyway(qtbot, result) -> None:
    """Click "Use this model", and "Use it anyway" if it asks (a less accurate model)."""
    qtbot.mouseClick(result.use_button, Qt.MouseButton.LeftButton)
    box = result.confirm_box
    if box is not None:
        use = [b for b in box.buttons() if b.text() == "Use it anyway"][0]
        qtbot.mouseClick(use, Qt.MouseButton.LeftButton)


def test_run_ends_with_result_and_use_this_model_activates_it(qtbot, mnist_dir, user_data):
    from drawdigit.inference import load_predictor

    dialog = make_dialog(qtbot, mnist_dir)
    # As when a person reads the settings first: torch warmed up, MNIST read ahead.
    qtbot.waitUntil(dialog.warmed_up, timeout=RUN_TIMEOUT_MS)
    meter = StallMeter()
    batch_times: list[float] = []
    dialog.state.batchProgress.connect(lambda _event: batch_times.append(time.perf_counter()))
    meter.start()
    start(qtbot, dialog)
    wait_end(qtbot, dialog)
    worst = meter.stop()
    # How long the stalls are is measured in benchmarks/bench_gui_training.py; here: the
    # event loop kept running while the run went on (the GUI thread never did the training).
    print(f"\nlongest event-loop stall during the run: {worst * 1000:.0f} ms")
    first, last = batch_times[0], batch_times[-1]
    during = [t for t in meter.ticks if first < t < last]
    assert len(during) >= 10, f"{len(during)} timer ticks between the first and last batch"
    between = sum(
        1
        for a, b in zip(batch_times, batch_times[1:], strict=False)
        if any(a < t < b for t in during)
    )
    assert between >= 5  # ticks came between batch events, not all after them

    outcome = dialog.outcome()
    assert outcome is not None, dialog.status_text()
    assert dialog.batch_events > 10 and dialog.epoch_events == 1
    charts = dialog.progress_view.charts
    assert charts.points()["batch"] == dialog.batch_events
    assert charts.redraws >= 1
    assert outcome.test_count == TEST_LIMIT
    assert int(outcome.confusion.sum()) == TEST_LIMIT
    assert 0.5 < outcome.test_accuracy <= 1.0  # 3,000 images, one epoch: far above chance
    wrong = TEST_LIMIT - int(outcome.confusion.trace())
    result = dialog.result_view
    qtbot.waitUntil(lambda: result.gallery.count() == min(wrong, 60), timeout=5000)
    mistake = result.gallery.item(0).data(Qt.ItemDataRole.UserRole)
    assert mistake[0] != mistake[1]  # a mistake: true digit and guess differ
    assert dialog.tabs.currentWidget() is result
    assert "New model" in result.result_label.text()
    assert not active_model_path().exists()  # nothing saved before the user says so

    # Numbers read alike: the status, the Elapsed figure and the result give one time.
    from drawdigit.gui.training.state import fmt_time

    took = fmt_time(outcome.done.seconds)
    assert f"after {took}." in dialog.status_text()
    assert dialog.progress_view.stat_labels["elapsed"].text() == took
    assert dialog.progress_view.stat_labels["eta"].text() == "0:00"
    assert f"trained in {took}" in result.result_label.text()
    assert dialog.progress_view.progress_bar.text() == "100%"

    # A model worse than the one in use (3,000 images, one epoch, against the bundled
    # model's 99.47%) is only used once the user says so, told by how much.
    worse = (outcome.current_accuracy - outcome.test_accuracy) * 100
    assert worse > 0
    qtbot.mouseClick(result.use_button, Qt.MouseButton.LeftButton)
    box = result.confirm_box
    assert box is not None and box.isVisible()
    assert f"{worse:.2f} points less accurate" in box.text()
    assert f"{outcome.current_accuracy * 100:.2f}%" in box.text()
    keep = [b for b in box.buttons() if b.text() == "Keep the model in use"][0]
    with qtbot.assertNotEmitted(dialog.modelActivated):
        qtbot.mouseClick(keep, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: result.confirm_box is None, timeout=5000)
    assert not active_model_path().exists() and result.use_button.isEnabled()

    # A save that fails (the models folder is blocked by a file) is reported; nothing changes.
    blocker = user_data / "models"
    blocker.rmdir()  # empty: Start checked that a model could be saved there
    blocker.write_text("not a folder")
    with qtbot.assertNotEmitted(dialog.modelActivated):
        use_anyway(qtbot, result)
    assert "Could not save" in result.result_note.text()
    assert result.use_button.isEnabled()  # the user can try again
    assert not active_model_path().exists()
    assert load_predictor()[0].source.kind == "bundled"

    blocker.unlink()
    with qtbot.waitSignal(dialog.modelActivated, timeout=5000) as activated:
        use_anyway(qtbot, result)
    assert activated.args == [active_model_path()]
    assert active_model_path().is_file()
    predictor, warnings = load_predictor()
    assert warnings == []
    assert predictor.source.kind == "user"
    assert predictor.source.metadata["test_accuracy"] == pytest.approx(outcome.done.test_accuracy)
    # "Model in use" says so at once (it named the bundled model until now).
    assert "Model in use: this new model" in result.result_label.text()
    assert "bundled" not in result.result_label.text()
    assert not result.use_button.isEnabled()


# --------------------------------------------------------------------------- controls


def test_cancel_mid_run_leaves_the_model_in_use(qtbot, mnist_dir):
    from drawdigit.inference import load_predictor

    dialog = make_dialog(qtbot, mnist_dir, train_limit=20000)
    start(qtbot, dialog)
    wait_batches(qtbot, dialog, 3)
    worker = dialog.worker
    with qtbot.waitSignal(dialog.runEnded, timeout=RUN_TIMEOUT_MS) as ended:
        qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    assert ended.args == ["cancelled"]
    wait_end(qtbot, dialog)
    assert worker.wait(0)  # its thread has ended
    assert dialog.outcome() is None
    assert dialog.epoch_events == 0  # stopped well before the end of the epoch
    assert not active_model_path().exists()
    assert load_predictor()[0].source.kind == "bundled"  # the CLI's answer source too
    assert "unchanged" in dialog.status_text()
    assert dialog.start_button.isEnabled()
    qtbot.waitUntil(lambda: dialog.progress_view.stat_labels["eta"].text() == "–", timeout=5000)
    assert dialog.progress_view.stat_labels["elapsed"].text() != "–"  # what it did stays


def test_pause_stops_progress_until_resume(qtbot, mnist_dir):
    dialog = make_dialog(qtbot, mnist_dir, train_limit=20000)
    start(qtbot, dialog)
    wait_batches(qtbot, dialog, 2)
    qtbot.mouseClick(dialog.pause_button, Qt.MouseButton.LeftButton)
    assert dialog.paused() and dialog.pause_button.text() == "Resume"
    qtbot.wait(400)  # events already queued before the pause arrive
    paused_at = dialog.batch_events
    qtbot.wait(1500)
    assert dialog.batch_events == paused_at
    assert dialog.running()
    qtbot.mouseClick(dialog.pause_button, Qt.MouseButton.LeftButton)
    assert not dialog.paused()
    wait_batches(qtbot, dialog, paused_at + 3)
    qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    wait_end(qtbot, dialog)
    assert not active_model_path().exists()


def test_cancel_while_paused_ends_the_run(qtbot, mnist_dir):
    dialog = make_dialog(qtbot, mnist_dir, train_limit=20000)
    start(qtbot, dialog)
    wait_batches(qtbot, dialog, 2)
    dialog.toggle_pause()
    qtbot.wait(100)
    with qtbot.waitSignal(dialog.runEnded, timeout=RUN_TIMEOUT_MS) as ended:
        dialog.cancel_training()
    assert ended.args == ["cancelled"]
    wait_end(qtbot, dialog)


def test_closing_the_dialog_mid_run_stops_the_worker(qtbot, mnist_dir):
    dialog = make_dialog(qtbot, mnist_dir, train_limit=20000)
    start(qtbot, dialog)
    wait_batches(qtbot, dialog, 2)
    worker = dialog.worker
    ended: list[str] = []
    dialog.runEnded.connect(ended.append)
    dialog.toggle_pause()  # a paused run must stop too
    assert dialog.paused()
    started = time.perf_counter()
    dialog.close()
    # the figure is for reading only; what must hold is that close() returned after the
    # thread ended (Qt aborts the app if a running QThread is destroyed)
    print(f"\nclose -> worker stopped in {(time.perf_counter() - started) * 1000:.0f} ms")
    assert worker.wait(0)  # its thread has ended
    assert not dialog.running() and not dialog.paused()
    assert ended == ["cancelled"]
    assert "window was closed" in dialog.status_text()
    events, status = dialog.batch_events, dialog.status_text()
    qtbot.wait(200)  # anything the stopped worker had queued changes nothing
    assert (dialog.batch_events, dialog.status_text(), ended) == (events, status, ["cancelled"])
    assert dialog.outcome() is None
    assert not active_model_path().exists()


def window_with_training_dialog(qtbot, mnist_dir: Path, monkeypatch):
    """The main window, shown, with its training dialog open (MNIST found through the
    environment, as a user's setting would find it)."""
    from drawdigit.gui.main_window import MainWindow

    monkeypatch.setenv("DRAWDIGIT_MNIST_DIR", str(mnist_dir))
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    window.open_training_dialog()
    return window, window.findChild(TrainingDialog)


def test_closing_the_main_window_mid_run_exits_cleanly(qtbot, mnist_dir, monkeypatch):
    window, dialog = window_with_training_dialog(qtbot, mnist_dir, monkeypatch)
    assert isinstance(dialog, TrainingDialog) and dialog.isVisible()
    assert dialog.data_dir() == mnist_dir
    dialog.train_limit, dialog.test_limit = 20000, TEST_LIMIT
    start(qtbot, dialog)
    wait_batches(qtbot, dialog, 2)
    worker = dialog.worker
    window.close()
    assert worker.wait(0)  # its thread has ended
    assert not dialog.running()
    assert not dialog.isVisible()
    assert not active_model_path().exists()


def test_use_this_model_reloads_the_main_windows_model(qtbot, mnist_dir, monkeypatch):
    from drawdigit.gui.main_window import MainWindow

    monkeypatch.setenv("DRAWDIGIT_MNIST_DIR", str(mnist_dir))
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.model_ready(), timeout=60_000)
    assert window.model_source().kind == "bundled"
    window.open_training_dialog()
    dialog = window.findChild(TrainingDialog)
    dialog.train_limit, dialog.test_limit = TRAIN_LIMIT, TEST_LIMIT
    start(qtbot, dialog)
    wait_end(qtbot, dialog)
    assert dialog.outcome() is not None, dialog.status_text()
    use_anyway(qtbot, dialog.result_view)
    qtbot.waitUntil(
        lambda: window.model_ready() and window.model_source().kind == "user", timeout=60_000
    )
    window.close()


# --------------------------------------------------------------------------- data


def test_missing_data_offers_download_and_choose_folder(qtbot, mnist_dir, tmp_path):
    settings = QSettings(str(tmp_path / "dialog.ini"), QSettings.Format.IniFormat)
    dialog = make_dialog(qtbot, None, settings=settings)
    assert dialog.data_dir() is None
    assert "not found" in dialog.data_view.data_label.text()
    assert (
        dialog.data_view.download_button.isVisible() and dialog.data_view.choose_button.isVisible()
    )
    assert not dialog.start_button.isEnabled()

    # A folder without the files is refused, saying what is missing.
    empty = tmp_path / "empty"
    empty.mkdir()
    assert not dialog.set_data_dir(empty)
    assert (
        "missing" in dialog.data_view.data_label.text()
        and "train-images" in dialog.data_view.data_label.text()
    )
    assert not dialog.start_button.isEnabled()

    # Choose folder… opens a folder dialog; picking the MNIST folder makes it the data.
    qtbot.mouseClick(dialog.data_view.choose_button, Qt.MouseButton.LeftButton)
    chooser = dialog.data_view.folder_dialog
    assert chooser.isVisible()
    chooser.setDirectory(str(mnist_dir.parent))
    chooser.selectFile(str(mnist_dir))
    chooser.accept()
    qtbot.waitUntil(lambda: dialog.data_dir() == mnist_dir, timeout=5000)
    assert dialog.start_button.isEnabled()
    assert not dialog.data_view.download_button.isVisible()

    # ...and it is remembered for the next time.
    again = make_dialog(qtbot, None, settings=settings)
    assert again.data_dir() == mnist_dir


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A real HTTP server on 127.0.0.1 serving ``root`` (fill it in the test)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", root
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_download_fails_then_retry_succeeds(qtbot, mnist_dir, http_root):
    from drawdigit.mnist import mnist_cache_dir

    url, root = http_root
    dialog = make_dialog(qtbot, None, mirrors=(url,))
    assert dialog.data_dir() is None

    # The server has nothing yet: a clear failure, and a Retry button.
    qtbot.mouseClick(dialog.data_view.download_button, Qt.MouseButton.LeftButton)
    assert dialog.downloading()
    qtbot.waitUntil(lambda: not dialog.downloading(), timeout=30_000)
    message = dialog.data_view.download_label.text()
    assert "Download failed" in message and "404" in message
    assert "http" not in message and "\n" not in message  # short: no URLs, one line
    assert dialog.data_view.download_button.text() == "Retry download"
    assert dialog.data_dir() is None and not dialog.start_button.isEnabled()

    for source in mnist_dir.glob("*.gz"):
        shutil.copy(source, root / source.name)
    seen: list[object] = []
    worker_progress = []
    qtbot.mouseClick(dialog.data_view.download_button, Qt.MouseButton.LeftButton)
    dialog.data_view.download_worker().yielded.connect(seen.append)
    worker_progress.append(dialog.data_view.download_progress.isVisible())
    qtbot.waitUntil(lambda: not dialog.downloading(), timeout=60_000)
    assert dialog.data_dir() == mnist_cache_dir()
    assert "verified" in dialog.data_view.download_label.text()
    assert dialog.start_button.isEnabled()
    assert worker_progress == [True]
    assert seen, "no progress was reported"
    assert all(s.bytes_total for s in seen)
    for source in mnist_dir.glob("*.gz"):
        assert (mnist_cache_dir() / source.name).is_file()


class _SlowHandler(_QuietHandler):
    """Serves files in 16 KiB pieces with pauses, so a download can be cancelled midway."""

    def copyfile(self, source, outputfile) -> None:  # type: ignore[override]
        while chunk := source.read(16 * 1024):
            outputfile.write(chunk)
            outputfile.flush()
            time.sleep(0.02)


def test_download_can_be_cancelled_midway(qtbot, mnist_dir, tmp_path):
    from drawdigit.mnist import mnist_cache_dir

    root = tmp_path / "slow"
    root.mkdir()
    for source in mnist_dir.glob("*.gz"):
        shutil.copy(source, root / source.name)
    handler = functools.partial(_SlowHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        dialog = make_dialog(qtbot, None, mirrors=(url,))
        qtbot.mouseClick(dialog.data_view.download_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: "MB" in dialog.data_view.download_label.text(), timeout=30_000)
        assert dialog.data_view.download_progress.isVisible()
        assert not dialog.start_button.isEnabled()
        qtbot.mouseClick(dialog.data_view.download_cancel_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: not dialog.downloading(), timeout=30_000)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert "cancelled" in dialog.data_view.download_label.text()
    assert dialog.data_view.download_button.text() == "Resume download"
    assert dialog.data_dir() is None
    cache = mnist_cache_dir()
    leftovers = [p.name for p in cache.iterdir()] if cache.exists() else []
    assert not [name for name in leftovers if name.endswith(".part")]


# --------------------------------------------------------------------------- errors


def test_worker_error_is_shown_and_the_dialog_stays_usable(qtbot, mnist_dir, tmp_path):
    bad = tmp_path / "bad-mnist"
    bad.mkdir()
    for source in mnist_dir.glob("*.gz"):
        shutil.copy(source, bad / source.name)
    # Labels with a value out of range: a valid gzip, a valid header, bad content.
    labels = gzip.decompress((mnist_dir / "train-labels-idx1-ubyte.gz").read_bytes())
    damaged = bytearray(labels)
    damaged[8 + 5] = 42
    (bad / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(bytes(damaged)))

    dialog = make_dialog(qtbot, bad)
    assert dialog.data_dir() == bad  # all four files are there; their content is bad
    with qtbot.waitSignal(dialog.runEnded, timeout=RUN_TIMEOUT_MS) as ended:
        start(qtbot, dialog)
    assert ended.args == ["error"]
    wait_end(qtbot, dialog)
    text = dialog.status_text()
    assert "train-labels-idx1-ubyte" in text and "MNIST" in text
    assert dialog.outcome() is None
    assert not active_model_path().exists()

    # Still usable: point it at good data and a run completes.
    assert dialog.set_data_dir(mnist_dir)
    start(qtbot, dialog)
    wait_end(qtbot, dialog)
    assert dialog.outcome() is not None, dialog.status_text()


def test_starting_from_a_damaged_model_is_an_error_not_a_crash(qtbot, mnist_dir):
    # A damaged active model makes the app fall back to the bundled one; training "from the
    # model in use" then starts from the bundled model.
    active = active_model_path()
    active.parent.mkdir(parents=True)
    active.write_bytes(b"not a model")
    dialog = make_dialog(qtbot, mnist_dir)
    start(qtbot, dialog, from_scratch=False)
    wait_end(qtbot, dialog)
    outcome = dialog.outcome()
    assert outcome is not None, dialog.status_text()
    assert outcome.current_accuracy is not None and outcome.current_accuracy > 0.95
    assert "bundled" in outcome.current_description
    assert active.read_bytes() == b"not a model"  # untouched until Use this model


# --------------------------------------------------------------------------- settings


def test_presets_and_tooltips(qtbot, mnist_dir):
    from drawdigit.training import PRESETS

    dialog = make_dialog(qtbot, mnist_dir)
    view = dialog.settings_view
    labels = [view.preset_combo.itemText(i) for i in range(view.preset_combo.count())]
    # Each preset with its time on two cores (docs/benchmarks.md, "Presets").
    assert "Seed notebook (5 epochs, RMSprop, batch 64) · about 1 min on 2 cores" in labels
    assert "Best for drawings (15 epochs, Adam, batch 128) · about 6 min on 2 cores" in labels

    view.preset_combo.setCurrentIndex(view.preset_combo.findData("seed"))
    view.preset_combo.activated.emit(view.preset_combo.currentIndex())  # as a user's choice
    seed = dialog.config()
    assert (seed.epochs, seed.batch_size, seed.optimizer) == (5, 64, "rmsprop")
    for name in ("epochs", "batch_size", "lr", "optimizer", "augment", "from_scratch"):
        assert getattr(seed, name) == getattr(PRESETS["seed"], name)

    view.epochs_spin.setValue(7)
    assert view.preset() == "custom"
    assert dialog.config().epochs == 7
    view.epochs_spin.setValue(5)
    assert view.preset() == "seed"

    best = view.preset_combo.findData("best")
    view.preset_combo.setCurrentIndex(best)
    view.preset_combo.activated.emit(best)
    assert dialog.config().augment == PRESETS["best"].augment

    inputs = (QAbstractButton, QComboBox, QSpinBox, QDoubleSpinBox, QCheckBox)
    for widget in dialog.findChildren(QWidget):
        if isinstance(widget, inputs) and widget.isVisibleTo(dialog):
            assert widget.toolTip(), f"{type(widget).__name__} {widget.objectName()!r}"


def test_the_device_box_lists_every_kind_of_gpu_and_shows_only_with_one(qtbot):
    import torch

    from drawdigit.training import PRESETS

    # What this machine has: CUDA and Apple's Metal (MPS) both count as a GPU.
    keys = [key for key, _label in available_devices()]
    assert keys[:2] == ["auto", "cpu"]
    assert ("cuda" in keys) == torch.cuda.is_available()
    assert ("mps" in keys) == torch.backends.mps.is_available()
    # The box is shown exactly when there is a GPU to choose, whichever kind it is.
    for extra, shown in (
        ([], False),
        ([("mps", "GPU (Apple Metal)")], True),
        ([("cuda", "GPU (test card)")], True),
    ):
        view = SettingsView(dict(PRESETS), devices=[("auto", "Automatic"), ("cpu", "CPU")] + extra)
        qtbot.addWidget(view)
        assert view.device_combo.isVisibleTo(view) is shown
        assert view.device_label.isVisibleTo(view) is shown
        if extra:
            view.device_combo.setCurrentIndex(2)
            assert view.config().device == extra[0][0]


def test_training_takes_every_core_but_leaves_one_while_the_user_draws(qtbot, mnist_dir):
    assert (training_threads(1), drawing_threads(1)) == (1, 1)
    assert (training_threads(2), drawing_threads(2)) == (2, 1)
    assert (training_threads(8), drawing_threads(8)) == (8, 7)
    # ...and a run in the app really trains with every core of this machine.
    cores = os.cpu_count() or 1
    dialog = make_dialog(qtbot, mnist_dir)
    assert dialog.drawing_threads == max(1, cores - 1)
    start(qtbot, dialog)
    wait_batches(qtbot, dialog, 1)
    assert dialog.state.run_info.threads == cores
    assert dialog.training_threads_now() is None  # no limit while nobody draws
    dialog.cancel_training()
    wait_end(qtbot, dialog)


def test_a_run_shortens_the_switch_interval_and_puts_it_back(qtbot, mnist_dir):
    before = sys.getswitchinterval()
    sys.setswitchinterval(0.004)  # a value of our own, so that "put back" can be seen
    try:
        dialog = make_dialog(qtbot, mnist_dir, train_limit=20000)
        qtbot.waitUntil(dialog.warmed_up, timeout=RUN_TIMEOUT_MS)  # it shortens it too
        assert sys.getswitchinterval() == pytest.approx(0.004)
        start(qtbot, dialog)
        assert sys.getswitchinterval() == pytest.approx(0.001)
        dialog.cancel_training()
        wait_end(qtbot, dialog)
        assert sys.getswitchinterval() == pytest.approx(0.004)
        # also when the run ends because the window is closed
        start(qtbot, dialog)
        wait_batches(qtbot, dialog, 1)
        assert sys.getswitchinterval() == pytest.approx(0.001)
        dialog.close()
        assert sys.getswitchinterval() == pytest.approx(0.004)
    finally:
        sys.setswitchinterval(before)


def test_quitting_the_app_mid_run_stops_the_training_thread(qtbot, mnist_dir):
    dialog = make_dialog(qtbot, mnist_dir, train_limit=20000)
    ended: list[str] = []
    dialog.runEnded.connect(ended.append)
    start(qtbot, dialog)
    wait_batches(qtbot, dialog, 2)
    worker = dialog.worker
    assert worker in live_workers()
    stop_all_workers()  # what QApplication.aboutToQuit runs
    assert worker.wait(0) and worker not in live_workers()
    assert not dialog.running()
    assert ended == ["cancelled"]
    assert not active_model_path().exists()


def test_drawing_while_the_app_lags_gives_a_core_back_for_a_moment(qtbot, mnist_dir, monkeypatch):
    from PySide6.QtTest import QTest

    window, dialog = window_with_training_dialog(qtbot, mnist_dir, monkeypatch)
    dialog.train_limit, dialog.test_limit = 30000, TEST_LIMIT
    dialog.threads, dialog.drawing_threads = 2, 1
    start(qtbot, dialog)
    wait_batches(qtbot, dialog, 2)
    assert dialog.training_threads_now() is None  # all the run's threads

    canvas = window.canvas
    centre = canvas.rect().center()

    def stroke(dx: int) -> None:
        end = centre + QPoint(dx, 40)
        QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, centre)
        QTest.mouseMove(canvas, end)
        QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)

    # drawing while the event loop keeps time: training keeps both threads
    dialog.lag_limit = 10.0
    stroke(20)
    events = dialog.batch_events
    wait_batches(qtbot, dialog, events + 3)
    assert dialog.training_threads_now() is None
    # drawing while it runs late (here: any lateness counts): one thread is given back
    dialog.lag_limit = -1.0
    stroke(-20)
    qtbot.waitUntil(lambda: dialog.training_threads_now() == 1, timeout=5000)
    events = dialog.batch_events
    wait_batches(qtbot, dialog, events + 3)  # training goes on meanwhile
    # a second after the last stroke, training takes both threads again
    qtbot.waitUntil(lambda: dialog.training_threads_now() is None, timeout=10_000)
    assert dialog.running()
    dialog.cancel_training()
    wait_end(qtbot, dialog)
    window.close()


# --------------------------------------------------------------------------- MNIST + my samples


def test_mnist_plus_my_samples_reports_the_kept_aside_samples(
    qtbot, mnist_dir, sideways_writer, kept_aside_accuracy
):
    from drawdigit.inference import load_predictor
    from drawdigit.runs import MIXED_RECIPE
    from drawdigit.samples import add_sample, samples_dir
    from drawdigit.store import active_model_path, bundled_model_path

    for digit, drawing in sideways_writer(4, 5):
        add_sample(digit, drawing=drawing)
    damaged = samples_dir() / "3" / "damaged.json"
    damaged.write_text("{ not json")

    dialog = make_dialog(qtbot, mnist_dir)
    assert dialog.data_view.source_combo.itemText(1) == "MNIST + my samples (41)"
    # choosing the source chooses the settings measured for it
    dialog.data_view.source_combo.setCurrentIndex(1)
    dialog.data_view.source_combo.activated.emit(1)
    assert dialog.with_my_samples()
    assert dialog.settings_view.preset_combo.currentData() == "mine"
    mine = dialog.config()
    assert (mine.epochs, mine.lr, mine.augment, mine.from_scratch) == (
        MIXED_RECIPE.epochs,
        MIXED_RECIPE.lr,
        True,
        False,
    )
    precision = dialog.settings_view.precision_combo
    precision.setCurrentIndex(precision.findData("fp32"))  # float32's figures on every CPU
    qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    assert not dialog.data_view.source_combo.isEnabled()  # fixed while the run goes on
    wait_end(qtbot, dialog)

    outcome = dialog.outcome()
    assert outcome is not None, dialog.status_text()
    personal = outcome.personal
    assert (personal.trained, personal.heldout) == (30, 10)
    assert personal.copies >= 1
    assert len(personal.warnings) == 1 and "damaged.json" in personal.warnings[0]
    # The kept-aside samples (one of each digit) as the starting model (the bundled one)
    # reads them, computed again by the numpy forward pass.
    assert personal.before == pytest.approx(kept_aside_accuracy(bundled_model_path()))
    text = dialog.result_view.result_label.text()
    assert "kept-aside samples" in text and "1 damaged" in text

    with qtbot.waitSignal(dialog.modelActivated, timeout=5000):
        use_anyway(qtbot, dialog.result_view)
    metadata = load_predictor()[0].source.metadata
    assert metadata["personal_samples"] == 30
    assert metadata["personal_heldout_after"] == pytest.approx(personal.after)
    # ... and "after" as the model now in use reads them
    assert personal.after == pytest.approx(kept_aside_accuracy(active_model_path()))


def test_mnist_plus_my_samples_without_samples_says_what_to_do(qtbot, mnist_dir):
    dialog = make_dialog(qtbot, mnist_dir)
    assert dialog.data_view.source_combo.itemText(1) == "MNIST + my samples (none yet)"
    dialog.set_with_my_samples(True)
    with qtbot.waitSignal(dialog.runEnded, timeout=RUN_TIMEOUT_MS) as ended:
        qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    assert ended.args == ["error"]
    assert "no personal samples" in dialog.status_text()
    assert "Correct" in dialog.status_text()
    wait_end(qtbot, dialog)
    assert dialog.start_button.isEnabled()


# --------------------------------------------------------------------------- the run-state model


def test_the_run_state_model_goes_through_its_phases_and_the_views_follow(qtbot):
    from drawdigit.gui.training.progress_view import ProgressView
    from drawdigit.gui.training.state import Phase, RunState
    from drawdigit.training import BatchProgress, TrainConfig, TrainingStarted

    state = RunState()
    view = ProgressView(state)
    qtbot.addWidget(view)
    phases: list[str] = []
    ended: list[str] = []
    state.phaseChanged.connect(phases.append)
    state.runEnded.connect(ended.append)
    assert state.phase is Phase.IDLE and not state.active

    state.begin(epochs=2)
    assert state.active and view.status_label.text() == "Starting…"
    state.training_started(TrainingStarted(TrainConfig(), "cpu", 2, 3000, 1000, 47))
    assert "on 3,000 images, 47 batches per epoch, on the CPU, 2 threads" in state.status
    event = BatchProgress(1, 2, 10, 47, 0.5, 0.875, 900.0, 3.0, 30.0, 0.1, 1e-3, 0.4, 0.9, 1000)
    state.batch(event)
    view.refresh()
    assert view.stat_labels["epoch"].text() == "1/2 · 10/47"
    assert view.stat_labels["train_acc"].text() == "87.50%"
    assert view.stat_labels["estimate"].text() == "90.00%"
    assert view.progress_bar.value() == 100  # 10 % of the run, in tenths of a percent
    state.set_paused(True)
    assert state.paused and view.status_label.text().startswith("Paused")
    state.stage("Measuring…")  # a late stage does not hide "Paused"
    assert view.status_label.text().startswith("Paused")
    state.cancel_requested()
    state.cancelled()
    assert phases == ["loading", "training", "paused", "cancelling", "idle"]
    assert ended == ["cancelled"] and not state.active
    assert "unchanged" in view.status_label.text()

    state.begin(epochs=1)
    assert state.batch_events == 0 and state.last_batch is None  # a new run forgets the last
    state.failed("Training failed: boom.")
    assert state.phase is Phase.FAILED and ended == ["cancelled", "error"]
    assert state.status_is_error and "boom" in view.status_label.text()


# --------------------------------------------------------------------------- loading PyTorch

FRESH_APP = """
import json, os, sys, time
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication
app = QApplication([])
settings = QSettings(sys.argv[2], QSettings.Format.IniFormat)
"""


def run_fresh(script: str, *args: str, timeout: float = 300) -> dict:
    """Run ``script`` in a new interpreter (this one has loaded torch long ago); it prints
    one JSON object last."""
    import json
    import subprocess

    result = subprocess.run(
        [sys.executable, "-c", FRESH_APP + script, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_dialog_opens_without_torch_and_start_waits_for_it(mnist_dir, tmp_path):
    # Opening the dialog must not import torch on the GUI thread (it used to, for the device
    # box: seconds of a frozen window); Start is usable at once and the run loads it first.
    script = """
from drawdigit.gui.training_dialog import TrainingDialog
dialog = TrainingDialog(data_dir=sys.argv[1], train_limit=1000, test_limit=200,
                        settings=settings)
dialog.show()
opened = {"torch": "torch" in sys.modules, "start": dialog.start_button.isEnabled()}
seen = []
dialog.state.statusChanged.connect(lambda text, _error: seen.append(text))
dialog.start_training()
end = time.monotonic() + 240
while dialog.running() and time.monotonic() < end:
    app.processEvents()
    time.sleep(0.005)
print(json.dumps({"opened": opened, "seen": seen, "done": dialog.outcome() is not None,
                  "status": dialog.status_text()}))
"""
    result = run_fresh(script, str(mnist_dir), str(tmp_path / "s.ini"))
    assert result["opened"] == {"torch": False, "start": True}
    assert result["done"], result["status"]
    seen = result["seen"]
    assert seen[:2] == ["Starting…", "Loading PyTorch…"], seen
    assert seen[-1].startswith("Done")


def test_torch_loads_without_a_full_collection_and_with_libtorch_mapped_first(tmp_path):
    # What held the GIL longest while torch loads (see training_worker.load_torch): mapping
    # libtorch_cpu inside the import, and full garbage collections over what it made.
    script = """
import gc
from drawdigit.gui import training_worker as tw
full = []
gc.callbacks.append(
    lambda phase, info: full.append(1) if phase == "start" and info["generation"] == 2 else None
)
preloaded = tw._preload_torch_libraries()
with open("/proc/self/maps") as maps:
    mapped = "libtorch_cpu.so" in maps.read()
before = "torch" in sys.modules
import threading
intervals = set()
watching = threading.Event()
def watch():
    while not watching.is_set():
        intervals.add(sys.getswitchinterval())
        time.sleep(0.01)
watcher = threading.Thread(target=watch)
watcher.start()
tw.load_torch()
watching.set()
watcher.join()
print(json.dumps({"preloaded": preloaded, "mapped": mapped, "before": before,
                  "intervals": sorted(intervals), "after": sys.getswitchinterval(),
                  "full": len(full), "enabled": gc.isenabled(), "frozen": gc.get_freeze_count(),
                  "loaded": tw.torch_loaded() and "torch" in sys.modules}))
"""
    result = run_fresh(script, "", str(tmp_path / "s.ini"))
    if sys.platform.startswith("linux"):
        assert any(path.endswith("libtorch_cpu.so") for path in result["preloaded"])
        assert result["mapped"] and not result["before"]
    assert result["loaded"]
    assert result["full"] == 0  # no full collection while torch was imported
    assert result["enabled"] and result["frozen"] > 10_000
    # the GIL handed over every 1 ms meanwhile, Python's 5 ms again after
    assert 0.001 in result["intervals"] and result["after"] == 0.005


def test_opening_the_dialog_shows_loading_pytorch_then_ready(qtbot, mnist_dir, monkeypatch):
    import threading

    from drawdigit.gui import training_worker

    # As in a fresh app: torch not loaded yet (here: load_torch has not run in this test).
    monkeypatch.setattr(training_worker, "_torch_ready", threading.Event())
    dialog = TrainingDialog(data_dir=mnist_dir, train_limit=TRAIN_LIMIT, test_limit=TEST_LIMIT)
    qtbot.addWidget(dialog)
    OPEN_DIALOGS.append(dialog)
    seen: list[tuple[str, bool, bool]] = []
    bar = dialog.progress_view.progress_bar
    dialog.state.statusChanged.connect(
        lambda text, _error: seen.append(
            (text, bar.maximum() == 0, dialog.start_button.isEnabled())
        )
    )
    dialog.show()
    qtbot.waitUntil(dialog.warmed_up, timeout=RUN_TIMEOUT_MS)
    assert [text for text, _busy, _start in seen] == [
        "Loading PyTorch…",
        "Getting training ready…",
        "Reading MNIST…",
        "Ready to train.",
    ]
    assert [busy for _text, busy, _start in seen] == [True, True, True, False]
    assert all(start for _text, _busy, start in seen)  # Start never waits for the user
    assert dialog.progress_view.status_label.text() == "Ready to train."
    assert dialog.settings_view.device_combo.count() >= 2  # filled in by the worker


def test_fine_tune_says_loading_pytorch_first(qtbot, monkeypatch, sideways_writer):
    import threading

    from PySide6.QtWidgets import QMainWindow

    from drawdigit.gui import training_worker
    from drawdigit.gui.window.finetune import RUNNING_TEXT, FinetuneController
    from drawdigit.samples import add_sample

    for digit, drawing in sideways_writer(1, 3):
        add_sample(digit, drawing=drawing)
    monkeypatch.setattr(training_worker, "_torch_ready", threading.Event())
    window = QMainWindow()
    qtbot.addWidget(window)
    controller = FinetuneController(window, window.statusBar())
    window.show()
    labels: list[str] = []

    def on_step(event: object) -> None:
        if isinstance(event, str):
            labels.append(controller.label.text())
            if event == RUNNING_TEXT:
                controller.cancel()  # seen what it says: no need to fine-tune

    controller.start()
    labels.append(controller.label.text())
    controller._worker.yielded.connect(on_step)
    qtbot.waitUntil(lambda: not controller.is_running(), timeout=RUN_TIMEOUT_MS)
    assert labels[:3] == [RUNNING_TEXT, "Loading PyTorch…", RUNNING_TEXT]


# --------------------------------------------------------------------------- defaults and layout


def test_the_default_preset_is_fast_and_names_agree_everywhere(qtbot, mnist_dir):
    from drawdigit.gui.training.settings_view import same_settings
    from drawdigit.training import PRESETS

    dialog = make_dialog(qtbot, mnist_dir)
    view = dialog.settings_view
    assert view.preset() == "fast"
    assert same_settings(dialog.config(), PRESETS["fast"])
    # The optimiser is "Adam"/"RMSprop" wherever it is named, never the config's key.
    texts = [
        combo.itemText(i) for combo in dialog.findChildren(QComboBox) for i in range(combo.count())
    ]
    assert "Fast (1 epoch, Adam, batch 64) · about ½ min on 2 cores" in texts
    assert not [text for text in texts if "adam" in text or "rmsprop" in text]
    # What a preset trains on is said beside it, and follows the choice.
    assert (
        view.data_label.text()
        == "Trains on MNIST + pen digits ×3 + pen letters ×1 (4/5 of the writers)"
    )
    view.apply_preset("best")
    assert view.data_label.text() == "Trains on MNIST + pen digits ×6 + pen letters ×1"
    assert "about 6 min on 2 cores" in view.preset_combo.currentText()
    view.apply_preset("seed")
    assert view.data_label.text() == "Trains on MNIST"


def test_the_dialog_is_smaller_than_the_main_window_and_nothing_is_cut_off(qtbot, mnist_dir):
    from PySide6.QtWidgets import QApplication

    dialog = make_dialog(qtbot, mnist_dir)
    assert dialog.width() < 940 and dialog.height() <= 640  # the main window's default
    assert dialog.width() <= 640 - 8  # fits beside a 640-pixel window on a 1280 screen
    view = dialog.settings_view
    for size in (dialog.size(), dialog.minimumSizeHint()):
        dialog.resize(size)
        dialog.tabs.setCurrentIndex(0)
        QApplication.processEvents()
        assert dialog.size() == size
        for widget in (view, view.schedule_combo, view.preset_combo, dialog.start_button):
            shown = widget.visibleRegion().boundingRect()
            assert shown == widget.rect(), (size, type(widget).__name__, shown, widget.rect())
        for combo in view.findChildren(QComboBox):
            if combo.isVisible():  # the whole of the longest choice fits
                assert combo.width() >= combo.sizeHint().width(), combo.toolTip()[:40]


def test_the_dialog_goes_beside_the_main_window_not_over_its_canvas():
    from PySide6.QtCore import QRect, QSize

    from drawdigit.gui.placement import place_beside

    screen = QRect(0, 0, 1280, 900)
    size, minimum = QSize(600, 640), QSize(534, 633)
    # A 640x500 window: the dialog goes to its right, at its full size.
    window = QRect(0, 0, 640, 500)
    rect = place_beside(window, QRect(14, 60, 340, 340), size, minimum, screen)
    assert rect.size() == size and not rect.intersects(window) and screen.contains(rect)
    # Room only when shrunk a little: it is, down to its minimum at most.
    window = QRect(80, 0, 640, 500)
    rect = place_beside(window, QRect(94, 60, 340, 340), size, minimum, screen)
    assert rect.width() == 1280 - 720 - 8 and not rect.intersects(window)
    # A 940x640 window on this screen leaves no room: the corner that hides no canvas.
    window, canvas = QRect(0, 0, 940, 640), QRect(37, 31, 503, 503)
    rect = place_beside(window, canvas, size, minimum, screen)
    assert screen.contains(rect) and not rect.intersects(canvas)
    # A canvas on the right: the dialog goes left.
    canvas = QRect(600, 31, 300, 503)
    rect = place_beside(window, canvas, size, minimum, screen)
    assert rect.left() == 0 and not rect.intersects(canvas)


def test_a_failed_downloads_message_goes_when_data_is_found_or_the_dialog_reopens(
    qtbot, mnist_dir, http_root
):
    url, _root = http_root  # serves nothing: every file is a 404
    dialog = make_dialog(qtbot, None, mirrors=(url,))
    label = dialog.data_view.download_label

    def fail() -> None:
        qtbot.mouseClick(dialog.data_view.download_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: not dialog.downloading(), timeout=30_000)
        assert label.isVisible() and "Download failed" in label.text()

    fail()
    dialog.close()
    dialog.show()
    assert not label.isVisible()
    fail()
    assert dialog.set_data_dir(mnist_dir)
    assert not label.isVisible() and label.text() == ""


def test_a_data_folder_that_cannot_hold_the_model_is_found_before_the_run(
    qtbot, mnist_dir, user_data
):
    (user_data / "models").write_text("a file where the models folder goes")
    dialog = make_dialog(qtbot, mnist_dir)
    dialog.set_config(quick_config(dialog))
    with qtbot.assertNotEmitted(dialog.runStarted):
        qtbot.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    assert not dialog.running()
    assert dialog.state.status_is_error
    assert "could not be saved" in dialog.status_text()
    assert str(user_data / "models") in dialog.status_text()
    assert "DRAWDIGIT_DATA_DIR" in dialog.status_text()


def test_the_charts_line_up_have_axis_titles_start_at_0_and_zoom_into_accuracy(qtbot):
    from PySide6.QtWidgets import QApplication

    from drawdigit.gui.training.charts import TrainingCharts

    charts = TrainingCharts()
    qtbot.addWidget(charts)
    charts.resize(500, 400)
    charts.show()
    charts.reset(2)
    QApplication.processEvents()
    for index, title in ((0, "loss"), (1, "accuracy (%)")):
        plot = (charts.loss_plot, charts.accuracy_plot)[index]
        assert plot.getPlotItem().getAxis("left").labelText == title
        assert plot.getPlotItem().getAxis("bottom").labelText == "epoch"
    lefts = (charts.plot_left(0), charts.plot_left(1))
    assert lefts[0] == lefts[1]

    # The first epoch: loss from 2.3 down, accuracy from 10% up. Loss from 0; accuracy from
    # 50%, the floor below its second half (52-95%).
    for step in range(1, 51):
        x = step / 50
        charts.add_batch(x, 2.3 * (1 - x) + 0.1, 0.1 + 0.85 * x)
    charts.add_epoch(1.0, 0.3, 0.2, 0.96)
    charts.refresh(everything=True)
    QApplication.processEvents()
    low, high = charts.y_range(0)
    assert low == pytest.approx(0, abs=1e-9) and 2.4 <= high <= 2.6
    assert charts.y_range(1) == pytest.approx((50.0, 100.5))
    # The second epoch, everything above 95%: the accuracy axis shows 95-100%.
    for step in range(1, 51):
        x = 1 + step / 50
        charts.add_batch(x, 0.05, 0.985)
        charts.add_estimate(x, 0.975)
    charts.add_epoch(2.0, 0.05, 0.04, 0.988)
    charts.refresh(everything=True)
    QApplication.processEvents()
    assert charts.y_range(1) == pytest.approx((95.0, 100.1))
    assert charts.y_range(0)[0] == pytest.approx(0, abs=1e-9)
    # The plot areas still line up, the labels having changed ("0.5" -> "96", "2.0").
    assert (charts.plot_left(0), charts.plot_left(1)) == lefts


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a thread's nice: Linux")
def test_the_warm_up_runs_below_the_apps_priority_and_hands_the_gil_over_often(mnist_dir):
    import threading

    from drawdigit.gui import training_worker
    from drawdigit.training import PRESETS

    seen: dict[str, object] = {}

    def work() -> None:
        tid = threading.get_native_id()
        seen["before"] = os.getpriority(os.PRIO_PROCESS, tid)
        steps = training_worker.prepare_ahead(PRESETS["fast"], None)
        next(steps)  # its first step: inside
        seen["during"] = os.getpriority(os.PRIO_PROCESS, tid)
        seen["interval"] = sys.getswitchinterval()
        for _step in steps:
            pass
        seen["after"] = os.getpriority(os.PRIO_PROCESS, tid)

    before = sys.getswitchinterval()
    thread = threading.Thread(target=work)
    thread.start()
    thread.join(timeout=300)
    assert seen["during"] == seen["before"] + training_worker.BACKGROUND_NICE
    assert seen["interval"] == pytest.approx(0.001)
    # put back (root may; an unprivileged thread stays lower, and ends with the warm-up)
    assert seen["after"] in (seen["before"], seen["during"])
    assert sys.getswitchinterval() == before


def test_the_charts_are_built_after_the_warm_up_once_the_user_stops_drawing(qtbot, mnist_dir):
    from drawdigit.gui.training_dialog import IDLE_BEFORE_CHARTS

    dialog = make_dialog(qtbot, mnist_dir)
    drawing = QTimer()
    drawing.timeout.connect(dialog.user_is_drawing)  # a stroke's moves, ~30 a second
    drawing.start(30)
    qtbot.waitUntil(dialog.warmed_up, timeout=RUN_TIMEOUT_MS)
    qtbot.wait(int(IDLE_BEFORE_CHARTS * 1500))
    assert dialog.progress_view.charts is None  # not while the user draws
    drawing.stop()
    stopped = time.monotonic()
    qtbot.waitUntil(lambda: dialog.progress_view.charts is not None, timeout=10_000)
    assert time.monotonic() - stopped >= IDLE_BEFORE_CHARTS * 0.9
    assert dialog.progress_view.charts.isVisibleTo(dialog.progress_view.charts_page)

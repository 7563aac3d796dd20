"""Correcting a guess saves a sample; the samples dialog lists, deletes, relabels, round-trips;
fine-tuning runs in a worker thread and its model can be used."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtTest import QTest

from drawdigit.formatting import human_date
from drawdigit.gui.main_window import MainWindow
from drawdigit.gui.samples_view import SamplesDialog
from drawdigit.samples import add_sample, list_samples, samples_dir
from drawdigit.store import active_model_path, bundled_model_path, resource_path
from drawdigit.strokes import load_drawing

MODEL_TIMEOUT_MS = 90_000


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path):
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    yield


def digit(d: int, dx: float = 0.0):
    """The bundled drawing of ``d``, moved ``dx`` px right (samples are unique by content)."""
    drawing = load_drawing(resource_path("samples", f"digit-{d}.json"))
    drawing.strokes = [[(x + dx, y) for x, y in stroke] for stroke in drawing.strokes]
    return drawing


@pytest.fixture
def window(qtbot) -> MainWindow:
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    window.activateWindow()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: window.model_ready(), timeout=MODEL_TIMEOUT_MS)
    return window


def show_and_wait(window: MainWindow, qtbot, d: int) -> None:
    window.canvas.set_drawing(digit(d))
    qtbot.waitUntil(
        lambda: (
            window.last_result() is not None
            and window.last_result().prediction is not None
            and window.shows_current_answer()
        ),
        timeout=MODEL_TIMEOUT_MS,
    )


def test_typing_a_digit_after_a_guess_saves_a_corrected_sample(window, qtbot) -> None:
    show_and_wait(window, qtbot, 7)
    QTest.keyClick(window, Qt.Key.Key_3)  # "no, it is a 3"
    found = list_samples()
    assert [s.label for s in found.samples] == [3]
    assert found.samples[0].drawing == window.canvas.drawing()
    assert window.statusBar().currentMessage() == "Saved as a 3 in your samples"

    # Enter confirms; it saves only with the "save confirmed samples" option on
    QTest.keyClick(window, Qt.Key.Key_Return)
    assert len(list_samples().samples) == 1
    window.commands.save_confirmed.trigger()
    assert window.commands.save_confirmed.isChecked()
    QTest.keyClick(window, Qt.Key.Key_Return)  # the user said 3: the network's 7 is not kept
    assert len(list_samples().samples) == 1
    show_and_wait(window, qtbot, 8)  # another drawing, not corrected: Enter keeps its answer
    QTest.keyClick(window, Qt.Key.Key_Return)
    labels = sorted(s.label for s in list_samples().samples)
    assert labels == sorted([3, window.last_result().prediction.digit])


def test_a_digit_key_on_an_empty_canvas_saves_nothing(window, qtbot) -> None:
    QTest.keyClick(window, Qt.Key.Key_5)
    assert list_samples().samples == []


def test_samples_dialog_lists_deletes_and_relabels(qtbot) -> None:
    for i, d in enumerate((4, 1, 1, 9)):
        add_sample(d, drawing=digit(d, i))
    (samples_dir() / "9" / "bad.json").write_text("not json")
    dialog = SamplesDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    assert [s.label for s in dialog.samples()] == [1, 1, 4, 9]
    assert len(dialog.thumbnails()) == 4
    assert not dialog.thumbnails()[0].icon().isNull()  # a thumbnail of the 28x28 input
    assert dialog.counts_label.text() == "4 samples of 3 digits; none yet for 0, 2, 3, 5, 6, 7, 8."
    assert dialog.warning_label.isVisibleTo(dialog) and "bad.json" in dialog.warning_label.text()

    dialog.select_rows([2])  # the 4
    assert dialog.relabel_selected(7) == 1
    assert sorted(s.label for s in list_samples().samples) == [1, 1, 7, 9]
    assert [s.label for s in dialog.samples()] == [1, 1, 7, 9]

    dialog.select_rows([0, 1])
    assert dialog.delete_selected() == 2
    assert sorted(s.label for s in list_samples().samples) == [7, 9]
    assert len(dialog.thumbnails()) == 2


def test_samples_are_grouped_by_digit_with_dated_tooltips(qtbot) -> None:
    """A section per digit under a header "7 — 2 samples"; the headers cannot be selected;
    each thumbnail's tooltip has a date people read, not a raw timestamp."""
    for i, d in enumerate((7, 1, 7)):
        add_sample(d, drawing=digit(d, i))
    dialog = SamplesDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.headers() == ["1 — 1 sample", "7 — 2 samples"]
    rows = [dialog.list.item(r) for r in range(dialog.list.count())]
    assert [item.text() or "thumb" for item in rows] == [
        "1 — 1 sample", "thumb", "7 — 2 samples", "thumb", "thumb"
    ]  # fmt: skip
    dialog.list.selectAll()
    assert len(dialog.selected_samples()) == 3  # the headers are not selectable
    # Each header starts a row of its own: the 7s are below the 1, not beside it.
    one, seven = dialog.thumbnails()[0], dialog.thumbnails()[1]
    assert dialog.list.visualItemRect(seven).top() > dialog.list.visualItemRect(one).bottom()
    tip = dialog.thumbnails()[0].toolTip()
    created = dialog.samples()[0].created
    assert tip.startswith("A 1, saved ") and created not in tip
    assert tip.endswith(human_date(created)) and re.search(
        r"\d+ [A-Z][a-z]{2} \d{4}, \d\d:\d\d$", tip
    )


def test_human_dates() -> None:
    assert human_date("not a date") == "unknown date" and human_date(None) == "unknown date"
    when = datetime(2026, 11, 27, 14, 5, tzinfo=timezone.utc).astimezone()
    stamp = when.astimezone(timezone.utc).isoformat()
    assert human_date(stamp) == f"{when.day} Nov 2026, {when:%H:%M}"
    naive = "2026-11-27T14:05:00"  # taken as UTC
    assert human_date(naive) == human_date("2026-11-27T14:05:00+00:00")


def test_delete_can_be_undone(qtbot) -> None:
    """Delete acts at once; Undo (the button, or Ctrl+Z) puts the files back as they were,
    the last deletion first."""
    for i, d in enumerate((2, 3, 3)):
        add_sample(d, drawing=digit(d, i))
    before = {p: p.read_bytes() for p in samples_dir().rglob("*.json")}
    dialog = SamplesDialog()
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.activateWindow()
    qtbot.waitExposed(dialog)
    qtbot.waitUntil(dialog.isActiveWindow)
    assert not dialog.undo_button.isEnabled()
    dialog.select_rows([0])
    assert dialog.delete_selected() == 1
    dialog.select_rows([0, 1])
    assert dialog.delete_selected() == 2
    assert list_samples().samples == [] and dialog.undo_button.isEnabled()
    assert "Deleted 2 samples" in dialog.note_label.text()
    QTest.keyClick(dialog, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert sorted(s.label for s in list_samples().samples) == [3, 3]
    qtbot.mouseClick(dialog.undo_button, Qt.MouseButton.LeftButton)
    assert {p: p.read_bytes() for p in samples_dir().rglob("*.json")} == before
    assert not dialog.undo_button.isEnabled() and dialog.headers() == [
        "2 — 1 sample",
        "3 — 2 samples",
    ]


def test_samples_dialog_export_then_import(qtbot, tmp_path: Path, monkeypatch) -> None:
    for d in (2, 6):
        add_sample(d, drawing=digit(d))
    dialog = SamplesDialog()
    qtbot.addWidget(dialog)
    archive = tmp_path / "out.zip"
    assert dialog.export_to(archive) == 2
    monkeypatch.setenv("DRAWDIGIT_DATA_DIR", str(tmp_path / "elsewhere"))
    dialog.refresh()
    assert dialog.list.count() == 0
    assert dialog.counts_label.text().startswith("No samples yet.")
    result = dialog.import_from(archive)
    assert (result.imported, result.duplicates, result.warnings) == (2, 0, [])
    assert [s.label for s in dialog.samples()] == [2, 6]
    assert dialog.samples()[0].drawing == digit(2)
    # The same zip again: nothing doubled, and the sentence the user reads says so.
    again = dialog.import_from(archive)
    assert (again.imported, again.duplicates) == (0, 2)
    assert "skipped 2 already in your samples" in again.summary()
    assert len(dialog.samples()) == 2


def add_two_of_each() -> None:
    for d in range(10):
        for dx in range(2):
            add_sample(d, drawing=digit(d, dx))


def test_finetune_runs_in_a_thread_and_its_model_can_be_used(
    window, qtbot, kept_aside_accuracy
) -> None:
    add_two_of_each()
    window.update_finetune_action()  # added behind the window's back
    with qtbot.waitSignal(window.finetuneFinished, timeout=120_000) as blocker:
        window.commands.finetune.trigger()
        assert not window.commands.finetune.isEnabled()  # the GUI thread is free meanwhile
        assert window.finetune.is_running() and window.finetune.bar.isVisible()
    result = blocker.args[0]
    assert result.train_count == 10 and result.heldout_count == 10
    assert not result.cancelled
    # The kept-aside samples (one of each digit) as the model in use before (the bundled
    # one) reads them, computed again by the numpy forward pass: the same count of 10.
    assert result.heldout_before == pytest.approx(kept_aside_accuracy(bundled_model_path()))
    qtbot.waitUntil(lambda: not window.finetune.is_running())
    assert window.commands.finetune.isEnabled() and not window.finetune.bar.isVisible()
    progress = window.finetune.last_progress()
    assert progress is not None and progress.step == progress.steps
    box = window.finetune.offer()
    assert box is not None and box.isVisible()
    assert "held-out" in box.text() and "MNIST" in box.text()
    [use] = [b for b in box.buttons() if b.text() == "Use this model"]
    use.click()
    assert window.finetune.offer() is None
    assert active_model_path().is_file()
    qtbot.waitUntil(lambda: window.model_ready(), timeout=MODEL_TIMEOUT_MS)
    assert window.model_source().kind == "user"
    assert window.model_source().metadata["source"] == "drawdigit fine-tune"
    # ... and "after" as the fine-tuned model, now in use, reads them
    assert result.heldout_after == pytest.approx(kept_aside_accuracy(active_model_path()))


def test_finetune_can_be_cancelled_from_the_status_bar(window, qtbot) -> None:
    add_two_of_each()
    window.update_finetune_action()  # added behind the window's back
    finished = []
    window.finetuneFinished.connect(finished.append)
    ended = qtbot.waitSignal(
        window.finetune.runningChanged, timeout=120_000, check_params_cb=lambda on: not on
    )
    with ended:
        window.commands.finetune.trigger()
        assert window.finetune.bar.isVisible() and window.finetune.cancel_button.isEnabled()
        qtbot.mouseClick(window.finetune.cancel_button, Qt.MouseButton.LeftButton)
        assert not window.finetune.cancel_button.isEnabled()
    progress = window.finetune.last_progress()
    assert progress is None or progress.step < progress.steps  # stopped early
    assert finished == []  # no result is reported ...
    assert window.finetune.offer() is None  # ... or offered
    assert not window.finetune.bar.isVisible() and window.commands.finetune.isEnabled()
    assert "cancelled" in window.statusBar().currentMessage()
    assert not active_model_path().exists()

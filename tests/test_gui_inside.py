"""The "Look inside" window end to end: real mouse events on the main window's canvas, the
real recogniser and explainer threads, the bundled model, MNIST from ``../shared/mnist``."""

from __future__ import annotations

import json
import subprocess
import sys
from functools import partial
from pathlib import Path

import numpy as np
import pytest

# The main window's fixtures and drawing helpers: one copy, in its own test module.
import test_gui_window as main_tests

from drawdigit.formatting import percent
from drawdigit.gui.inside import InsideWindow
from drawdigit.gui.workers import live_workers, stop_all_workers

isolated_settings = main_tests.isolated_settings  # autouse: no QSettings of the developer's
open_window = main_tests.open_window
real_window = main_tests.real_window
throwaway_model = main_tests.throwaway_model
draw, SEVEN, FOUR, ZERO = main_tests.draw, main_tests.SEVEN, main_tests.FOUR, main_tests.ZERO
MODEL_TIMEOUT_MS = main_tests.MODEL_TIMEOUT_MS
decision_for = main_tests.decision_for

INSIDE_THREADS = ("drawdigit-inside", "drawdigit-inside-memories")


def inside_threads() -> list[str]:
    return [w.thread_name for w in live_workers() if w.thread_name in INSIDE_THREADS]


def open_inside(window, qtbot) -> InsideWindow:
    """The window opened as a user does (the menu action), with its model shown."""
    window.commands.look_inside.trigger()
    inside = window._inside_window
    assert isinstance(inside, InsideWindow)
    qtbot.waitExposed(inside)
    qtbot.waitUntil(lambda: not inside.filters_view.image().isNull(), timeout=MODEL_TIMEOUT_MS)
    return inside


def frame_for_canvas(window, inside, qtbot, **expect):
    """Wait until the inside window shows the main window's current answer (and ``expect``:
    frame attributes, e.g. versus=9), and return that frame."""

    def current() -> bool:
        frame, result = inside.shown_frame(), window.last_result()
        if frame is None or result is None or frame.image28 is None:
            return False
        if not window.shows_current_answer():
            return False
        if not np.array_equal(frame.image28, result.image28):
            return False
        return all(getattr(frame, name) == value for name, value in expect.items())

    qtbot.waitUntil(current, timeout=MODEL_TIMEOUT_MS)
    return inside.shown_frame()


def heat_bytes(inside: InsideWindow) -> bytes:
    image = inside.heat_image()
    assert not image.isNull() and (image.width(), image.height()) == (28, 28)
    return bytes(image.constBits())


def test_opens_from_the_menu_and_follows_the_drawing(real_window, qtbot):
    inside = open_inside(real_window, qtbot)
    assert inside.isWindow() and inside is not real_window
    assert real_window.commands.look_inside.shortcut().toString() == "Ctrl+I"
    qtbot.waitUntil(lambda: inside.shown_frame() is not None)  # the empty canvas
    assert inside.heat_image().isNull()
    assert inside.question_label.text() == "Draw a digit in the main window."
    assert inside.filters_label.text() == "Layer 1's 32 filters (3×3)"

    draw(real_window, *SEVEN)
    seven = frame_for_canvas(real_window, inside, qtbot)
    answer = real_window.last_result().prediction
    assert seven.target == answer.digit == 7
    assert seven.versus == answer.runner_up  # "compare with" starts at the runner-up
    assert inside.question_label.text().startswith("Why 7 (")
    assert f"not {answer.runner_up}" in inside.question_label.text()
    assert inside.method_label.text() == f"Method: {seven.method}" and seven.method
    texts = [label.text() for label in inside.layer_labels]
    assert texts == [
        "Layer 1: 32 maps, 26×26",
        "Layer 2: 64 maps, 11×11",
        "Layer 3: 64 maps, 3×3",
    ]
    # Grids of 8 columns with 1-pixel gaps.
    sizes = [(v.image().width(), v.image().height()) for v in inside.layer_views]
    assert sizes == [(8 * 27 - 1, 4 * 27 - 1), (8 * 12 - 1, 8 * 12 - 1), (8 * 4 - 1, 8 * 4 - 1)]
    seven_heat = heat_bytes(inside)
    seven_maps = bytes(inside.layer_views[0].image().constBits())

    # Another drawing: new heat, new maps.
    real_window.commands.clear.trigger()
    qtbot.waitUntil(lambda: inside.heat_image().isNull(), timeout=MODEL_TIMEOUT_MS)
    draw(real_window, *ZERO)
    zero = frame_for_canvas(real_window, inside, qtbot)
    assert zero.target == 0
    assert heat_bytes(inside) != seven_heat
    assert bytes(inside.layer_views[0].image().constBits()) != seven_maps


def test_compare_with_changes_the_heat(real_window, qtbot):
    inside = open_inside(real_window, qtbot)
    draw(real_window, *FOUR)
    first = frame_for_canvas(real_window, inside, qtbot)
    assert first.target == 4 and first.versus is not None
    runner_up_heat = heat_bytes(inside)

    inside.versus_combo.setCurrentIndex(inside.versus_combo.findData(None))
    frame_for_canvas(real_window, inside, qtbot, versus=None)
    alone_heat = heat_bytes(inside)
    assert alone_heat != runner_up_heat
    assert inside.question_label.text().startswith("Why 4? (")

    other = 9 if first.versus != 9 else 1
    inside.versus_combo.setCurrentIndex(inside.versus_combo.findData(other))
    frame_for_canvas(real_window, inside, qtbot, versus=other)
    assert heat_bytes(inside) not in (alone_heat, runner_up_heat)
    assert f"and not {other} (" in inside.question_label.text()

    inside.versus_combo.setCurrentIndex(inside.versus_combo.findData(4))  # itself: no compare
    frame_for_canvas(real_window, inside, qtbot, versus=None)
    assert heat_bytes(inside) == alone_heat


def test_a_minimised_window_waits_and_then_shows_the_latest_drawing(real_window, qtbot):
    inside = open_inside(real_window, qtbot)
    draw(real_window, *SEVEN)
    frame_for_canvas(real_window, inside, qtbot)
    shown = inside.shown_frame()
    inside.showMinimized()
    qtbot.waitUntil(inside.isMinimized)
    real_window.commands.clear.trigger()
    draw(real_window, *ZERO)
    qtbot.waitUntil(real_window.shows_current_answer, timeout=MODEL_TIMEOUT_MS)
    # Nothing was handed to the explainer while nobody could see it: the latest waits.
    assert inside.shown_frame() is shown
    assert np.array_equal(inside._waiting[1], real_window.last_result().image28)
    inside.showNormal()
    assert frame_for_canvas(real_window, inside, qtbot).target == 0


def test_a_number_is_looked_at_digit_by_digit(real_window, qtbot):
    from test_decide import side_by_side

    inside = open_inside(real_window, qtbot)
    assert not inside.part_combo.isVisible()
    draw(real_window, *side_by_side("42").strokes)
    qtbot.waitUntil(
        lambda: real_window.shows_current_answer() and inside.part_combo.isVisible(),
        timeout=MODEL_TIMEOUT_MS,
    )
    decision = real_window.last_result().decision
    assert decision.number == "42"
    items = [inside.part_combo.itemText(k) for k in range(inside.part_combo.count())]
    assert items == ["1st digit (4)", "2nd digit (2)", "the whole ink as one digit"]

    def shows(image28) -> bool:
        frame = inside.shown_frame()
        return (
            frame is not None
            and frame.image28 is not None
            and np.array_equal(frame.image28, image28)
        )

    qtbot.waitUntil(lambda: shows(decision.parts[0].image28), timeout=MODEL_TIMEOUT_MS)
    assert inside.shown_frame().target == 4
    # Each digit with the percentage the main window gives it ("A number: 4: 100% · …").
    for k, part in enumerate(decision.parts):
        said = f"{part.digit}: {percent(part.sureness, 0)}"
        assert said in real_window.panel.headline()
        assert inside.question_label.text().startswith(
            f"Why {part.digit} ({percent(part.sureness, 0)})"
        )
        if k + 1 < len(decision.parts):
            inside.part_combo.setCurrentIndex(k + 1)
            next_part = decision.parts[k + 1]
            qtbot.waitUntil(lambda p=next_part: shows(p.image28), timeout=MODEL_TIMEOUT_MS)
    assert inside.shown_frame().target == 2
    inside.part_combo.setCurrentIndex(2)
    qtbot.waitUntil(lambda: shows(decision.whole.image28), timeout=MODEL_TIMEOUT_MS)

    real_window.commands.clear.trigger()  # no number any more: no choice to make
    qtbot.waitUntil(lambda: inside.heat_image().isNull(), timeout=MODEL_TIMEOUT_MS)
    assert not inside.part_combo.isVisible()


@pytest.mark.parametrize("name", ["pen-letter-A.json", "pen-european-one.json", "seven"])
def test_one_drawing_gives_one_percentage_in_the_panel_look_inside_and_predict(
    real_window, qtbot, tmp_path, name
):
    """The same drawing, the same model: the main window's bars and words, Look Inside's
    question and ``drawdigit predict --json`` (the real command, in its own process) give
    the same numbers: the answer's distribution (P(d) for each digit, P(not a digit))."""
    if name == "seven":  # drawn with the mouse, saved, and given to the command
        draw(real_window, *SEVEN)
        decision_for(real_window, qtbot)
        path = tmp_path / "seven.json"
        assert real_window.document.save_to(path)
    else:  # a pen drawing opened as a file: an A (mostly "not a digit") and a European 1
        path = Path(__file__).parent / "data" / name
        with qtbot.waitSignal(real_window.document.opened, timeout=30_000):
            real_window.open_path(path)
    decision = decision_for(real_window, qtbot)
    inside = open_inside(real_window, qtbot)
    frame = frame_for_canvas(real_window, inside, qtbot)
    command = [sys.executable, "-m", "drawdigit", "predict", "--json", str(path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    row = json.loads(done.stdout)
    values = [*row["probabilities"], row["not_a_digit"]]
    assert (row["answer"], row["digit"]) == (decision.kind, decision.digit)
    # Equal to float32 rounding (two processes' forward passes may sum in another order).
    assert real_window.panel.bars.probabilities() == pytest.approx(values, abs=1e-6)
    assert list(frame.probabilities) == list(decision.distribution)  # one source
    digit = values.index(max(values[:10]))
    shown = percent(values[digit], 0)
    assert frame.target == digit and real_window.panel.bars.shown_percent(digit) == shown
    assert inside.question_label.text().startswith(f"Why {digit} ({shown})")
    if row["answer"] in ("digit", "unsure"):
        assert row["confidence"] == values[digit]
    if row["answer"] == "digit":
        assert real_window.panel.headline() == f"{shown} sure"
    if values[10] > values[digit]:  # "probably not a digit": Look Inside says it too
        assert f"More likely not a digit ({percent(values[10], 0)})" in (
            inside.question_label.text()
        )


def test_without_mnist_the_memories_say_how_to_get_it(real_window, qtbot):
    from drawdigit.memories import MemoriesUnavailable, load_memories

    # The test's data dir is empty and DRAWDIGIT_MNIST_DIR unset (conftest): no MNIST.
    inside = open_inside(real_window, qtbot)
    with pytest.raises(MemoriesUnavailable) as expected:
        load_memories(inside._model_view.net, inside._model_view.path)
    draw(real_window, *SEVEN)
    frame = frame_for_canvas(real_window, inside, qtbot)
    qtbot.waitUntil(lambda: inside.memories_text() == str(expected.value), timeout=10_000)
    assert frame.memories is None
    assert all(view.image().isNull() for view in inside.memory_views)
    assert not inside.heat_image().isNull()  # everything else works without MNIST


def test_nearest_memories_with_mnist(real_window, qtbot, mnist_dir, monkeypatch):
    from drawdigit.memories import load_memories

    monkeypatch.setenv("DRAWDIGIT_MNIST_DIR", str(mnist_dir))
    # The first 2,000 training digits keep the test quick; the app indexes all 60,000.
    real_window._inside_window = InsideWindow(
        real_window, memories_loader=partial(load_memories, limit=2000)
    )
    inside = open_inside(real_window, qtbot)
    draw(real_window, *FOUR)
    qtbot.waitUntil(
        lambda: (frame := inside.shown_frame()) is not None and frame.memories is not None,
        timeout=MODEL_TIMEOUT_MS,
    )
    frame = frame_for_canvas(real_window, inside, qtbot)
    labels = [m.label for m in frame.memories]
    assert len(labels) == 8
    assert [m.distance for m in frame.memories] == sorted(m.distance for m in frame.memories)
    majority = max(set(labels), key=labels.count)
    assert majority == 4, labels
    assert inside.memories_text() == f"It looks most like these 4s ({labels.count(4)} of 8)."
    assert [label.text() for label in inside.memory_labels] == [str(k) for k in labels]
    assert not any(view.image().isNull() for view in inside.memory_views)


def test_it_follows_the_model_in_use(open_window, throwaway_model, qtbot):
    window = open_window()
    assert window.model_source().kind == "user"  # an untrained network
    inside = open_inside(window, qtbot)

    def filters() -> bytes:
        return bytes(inside.filters_view.image().constBits())

    untrained = filters()
    window.restore_bundled_model(confirm=False)
    qtbot.waitUntil(lambda: filters() != untrained, timeout=MODEL_TIMEOUT_MS)
    assert window.model_source().kind == "bundled"
    draw(window, *SEVEN)
    assert frame_for_canvas(window, inside, qtbot).target == 7


def test_closing_the_window_and_the_app_stops_its_threads(real_window, qtbot):
    inside = open_inside(real_window, qtbot)
    assert inside.is_running() and "drawdigit-inside" in inside_threads()
    inside.close()
    assert not inside.is_running() and not inside.workers()  # the explainer: at once
    qtbot.waitUntil(lambda: inside_threads() == [])  # the memory builder: soon after

    # Open again: it starts again, and shows the drawing made while it was closed.
    draw(real_window, *SEVEN)
    inside = open_inside(real_window, qtbot)
    frame_for_canvas(real_window, inside, qtbot)
    assert inside.is_running()
    real_window.close()  # the app's last window: the inside window closes with it
    main_tests.answer(real_window, qtbot, main_tests.QMessageBox.StandardButton.Discard)
    qtbot.waitUntil(lambda: not real_window.isVisible())
    assert not inside.isVisible()
    qtbot.waitUntil(lambda: inside_threads() == [])

    # Quitting the app (its aboutToQuit runs stop_all_workers) stops one left open, too.
    inside.show()
    qtbot.waitUntil(inside.is_running, timeout=5_000)
    stop_all_workers()
    assert inside_threads() == [] and not inside.is_running()

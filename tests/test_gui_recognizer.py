"""The recogniser thread: the model loads off the GUI thread, and the latest drawing wins."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from drawdigit.gui.recognizer import Recognizer
from drawdigit.model import DigitNet, ModelConfig
from drawdigit.preprocess import preprocess
from drawdigit.store import active_model_path, save_checkpoint
from drawdigit.strokes import Drawing

TIMEOUT_MS = 90_000


@pytest.fixture
def recognizer(qtbot, user_data):
    torch.manual_seed(0)
    save_checkpoint(active_model_path(), DigitNet().state_dict(), ModelConfig(), {})
    rec = Recognizer()
    results = []
    threads = []
    rec.resultReady.connect(results.append)
    rec.resultReady.connect(lambda _result: threads.append(threading.current_thread()))
    rec.results = results
    rec.result_threads = threads
    yield rec
    rec.shutdown()


def line(x: float) -> Drawing:
    return Drawing(280, 280, [[(x, 40.0), (x, 240.0)]])


def test_a_drawing_submitted_before_the_model_loads_is_answered(qtbot, recognizer):
    seq = recognizer.submit(line(140))
    assert not recognizer.results
    with qtbot.waitSignal(recognizer.modelReady, timeout=TIMEOUT_MS) as ready:
        recognizer.start()
    source, warnings = ready.args
    assert source.kind == "user" and warnings == []
    qtbot.waitUntil(lambda: bool(recognizer.results), timeout=TIMEOUT_MS)
    (result,) = recognizer.results
    assert result.seq == seq and result.prediction is not None
    assert np.array_equal(result.image28, preprocess(line(140)))
    # answers are delivered in the GUI thread
    assert recognizer.result_threads == [threading.main_thread()]


def test_the_latest_drawing_wins(qtbot, recognizer):
    with qtbot.waitSignal(recognizer.modelReady, timeout=TIMEOUT_MS):
        recognizer.start()
    recognizer.results.clear()
    drawings = [line(60 + i) for i in range(100)]
    seqs = [recognizer.submit(d) for d in drawings]  # far faster than the worker answers
    qtbot.waitUntil(
        lambda: bool(recognizer.results) and recognizer.results[-1].seq == seqs[-1],
        timeout=TIMEOUT_MS,
    )
    qtbot.wait(100)
    answered = [r.seq for r in recognizer.results]
    assert answered == sorted(answered)
    assert answered[-1] == seqs[-1]
    assert len(answered) < len(seqs) / 2, "submissions made while busy must be coalesced"
    assert np.array_equal(recognizer.results[-1].image28, preprocess(drawings[-1]))


def test_empty_input_and_bad_images_do_not_stop_the_worker(qtbot, recognizer):
    recognizer.start()
    recognizer.submit(None)
    qtbot.waitUntil(lambda: bool(recognizer.results), timeout=TIMEOUT_MS)
    assert recognizer.results[-1].image28 is None and recognizer.results[-1].prediction is None
    recognizer.submit(np.zeros((3, 4, 5)))  # not an image preprocess can read
    qtbot.waitUntil(lambda: len(recognizer.results) == 2, timeout=TIMEOUT_MS)
    assert recognizer.results[-1].error
    recognizer.submit(line(100))
    qtbot.waitUntil(lambda: len(recognizer.results) == 3, timeout=TIMEOUT_MS)
    assert recognizer.results[-1].prediction is not None


def test_a_missing_model_is_reported(qtbot, user_data, monkeypatch, tmp_path):
    missing = tmp_path / "nope.pt"
    rec = Recognizer(model_path=missing)
    try:
        with qtbot.waitSignal(rec.modelFailed, timeout=TIMEOUT_MS) as failed:
            rec.start()
        assert str(missing) in failed.args[0]
        results = []
        rec.resultReady.connect(results.append)
        rec.submit(line(140))
        qtbot.waitUntil(lambda: bool(results), timeout=TIMEOUT_MS)
        # without a model the drawing is still preprocessed, just not classified
        assert results[0].image28 is not None and results[0].prediction is None
    finally:
        rec.shutdown()


def test_stopping_all_workers_ends_an_idle_recogniser(qtbot, recognizer):
    from drawdigit.gui.workers import live_workers, stop_all_workers

    with qtbot.waitSignal(recognizer.modelReady, timeout=TIMEOUT_MS):
        recognizer.start()
    (worker,) = [w for w in live_workers() if w.thread_name == "drawdigit-recognizer"]
    assert worker.is_running()  # waiting for a drawing, in its own thread
    stop_all_workers()  # what quitting the app does
    assert not worker.is_running()
    assert worker.wait(0)  # the thread has ended
    answered = len(recognizer.results)
    recognizer.submit(line(140))  # nobody is left to answer it, and nothing breaks
    qtbot.wait(200)
    assert len(recognizer.results) == answered


def test_a_closed_recogniser_stops_between_cutting_and_reading(qtbot, user_data):
    """Closing the window waited for the answer in progress (12 s for 10,000 strokes before
    the grouping was made linear): once the inbox is closed, the worker stops after cutting
    the ink and reads nothing through the network."""
    from drawdigit.gui.recognizer import _Worker
    from drawdigit.gui.workers import LatestInbox

    inbox = LatestInbox()
    worker = _Worker(inbox)
    results = []
    worker.resultReady.connect(results.append)
    worker.load_model(None)
    many = Drawing(100_000, 280, [[(i * 25.0, 100.0), (i * 25.0, 180.0)] for i in range(10_000)])
    worker.answer((1, many))
    assert [r.seq for r in results] == [1] and results[0].decision is not None
    inbox.cancel()
    worker.answer((2, many))
    assert [r.seq for r in results] == [1]

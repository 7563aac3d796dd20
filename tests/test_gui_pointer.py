"""No stroke lost or merged: pointer moves queued while the event loop is blocked all
reach the strokes, in order (the failure it guards against: a "3" drawn while the model
loaded came out as one straight line)."""

from __future__ import annotations

import math
import threading
import time

from PySide6.QtCore import QCoreApplication, QEvent, QPointF, Qt, QTimer
from PySide6.QtGui import QMouseEvent

from drawdigit.gui.app import create_application
from drawdigit.gui.canvas import DrawingCanvas

BLOCK_SECONDS = 1.0


def test_pointer_compression_is_off_for_the_app(qapp) -> None:
    app = create_application()
    assert not app.testAttribute(Qt.ApplicationAttribute.AA_CompressHighFrequencyEvents)
    assert not app.testAttribute(Qt.ApplicationAttribute.AA_CompressTabletEvents)


def _mouse(kind: QEvent.Type, pos: QPointF, buttons: Qt.MouseButton) -> QMouseEvent:
    button = Qt.MouseButton.NoButton if kind == QEvent.Type.MouseMove else Qt.MouseButton.LeftButton
    return QMouseEvent(kind, pos, pos, button, buttons, Qt.KeyboardModifier.NoModifier)


def test_every_point_queued_during_a_blocked_event_loop_reaches_the_strokes(qtbot) -> None:
    create_application()
    canvas = DrawingCanvas()
    qtbot.addWidget(canvas)
    canvas.resize(420, 420)
    canvas.show()
    qtbot.waitExposed(canvas)
    # A "3"-like curve: 240 distinct pixels, all sent while the GUI thread sleeps.
    pixels = []
    for k in range(240):
        t = k / 239 * 2 * math.pi
        pixels.append(QPointF(round(210 + 90 * math.sin(t)), round(60 + 300 * k / 239)))
    posted = threading.Event()

    def post_pointer_events() -> None:  # another thread: the pointer does not wait for us
        held = Qt.MouseButton.LeftButton
        QCoreApplication.postEvent(canvas, _mouse(QEvent.Type.MouseButtonPress, pixels[0], held))
        for k, pixel in enumerate(pixels[1:]):
            QCoreApplication.postEvent(canvas, _mouse(QEvent.Type.MouseMove, pixel, held))
            if k % 24 == 23:
                time.sleep(0.02)  # in bursts, as a pointer's events come
        release = _mouse(QEvent.Type.MouseButtonRelease, pixels[-1], Qt.MouseButton.NoButton)
        QCoreApplication.postEvent(canvas, release)
        posted.set()

    poster = threading.Thread(target=post_pointer_events)
    blocked = []

    def block_the_event_loop() -> None:  # as a long import or a busy slot would
        poster.start()
        start = time.monotonic()
        time.sleep(BLOCK_SECONDS)
        posted.wait(10)  # on a very busy machine the poster may need longer than the block
        blocked.append(time.monotonic() - start)
        assert posted.is_set()  # every event was queued while the loop could not run

    QTimer.singleShot(0, block_the_event_loop)
    qtbot.waitUntil(lambda: bool(canvas.drawing().strokes) and posted.is_set(), timeout=10_000)
    poster.join()
    assert blocked and blocked[0] >= BLOCK_SECONDS
    strokes = canvas.drawing().strokes
    expected = [canvas.to_document(p) for p in pixels]
    assert len(strokes) == 1
    assert [tuple(p) for p in strokes[0]] == [tuple(p) for p in expected]

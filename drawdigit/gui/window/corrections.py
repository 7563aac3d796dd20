"""Corrections: the digit keys and Enter turn the answer shown into personal samples.

A single digit, "not sure" or "not a digit": typing a digit keeps the whole drawing as a
sample with that label. A number: the user types its digits one after the other ("4", "2"
for "42"); once as many digits as the number has are typed, each digit's own strokes are
kept as a sample with the typed label (``decide.part_drawing``), so a number teaches the
network digits, not numbers. One digit typed and then a pause of ``TYPING_PAUSE_MS`` says
the whole ink is that one digit (the split was wrong). Enter confirms the answer shown: its
digit, or every digit of a number, kept when "save confirmed samples" is on.

A correction is shown where the answer was (``corrected``: the panel reads "You said: 1")
and can be taken back until the drawing changes (``undo``: Ctrl+Z right after it, or the
panel's Undo link): the samples it wrote are removed (one atomic unlink each; a sample that
was already there before is left alone) and the panel shows the network's answer again
(``undone``). Typing another digit for the same drawing means "I mistyped": the earlier
correction is taken back first, so one drawing never ends up as two different digits.

The window hands over what is shown (``RecognitionResult``) and the canvas; this part only
writes samples and reports through ``status`` (a status-bar line), ``saved``, ``typing``,
``corrected`` and ``undone``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QMessageBox, QWidget

from drawdigit.gui.window.messages import show_message
from drawdigit.gui.window.settings import save_confirmed_samples

if TYPE_CHECKING:
    from collections.abc import Callable

    from drawdigit.decide import Decision
    from drawdigit.gui.canvas import DrawingCanvas
    from drawdigit.gui.recognizer import RecognitionResult
    from drawdigit.samples import Sample

TYPING_PAUSE_MS = 1500  # digits typed within this of each other belong to one number


class Corrections(QObject):
    """Keeps what the user says about the answer shown as samples."""

    status = Signal(str, int)  # a status-bar message and how long to show it (ms)
    saved = Signal()  # the samples changed: written, or removed by an undo
    typing = Signal(str, int)  # digits typed so far for a number ("": given up), how many it has
    corrected = Signal(str, str)  # what the user said, and a note ("Saved to My Samples")
    undone = Signal()  # the last correction was taken back

    def __init__(
        self,
        parent: QWidget,
        canvas: DrawingCanvas,
        shown: Callable[[], RecognitionResult | None],
    ) -> None:
        super().__init__(parent)
        self._parent = parent
        self._canvas = canvas
        self._shown = shown
        self._typed = ""
        self._undoable: list[Sample] | None = None  # what the last correction wrote
        self._said = ""  # and what it said
        self._pause = QTimer(self)
        self._pause.setSingleShot(True)
        self._pause.setInterval(TYPING_PAUSE_MS)
        self._pause.timeout.connect(self._typing_paused)

    def typed(self) -> str:
        """The digits typed so far for the number shown (empty when none are pending)."""
        return self._typed

    def reset(self) -> None:
        """The drawing changed: digits typed for the old answer no longer apply, and the
        last correction is kept for good (Ctrl+Z undoes strokes again)."""
        self._typed = ""
        self._pause.stop()
        self._undoable = None

    def can_undo(self) -> bool:
        """Whether a correction of the drawing shown can still be taken back."""
        return self._undoable is not None

    def undo(self) -> bool:
        """Take the last correction back: remove the samples it wrote, then ``undone``."""
        from drawdigit.samples import delete_sample

        if self._undoable is None:
            return False
        written, self._undoable = self._undoable, None
        try:
            for sample in written:
                delete_sample(sample)
        except OSError as exc:
            show_message(
                self._parent,
                QMessageBox.Icon.Warning,
                "Undo Correction",
                f"Could not remove the sample: {exc.strerror or exc}",
            )
            return False
        self.status.emit("Correction undone: removed from My Samples", 4000)
        self.undone.emit()
        if written:
            self.saved.emit()
        return True

    # ------------------------------------------------------------------ the keys

    def correct(self, digit: int) -> bool:
        """A digit key: the right answer is ``digit`` (or the next digit of a number)."""
        decision = self._decision()
        if decision is None or decision.kind != "number":
            return self._save_whole(digit, "Saved as a {label} in your samples", correction=True)
        self._typed += str(digit)
        count = len(decision.parts)
        if len(self._typed) < count:
            self._pause.start()
            self.typing.emit(self._typed, count)  # the panel says how many are still to come
            return True
        typed = self._typed
        self._typed = ""
        self._pause.stop()
        return self._save_number(
            decision, typed, "Saved {labels} as {count} samples", correction=True
        )

    def confirm(self) -> bool:
        """Enter: the answer shown is right (after a correction, what the user said is
        shown and kept already: the network's answer is not confirmed over it)."""
        result = self._shown()
        decision = self._decision()
        if self._canvas.is_empty() or result is None or decision is None:
            return False
        if self._undoable is not None:
            self.status.emit(f"Kept as you said: {self._said}", 3000)
            return False
        if decision.kind in ("unsure", "not-a-digit", "empty"):
            words = "Not sure" if decision.kind == "unsure" else "Not a digit"
            self.status.emit(f"{words}: nothing to confirm; type the right digit", 4000)
            return False
        label = decision.number if decision.kind == "number" else str(decision.digit)
        if not save_confirmed_samples():
            self.status.emit(f"Confirmed: {label}", 3000)
            return False
        if decision.kind == "number":
            return self._save_number(decision, label or "", "Confirmed, saved {labels}")
        return self._save_whole(int(label), "Confirmed, saved as a {label}")

    # ------------------------------------------------------------------ saving

    def _decision(self) -> Decision | None:
        result = self._shown()
        return None if result is None else result.decision

    def _typing_paused(self) -> None:
        """Fewer digits than the number has: one digit means "it is one digit"."""
        typed = self._typed
        self._typed = ""
        if len(typed) == 1:
            self._save_whole(int(typed), "Saved as a {label} in your samples", correction=True)
        elif typed:
            self.typing.emit("", 0)  # given up: the panel shows what it showed before
            self.status.emit("Not saved: type every digit of the number, one after another", 5000)

    def _save_whole(self, label: int, message: str, correction: bool = False) -> bool:
        if self._canvas.is_empty():
            self.status.emit("Draw a digit first, then type what it is", 4000)
            return False
        result = self._shown()
        if self._canvas.picture() is None:
            item = (label, self._canvas.drawing(), None)
        elif result is None or result.image28 is None:
            self.status.emit("Wait for the answer, then type the digit", 4000)
            return False
        else:
            item = (label, None, result.image28)
        return self._write([item], message.format(label=label), str(label) if correction else "")

    def _save_number(
        self, decision: Decision, labels: str, message: str, correction: bool = False
    ) -> bool:
        from drawdigit.decide import part_drawing

        picture = self._canvas.picture() is not None
        drawing = None if picture else self._canvas.drawing()
        items = [
            (int(label), None, part.image28) if drawing is None else
            (int(label), part_drawing(drawing, part), None)
            for label, part in zip(labels, decision.parts, strict=True)
        ]  # fmt: skip
        text = message.format(labels=labels, count=len(items))
        return self._write(items, text, labels if correction else "")

    def _write(self, items: list[tuple[int, Any, Any]], message: str, said: str = "") -> bool:
        """Write the samples; ``said`` (a correction): show it and make it undoable, after
        taking back an earlier correction of the same drawing (the user mistyped)."""
        from drawdigit.samples import SampleError, add_sample

        kept: list[Sample] = []  # the same digit typed again: still undone in one go
        if said and self._undoable is not None:
            if said == self._said:
                kept = self._undoable
            elif not self.undo():
                return False
        try:
            written = [
                add_sample(label, drawing=drawing, image28=image28)
                for label, drawing, image28 in items
            ]
        except (SampleError, OSError) as exc:
            from drawdigit.store import data_dir_problem

            # The data folder unusable: said as at start, not as "[Errno 20] Not a directory".
            reason = data_dir_problem() if isinstance(exc, OSError) else None
            text = f"Not saved: {reason or exc}"
            show_message(self._parent, QMessageBox.Icon.Warning, "Save Sample", text)
            return False
        duplicate = all(sample.duplicate for sample in written)
        if duplicate:
            message = "Already in your samples: nothing new saved"
        self.status.emit(message, 5000)
        self.saved.emit()
        if said:
            self._undoable = kept + [sample for sample in written if not sample.duplicate]
            self._said = said
            note = "Already in My Samples" if duplicate else "Saved to My Samples"
            self.corrected.emit(said, note)
        return True

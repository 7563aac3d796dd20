"""What the commands write to the terminal: errors, warnings, a progress bar, and the model
loader that reports its problems there.

Shared by ``drawdigit.cli`` and ``drawdigit.explain_cli``, which both sit on top of it (so
neither imports the other for these). Plain Python: ``drawdigit --help`` and the window's
start import it, and nothing heavy comes with it.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from drawdigit.inference import Predictor


def shown_path(path: Path | str) -> str:
    """A file name as a line of output shows it: as it is, or quoted with its odd characters
    escaped (a newline, a tab, a terminal escape, bytes that are not UTF-8) so that one
    file's line stays one line and prints on any terminal."""
    text = str(path)
    return text if text.isprintable() else repr(text)


def naming(message: str, path: Path | str) -> str:
    """``message`` with the file name in it as :func:`shown_path` shows it."""
    return message.replace(str(path), shown_path(path))


def error(message: str) -> int:
    """Print ``drawdigit: error: message`` on stderr; returns 2, the commands' exit status
    for a problem with the input or the set-up."""
    print(f"drawdigit: error: {message}", file=sys.stderr)
    return 2


def warn(message: str) -> None:
    print(f"drawdigit: warning: {message}", file=sys.stderr)


# --------------------------------------------------------------------------- SIGTERM


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, a service manager, a closing terminal session) as an exception in
    the main thread, like Ctrl+C's: whatever an interrupted save cleans up (its temp file, a
    model name it had claimed, the first half of a pair of files) is cleaned up too, where
    Python's default would end the process on the spot."""


@contextlib.contextmanager
def terminated_as_interrupt() -> Iterator[None]:
    """Inside: SIGTERM raises :class:`Terminated`; the handler before is put back after."""

    def stop(_signum: int, _frame: Any) -> None:
        raise Terminated

    try:
        previous = signal.signal(signal.SIGTERM, stop)
    except ValueError:  # not the main thread: leave signals as they are
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# --------------------------------------------------------------------------- Python warnings
#
# Pillow and numpy speak through Python warnings (a corrupt EXIF block, a picture above
# Pillow's decompression-bomb size, NaN pixels in a float TIFF), which Python prints as the
# path and line of the library code that raised them, then that line of code. Here they are
# one plain line each: the one place that decides how they read.


# numpy's floating-point warnings, in words (they name the operation, not the problem).
_NUMPY_WORDS = {
    "invalid value encountered": "values that are not numbers (NaN)",
    "overflow encountered": "values too large to compute with",
    "divide by zero encountered": "a division by zero",
}


def plain_warning(message: Warning | str) -> str:
    """A warning's text on one line (Pillow's may hold line breaks and double spaces);
    numpy's "invalid value encountered in cast" as "values that are not numbers (NaN)"."""
    text = " ".join(str(message).split())
    if isinstance(message, RuntimeWarning):
        for start, words in _NUMPY_WORDS.items():
            if text.startswith(start):
                return f"{words} ({text})"
    return text


def say_warnings_plainly() -> None:
    """From now on every Python warning is ``drawdigit: warning: <text>`` on stderr."""

    def show(message: Warning | str, *_where: Any, **_more: Any) -> None:
        warn(plain_warning(message))

    warnings.showwarning = show


@contextlib.contextmanager
def warnings_about(source: Path | str) -> Iterator[None]:
    """The warnings raised inside, each different one said once after it, as one line
    naming ``source`` (the file being read): ``drawdigit: warning: <file>: <text>``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            for text in dict.fromkeys(plain_warning(w.message) for w in caught):
                warn(f"{shown_path(source)}: {text}")


def load_predictor_or_explain(model: Path | None) -> Predictor | None:
    """The model ``model`` names (None: the model in use), with its warnings printed; or
    None after saying why it cannot be used."""
    from drawdigit.inference import load_predictor
    from drawdigit.store import ModelFileError

    try:
        predictor, warnings = load_predictor(model)
    except ModelFileError as exc:
        error(str(exc))
        return None
    for warning in warnings:
        warn(warning)
    return predictor


class ProgressBar:
    """A one-line progress bar on stderr, redrawn at most 5 times a second."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream or sys.stderr  # looked up now: tests and callers redirect it
        self.last = 0.0
        self.active = False

    def update(self, fraction: float, text: str, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last < 0.2:
            return
        self.last = now
        width = 28
        filled = int(round(width * min(max(fraction, 0.0), 1.0)))
        bar = "#" * filled + "-" * (width - filled)
        self.stream.write(f"\r[{bar}] {fraction * 100:5.1f}% {text}\x1b[K")
        self.stream.flush()
        self.active = True

    def line(self, text: str) -> None:
        if self.active:
            self.stream.write("\r\x1b[K")
        self.stream.write(text + "\n")
        self.stream.flush()
        self.active = False

"""``drawdigit --self-test``: prove that this installation works end to end, then exit.

Made for the frozen app first: a PyInstaller bundle that builds fine can still miss a data
file, a Qt plugin or a lazily imported torch module, and only running the real code paths
shows it. So each check goes the way the app goes - the model is loaded by
``load_predictor()`` as the GUI loads it (numpy only: these recognition checks run first
and fail if they import torch, so a bundle must recognise without it), the bundled sample
drawings and an image file go through ``preprocess`` as the canvas and ``drawdigit
predict`` send them, the real main window
opens (offscreen when there is no display) and a few real training batches run through
``training.fit`` with an optimizer (which imports ``torch._dynamo``, sympy and ``_inductor``,
the parts a trimmed bundle most easily loses). Last, offline, the HTTPS context the MNIST
download uses is built: a frozen app's OpenSSL cannot find CA certificates by itself.

``iter_self_test`` yields one ``CheckResult`` per check and prints nothing (tests use it);
``run_self_test`` prints one line per check and returns the exit status (0 = all passed).
A failing check never stops the others: one run reports everything that is broken.
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from drawdigit import __version__

SAMPLE_DIGITS = range(10)
# Training check: this many images, so a few batches run whatever the batch size.
TRAIN_IMAGES = 320
TEST_IMAGES = 200
TRAIN_BATCH = 32


class CheckFailed(Exception):
    """A check ran but its result is wrong (as opposed to crashing)."""


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str
    seconds: float

    def line(self) -> str:
        return (
            f"{'OK  ' if self.ok else 'FAIL'}  {self.name:<17} {self.seconds:6.2f} s  {self.detail}"
        )


@dataclass
class CheckState:
    """What earlier checks found, for the later ones (the model, the samples' paths)."""

    predictor: Any = None
    samples: dict[int, Path] = field(default_factory=dict)
    torch_at_start: bool = field(default_factory=lambda: "torch" in sys.modules)


def sample_path(digit: int) -> Path:
    """A bundled sample drawing of ``digit`` (``resources/samples/digit-<d>.json``)."""
    from drawdigit.store import resource_path

    return resource_path("samples", f"digit-{digit}.json")


# --------------------------------------------------------------------------- the checks


def check_resources(state: CheckState) -> str:
    from drawdigit.store import bundled_model_path, resources_dir

    root = resources_dir()
    missing = [str(p) for p in (bundled_model_path(),) if not p.is_file()]
    for digit in SAMPLE_DIGITS:
        path = sample_path(digit)
        if path.is_file():
            state.samples[digit] = path
        else:
            missing.append(path.name)
    if missing:
        raise CheckFailed(f"missing in {root}: {', '.join(missing)}")
    return f"{root} (model + {len(state.samples)} samples)"


def check_model(state: CheckState) -> str:
    from drawdigit.inference import load_predictor

    predictor, warnings = load_predictor()
    state.predictor = predictor
    if "torch" in sys.modules and not state.torch_at_start:
        raise CheckFailed("loading the model imported torch; recognition must not need it")
    detail = f"{predictor.source.describe()}, {predictor.parameter_count:,} parameters, no torch"
    if warnings:
        detail += " (" + "; ".join(warnings) + ")"
    return detail


def check_pen_ink(state: CheckState) -> str:
    """The pen ink every training run and fine-tune fits its new model's "not a digit" head
    on (``pendata``): present, whole (checksums) and of the sizes it was made with. Nothing
    is trained here; the bundled model must carry its head."""
    from drawdigit.pendata import load_made_not_digits, load_pen_digits, load_pen_not_digits
    from drawdigit.store import ModelFileError

    try:
        sets = [load() for load in (load_pen_digits, load_pen_not_digits, load_made_not_digits)]
    except (ModelFileError, OSError, ValueError) as exc:
        raise CheckFailed(f"the shipped pen ink cannot be read: {exc}") from exc
    if any(len(s.labels) == 0 for s in sets):
        raise CheckFailed("a shipped pen ink file holds no drawings")
    if state.predictor is not None and state.predictor.digitness is None:
        raise CheckFailed(f"the model has no 'not a digit' head: {state.predictor.head_problem}")
    digits, letters, made = (len(s.labels) for s in sets)
    return f"{digits:,} digits, {letters:,} letters and symbols, {made:,} made not-digits"


def check_samples(state: CheckState) -> str:
    from drawdigit.preprocess import preprocess
    from drawdigit.strokes import load_drawing

    if state.predictor is None:
        raise CheckFailed("no model to classify with")
    if not state.samples:
        raise CheckFailed("no sample drawings found")
    wrong, lowest = [], (2.0, "")
    for digit, path in sorted(state.samples.items()):
        image = preprocess(load_drawing(path))
        if image is None:
            wrong.append(f"{path.name}: no ink")
            continue
        prediction = state.predictor.classify(image)
        if prediction.digit != digit:
            wrong.append(f"{path.name} read as {prediction.digit} ({prediction.confidence:.2f})")
        lowest = min(lowest, (prediction.confidence, path.name))
    if wrong:
        raise CheckFailed("; ".join(wrong))
    if "torch" in sys.modules and not state.torch_at_start:
        raise CheckFailed("recognising the samples imported torch; it must not need it")
    count = len(state.samples)
    return f"{count}/{count} recognised (lowest confidence {lowest[0]:.3f}: {lowest[1]})"


def render_sample_image(path: Path, size: int = 200) -> Any:
    """A photo-like picture of a sample: dark ink on light paper, drawn with Pillow.

    Deliberately not the strokes renderer: the image path of ``preprocess`` (inversion,
    cropping, scaling) and Pillow's PNG codec are what this exercises.
    """
    from PIL import Image, ImageDraw

    from drawdigit.strokes import load_drawing, pen_width

    drawing = load_drawing(path)
    scale = size / max(drawing.width, drawing.height)
    pen = max(2, round(pen_width(drawing.width, drawing.height) * scale))
    image = Image.new("L", (size, size), 235)
    draw = ImageDraw.Draw(image)
    for stroke in drawing.strokes:
        points = [(x * scale, y * scale) for x, y in stroke]
        if len(points) > 1:
            draw.line(points, fill=25, width=pen, joint="curve")
        for x, y in (points[0], points[-1]):
            draw.ellipse((x - pen / 2, y - pen / 2, x + pen / 2, y + pen / 2), fill=25)
    return image


def check_image(state: CheckState) -> str:
    from drawdigit.preprocess import load_input

    if state.predictor is None:
        raise CheckFailed("no model to classify with")
    digit = 3 if 3 in state.samples else min(state.samples, default=None)
    if digit is None:
        raise CheckFailed("no sample drawing to render")
    with tempfile.TemporaryDirectory(prefix="drawdigit-selftest-") as tmp:
        png = Path(tmp) / f"digit-{digit}.png"
        render_sample_image(state.samples[digit]).save(png)
        image28 = load_input(png)
    if image28 is None or image28.shape != (28, 28):
        raise CheckFailed(f"preprocessing gave {None if image28 is None else image28.shape}")
    prediction = state.predictor.classify(image28)
    if prediction.digit != digit:
        raise CheckFailed(f"a PNG of a {digit} was read as {prediction.digit}")
    return f"PNG of a {digit} (dark on light) -> 28x28 -> {digit} ({prediction.confidence:.3f})"


def _ensure_qt_platform() -> str:
    """Pick the offscreen platform where no display exists (Qt would abort the process)."""
    if os.environ.get("QT_QPA_PLATFORM"):
        return os.environ["QT_QPA_PLATFORM"]
    if sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        return "offscreen (no display)"
    return "default"


def _wait_until(app: Any, condition: Callable[[], bool], seconds: float, what: str) -> float:
    """Run Qt's event loop until ``condition()`` holds; the seconds it took, or CheckFailed."""
    from PySide6.QtCore import QEventLoop

    start = time.monotonic()
    while not condition():
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
        if time.monotonic() - start > seconds:
            raise CheckFailed(f"{what} did not happen within {seconds:.0f} s")
        time.sleep(0.002)
    return time.monotonic() - start


def check_window(state: CheckState) -> str:
    """The real main window: it paints, loads the model in its thread, recognises a sample.

    The app's settings (window geometry, last folder...) are put back as they were
    afterwards, so a self-test never changes how the user's window opens next time.
    """
    platform_name = _ensure_qt_platform()
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from drawdigit.gui.app import create_application
    from drawdigit.gui.main_window import MainWindow

    app = create_application()
    digit = 7 if 7 in state.samples else min(state.samples, default=None)
    settings = QSettings(app.organizationName(), app.applicationName())
    saved_settings = {key: settings.value(key) for key in settings.allKeys()}
    window = MainWindow()
    shown: list[bool] = []
    results: list[Any] = []
    window.firstShown.connect(lambda: shown.append(True))
    window.recognitionShown.connect(results.append)
    try:
        window.show()
        painted = _wait_until(app, lambda: bool(shown), 20.0, "the window's first paint")
        ready = _wait_until(
            app,
            lambda: window.model_state() != "loading",
            120.0,
            "loading the model in the window",
        )
        if not window.model_ready():
            raise CheckFailed(
                f"the window could not load the model: {window.statusBar().currentMessage()}"
            )
        detail = ""
        if digit is not None:
            results.clear()
            failed: list[str] = []
            window.document.open_failed.connect(lambda _path, why: failed.append(why))
            window.open_path(state.samples[digit])
            _wait_until(app, lambda: not window.document.is_reading(), 30.0, "opening a sample")
            if failed:
                raise CheckFailed(f"the window could not open {state.samples[digit].name}")
            _wait_until(
                app,
                lambda: any(r.prediction is not None for r in results),
                30.0,
                "a prediction in the window",
            )
            prediction = next(r.prediction for r in results if r.prediction is not None)
            if prediction.digit != digit:
                raise CheckFailed(
                    f"the window read {state.samples[digit].name} as {prediction.digit}"
                )
            detail = f", shows {digit} for {state.samples[digit].name}"
        size = window.size()
    finally:
        window.close()
        window.deleteLater()
        app.processEvents()
        settings.clear()
        for key, value in saved_settings.items():
            settings.setValue(key, value)
        settings.sync()
    return (
        f"painted in {painted:.2f} s, model ready {ready:.2f} s later{detail}; "
        f"{size.width()}x{size.height()} on {QApplication.platformName()} ({platform_name})"
    )


def _training_data() -> tuple[Any, str]:
    """A tiny training set: a slice of MNIST if the user has it, else the bundled samples."""
    import numpy as np

    from drawdigit.mnist import MnistData, find_data_dir, load_mnist

    data_dir = find_data_dir()
    if data_dir is not None:
        full = load_mnist(data_dir)
        data = MnistData(
            full.train_images[:TRAIN_IMAGES],
            full.train_labels[:TRAIN_IMAGES],
            full.test_images[:TEST_IMAGES],
            full.test_labels[:TEST_IMAGES],
        )
        return data, f"{TRAIN_IMAGES} MNIST images from {data_dir}"

    from drawdigit.preprocess import preprocess
    from drawdigit.strokes import load_drawing

    images, labels = [], []
    for digit in SAMPLE_DIGITS:
        image = preprocess(load_drawing(sample_path(digit)))
        if image is None:
            raise CheckFailed(f"sample {digit} has no ink")
        images.append(np.round(image * 255).astype(np.uint8))
        labels.append(digit)
    # Shifted copies make a few batches' worth of distinct images out of ten drawings.
    shifted, shifted_labels = [], []
    shifts = [(dy, dx) for dy in (-2, -1, 0, 1, 2) for dx in (-2, -1, 0, 1, 2)]
    for dy, dx in shifts:
        shifted += [np.roll(np.roll(im, dy, axis=0), dx, axis=1) for im in images]
        shifted_labels += labels
    x = np.stack(shifted)
    y = np.asarray(shifted_labels, dtype=np.uint8)
    data = MnistData(x, y, np.stack(images), np.asarray(labels, dtype=np.uint8))
    return data, f"{len(x)} images made from the bundled samples (no MNIST found)"


def check_training(state: CheckState) -> str:
    import math
    from dataclasses import fields, replace

    import torch

    from drawdigit.training import PRESETS, BatchProgress, TrainingDone, fit

    data, source = _training_data()
    # The bundled model's recipe (Adam, one-cycle schedule, augmentation), for one epoch of
    # a few batches: every torch part a real run uses, in a second or two.
    config = PRESETS["best"]
    names = {f.name for f in fields(config)}
    changes: dict[str, Any] = {"epochs": 1, "batch_size": TRAIN_BATCH, "from_scratch": True}
    for name, value in (("device", "cpu"), ("seed", 0)):
        if name in names:
            changes[name] = value
    config = replace(config, **changes)
    batches, losses, done = 0, [], None
    for event in fit(config, data):
        if isinstance(event, BatchProgress):
            batches += 1
            losses.append(event.loss)
        elif isinstance(event, TrainingDone):
            done = event
    if done is None or done.cancelled:
        raise CheckFailed("training ended without a result")
    if batches == 0 or not all(math.isfinite(loss) for loss in losses):
        raise CheckFailed(f"{batches} batches, losses {losses}")
    for name, tensor in done.state_dict.items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise CheckFailed(f"trained weights {name} are not finite")
    recipe = f"{config.optimizer}/{config.schedule}{'/augment' if config.augment else ''}"
    return (
        f"{batches} batches ({recipe}), loss {losses[0]:.2f} -> {losses[-1]:.2f}, "
        f"test accuracy {done.test_accuracy:.2f}; {source}"
    )


def check_https(state: CheckState) -> str:
    """The MNIST download's TLS context builds, verifies, and has CA certificates (offline).

    What breaks in a frozen app is not the network but trust: its OpenSSL looks for CAs at
    the build machine's path. So this builds the real context (truststore and certifi must
    be in the bundle, certifi's ``cacert.pem`` readable) and counts certifi's anchors with
    a plain OpenSSL context (truststore's wrapper does not list them).
    """
    import ssl

    import certifi

    from drawdigit.download import https_context

    context = https_context()
    if context.verify_mode != ssl.CERT_REQUIRED or not context.check_hostname:
        raise CheckFailed("the HTTPS context does not verify certificates and host names")
    anchors = ssl.create_default_context(cafile=certifi.where()).cert_store_stats()["x509_ca"]
    if anchors < 50:
        raise CheckFailed(f"only {anchors} CA certificates in {certifi.where()}")
    return f"verified TLS: the OS trust store + {anchors} CA certificates from certifi (offline)"


def check_data_folder(state: CheckState) -> str:
    """The user data folder can hold models and samples: not a file, not read-only. Looked
    at without writing (``store.data_dir_problem``, what the window says at start)."""
    from drawdigit.store import data_dir_problem, user_data_dir

    problem = data_dir_problem()
    if problem is not None:
        raise CheckFailed(problem)
    folder = user_data_dir()
    return f"{folder}{'' if folder.is_dir() else ' (made at the first save)'}"


Check = tuple[str, Callable[[CheckState], str]]

CHECKS: list[Check] = [
    ("resources", check_resources),
    ("model", check_model),
    ("pen ink", check_pen_ink),
    ("sample drawings", check_samples),
    ("MNIST-like image", check_image),
    ("main window", check_window),
    ("training", check_training),
    ("HTTPS download", check_https),
    ("data folder", check_data_folder),
]


# --------------------------------------------------------------------------- running


def describe_environment() -> str:
    """One line: what is being tested (version, frozen or not, Python, torch, Qt).

    torch's version is read from its package metadata, not by importing it: the
    recognition checks must show that they run before torch is loaded.
    """
    from importlib.metadata import PackageNotFoundError, version

    mode = "frozen app" if getattr(sys, "frozen", False) else "from source"
    versions = [f"Python {platform.python_version()}"]
    try:
        versions.append(f"torch {version('torch')}")
    except PackageNotFoundError:  # a bundle may not carry the metadata; training checks it
        versions.append("torch (version unknown until loaded)")
    try:
        versions.append(f"PySide6 {__import__('PySide6').__version__}")
    except (ImportError, OSError) as exc:  # reported by the checks themselves
        versions.append(f"PySide6 unavailable ({type(exc).__name__})")
    return f"drawdigit {__version__} self-test ({mode}, {platform.system()}; {', '.join(versions)})"


def iter_self_test(checks: list[Check] | None = None) -> Iterator[CheckResult]:
    """Run the checks (all by default) in order, yielding each result as soon as it is known."""
    state = CheckState()
    for name, check in CHECKS if checks is None else checks:
        start = time.perf_counter()
        try:
            detail, ok = check(state), True
        except CheckFailed as exc:
            detail, ok = str(exc), False
        except Exception as exc:  # noqa: BLE001 - a crash is a failed check, named by its traceback
            last = traceback.extract_tb(exc.__traceback__)[-1]
            where = f"{Path(last.filename).name}:{last.lineno}"
            detail, ok = f"{type(exc).__name__}: {exc} (at {where})", False
        yield CheckResult(name, ok, detail, time.perf_counter() - start)


def run_self_test(stream: TextIO | None = None, checks: list[Check] | None = None) -> int:
    """Print one line per check (to ``stream``, default stdout); 0 when all passed, else 1."""
    out = stream if stream is not None else sys.stdout
    start = time.perf_counter()

    def say(text: str) -> None:
        if out is not None:  # a windowed frozen app on Windows has no stdout
            print(text, file=out, flush=True)

    say(describe_environment())
    results = []
    for result in iter_self_test(checks):
        results.append(result)
        say(result.line())
    failed = [r.name for r in results if not r.ok]
    total = time.perf_counter() - start
    if failed:
        say(
            f"self-test FAILED: {', '.join(failed)} ({len(failed)}/{len(results)}) in {total:.1f} s"
        )
        return 1
    say(f"self-test passed: {len(results)}/{len(results)} checks OK in {total:.1f} s")
    return 0

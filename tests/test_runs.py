"""One training run for the CLI and the app (``drawdigit.runs``), for real: short runs on
slices of ../shared/mnist, with and without the user's samples, from scratch and from the
model in use. One torch thread per run, so that the figures are reproducible."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from test_decide import DEJAVU, glyph

from drawdigit.finetune import FinetuneError
from drawdigit.inference import load_predictor
from drawdigit.mnist import MnistData, load_mnist
from drawdigit.preprocess import preprocess
from drawdigit.runs import (
    MIXED_RECIPE,
    NoStartingModel,
    RunCancelled,
    RunDiverged,
    TrainingJob,
    activate_run,
    describe_error,
    prepare_run,
    report_run,
)
from drawdigit.samples import add_sample, samples_dir
from drawdigit.store import (
    Checkpoint,
    ModelFileError,
    active_model_path,
    bundled_model_path,
    load_checkpoint,
    resource_path,
)
from drawdigit.strokes import load_drawing
from drawdigit.training import (
    TrainConfig,
    TrainControl,
    TrainingDone,
    accuracy,
    evaluate,
    save_trained_new,
)

QUICK = TrainConfig(
    epochs=1, batch_size=64, lr=2e-3, optimizer="adam", threads=1, device="cpu",
    quick_eval_seconds=0,
)  # fmt: skip


@pytest.fixture(scope="module")
def mnist(mnist_dir: Path) -> MnistData:
    return load_mnist(mnist_dir)


def fitted(prepared, control: TrainControl | None = None) -> tuple[list, TrainingDone | None]:
    events = list(prepared.fit(control))
    done = events[-1] if events and isinstance(events[-1], TrainingDone) else None
    return events, done


def test_a_run_from_scratch_reports_against_the_model_in_use(mnist: MnistData) -> None:
    job = TrainingJob(config=QUICK, data=mnist, train_limit=2000, test_limit=500, gallery_size=7)
    stages: list[str] = []
    prepared = prepare_run(job, stage=stages.append)
    assert stages == ["Loading MNIST…", "Preparing…"]
    assert len(prepared.data.train_labels) == 2000 and len(prepared.data.test_labels) == 500
    assert prepared.initial is None  # from scratch...
    assert prepared.current is not None  # ...but the model in use is there to compare with
    assert prepared.current_description.startswith("bundled model")
    _events, done = fitted(prepared)
    report = report_run(prepared, done, stage=stages.append)
    assert stages[-2:] == [
        "Measuring the model in use on the same test images…",
        "Teaching it what is not a digit…",
    ]
    # The new network has its own head, calibrated on writers of the shipped pen ink it
    # never saw (this run trained on MNIST alone: it saw none of them).
    assert report.head is not None and report.head_note.startswith("head fitted in")
    assert report.pen_folds_unseen == (0, 1, 2, 3, 4)
    assert "writer fold 1" in report.head.metadata["calibration"]

    assert report.test_count == 500 and report.confusion.sum() == 500
    assert report.test_accuracy == done.test_accuracy
    assert report.test_accuracy == pytest.approx(np.trace(report.confusion) / 500)
    # The model in use, measured by the plain accuracy, agrees with the fast evaluation.
    bundled = load_checkpoint(bundled_model_path()).build_model()
    expected = evaluate(bundled, mnist.test_images[:500], mnist.test_labels[:500]).accuracy
    assert report.current_accuracy == pytest.approx(expected)
    # The gallery: real mistakes, the most confident first, the test images themselves.
    assert len(report.mistakes) == 7
    assert np.all(report.mistake_guesses != report.mistake_labels)
    assert np.all(np.diff(report.mistake_confidences) <= 0)
    first = int(np.flatnonzero((mnist.test_images[:500] == report.mistakes[0]).all(axis=(1, 2)))[0])
    assert mnist.test_labels[first] == report.mistake_labels[0]
    assert report.personal is None


def test_a_run_with_my_samples_from_the_model_in_use(mnist: MnistData, sideways_writer) -> None:
    for digit, drawing in sideways_writer(4, 7):
        add_sample(digit, drawing=drawing)
    config = replace(MIXED_RECIPE, threads=1, device="cpu", quick_eval_seconds=0)
    job = TrainingJob(
        config=config, data=mnist, train_limit=2000, test_limit=300, with_my_samples=True
    )
    warned: list[str] = []
    prepared = prepare_run(job, warn=warned.append)
    assert warned == []
    assert prepared.initial is prepared.current is not None  # starts from the model in use
    mix = prepared.mix
    assert mix is not None and (mix.train_count, len(mix.heldout_labels)) == (30, 10)
    assert len(prepared.data.train_labels) == 2000 + 30 * mix.copies
    _events, done = fitted(prepared)
    report = report_run(prepared, done)

    personal = report.personal
    assert personal is not None and (personal.trained, personal.heldout) == (30, 10)
    held = (mix.heldout_images, mix.heldout_labels)
    assert personal.before == accuracy(load_checkpoint(bundled_model_path()).build_model(), *held)
    trained = prepared.current.build_model()
    trained.load_state_dict(done.state_dict)
    assert personal.after == accuracy(trained, *held)
    assert report.metadata("test")["personal_heldout_after"] == personal.after


def test_my_samples_are_needed_and_damaged_ones_are_reported(mnist: MnistData) -> None:
    job = TrainingJob(config=QUICK, data=mnist, train_limit=500, with_my_samples=True)
    with pytest.raises(FinetuneError, match="no personal samples"):
        prepare_run(job)
    folder = samples_dir() / "3"
    folder.mkdir(parents=True)
    (folder / "broken.json").write_text("{not json")
    warned: list[str] = []
    with pytest.raises(FinetuneError):
        prepare_run(job, warn=warned.append)
    assert any("broken.json" in w for w in warned), warned  # heard before the error


def test_a_damaged_active_model_is_reported_and_the_bundled_one_starts(
    mnist: MnistData,
) -> None:
    active = active_model_path()
    active.parent.mkdir(parents=True)
    active.write_bytes(b"not a model")
    job = TrainingJob(config=replace(QUICK, from_scratch=False), data=mnist, train_limit=500)
    warned: list[str] = []
    prepared = prepare_run(job, warn=warned.append)
    assert len(warned) == 1 and "could not be used" in warned[0]
    assert prepared.model_warnings == tuple(warned)
    assert prepared.initial is not None and prepared.initial.path == bundled_model_path()


def test_cancel_ends_a_run_as_cancelled(mnist: MnistData) -> None:
    job = TrainingJob(config=QUICK, data=mnist, train_limit=500, test_limit=100)

    def cancelled() -> None:
        raise RunCancelled

    with pytest.raises(RunCancelled):
        prepare_run(job, check_cancel=cancelled)
    prepared = prepare_run(job)
    control = TrainControl()
    control.cancel()
    _events, done = fitted(prepared, control)
    assert done is not None and done.cancelled
    with pytest.raises(RunCancelled):
        report_run(prepared, done)
    with pytest.raises(RunCancelled):
        report_run(prepared, None)


def test_activating_a_run_makes_it_the_model_in_use(mnist: MnistData) -> None:
    job = TrainingJob(config=QUICK, data=mnist, train_limit=1000, test_limit=200)
    prepared = prepare_run(job)
    report = report_run(prepared, fitted(prepared)[1])
    path = activate_run(report, "drawdigit test")
    assert path == active_model_path() and path.is_file()
    predictor, warnings = load_predictor()
    assert warnings == [] and predictor.source.kind == "user"
    meta = predictor.source.metadata
    assert meta["source"] == "drawdigit test" and meta["test_images"] == 200
    assert meta["test_accuracy"] == report.test_accuracy and "created" in meta
    assert meta["recipe"] == QUICK.to_dict()


def test_a_run_that_diverges_is_neither_reported_nor_saved(
    mnist: MnistData, tmp_path: Path
) -> None:
    """A run from weights whose answers overflow float32 ends with NaN weights (for real:
    one epoch of Adam on 128 images). It used to be reported at 8% and saved like any
    model; now the report refuses it with a sentence, and so would saving."""
    base = load_checkpoint(bundled_model_path())
    overflowing = Checkpoint(base.config, {k: v * 5e7 for k, v in base.weights.items()})
    config = replace(QUICK, from_scratch=False, precision="fp32")
    job = TrainingJob(config=config, data=mnist, train_limit=128, test_limit=100)
    prepared = replace(prepare_run(job), initial=overflowing)
    _events, done = fitted(prepared)
    assert done is not None and not done.cancelled and done.epochs_completed == 1
    with pytest.raises(RunDiverged) as diverged:
        report_run(prepared, done)
    message = describe_error(diverged.value)
    assert message.startswith("Training diverged: model weights contain NaN or infinity.")
    assert "Nothing was saved; a lower learning rate may help." in message
    folder = tmp_path / "models"
    with pytest.raises(ModelFileError, match="not saved: model weights contain NaN"):
        save_trained_new(folder, done)
    assert list(folder.iterdir()) == []  # the name it had claimed is given back


def test_errors_read_as_sentences() -> None:
    assert "Scratch" in describe_error(NoStartingModel("no usable model (gone)"))
    assert "(gone)" in describe_error(NoStartingModel("no usable model (gone)"))
    assert describe_error(FinetuneError("too few")).startswith("Your samples could not be used")
    assert "Out of memory" in describe_error(MemoryError())
    missing = FileNotFoundError(2, "No such file or directory", "/x/y")
    assert (
        describe_error(missing) == "A file error stopped training: No such file or directory (/x/y)"
    )


def test_accuracy_reads_uint8_and_float_images_alike(mnist: MnistData) -> None:
    model = load_checkpoint(bundled_model_path()).build_model()
    images, labels = mnist.test_images[:1500], mnist.test_labels[:1500]
    as_bytes = accuracy(model, images, labels)
    assert as_bytes == accuracy(model, images.astype(np.float32) / 255.0, labels)
    assert as_bytes == pytest.approx(evaluate(model, images, labels).accuracy)
    assert accuracy(model, images[:0], labels[:0]) is None
    calls: list[int] = []
    accuracy(model, images, labels, check_cancel=lambda: calls.append(1))
    assert len(calls) == 2  # before each chunk of 1,000
    drawn = preprocess(load_drawing(resource_path("samples", "digit-3.json")))  # floats
    assert accuracy(model, drawn[None], np.array([3])) == 1.0


def test_a_job_can_be_built_without_torch() -> None:
    """The training dialog builds its job on the GUI thread, which never imports torch."""
    code = (
        "import sys; import drawdigit.gui.training_worker; "
        "from drawdigit.runs import MIXED_RECIPE, TrainingJob; "
        "from drawdigit.training import PRESETS, TrainControl; "
        "TrainingJob(config=PRESETS['seed']); TrainControl().cancel(); "
        "print('torch' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == "False"


def _decides(model: Path, drawing_or_image) -> str:
    """What the app answers with the model file ``model`` (its own head inside)."""
    from drawdigit.decide import load_decider

    predictor, _ = load_predictor(model)
    decider, warnings = load_decider(predictor)
    assert warnings == []  # the model has its head
    return decider.decide(drawing_or_image).kind


@pytest.mark.skipif(not DEJAVU, reason="DejaVu Sans is not installed (fonts-dejavu-core)")
def test_a_trained_and_a_fine_tuned_model_say_not_a_digit_for_a_font_never_seen(
    mnist: MnistData, tmp_path: Path, sideways_writer
) -> None:
    """Every model the app makes answers "not a digit": a network trained here with the
    ``fast`` recipe (on fewer MNIST images) and one fine-tuned here each get their own head,
    which rejects a printed letter in a font no head ever learnt from."""
    from drawdigit.finetune import FinetuneConfig, finetune
    from drawdigit.store import save_checkpoint
    from drawdigit.training import PRESETS

    letter = glyph("H", DEJAVU[0])
    config = replace(PRESETS["fast"], threads=2, precision="fp32", quick_eval_seconds=0)
    prepared = prepare_run(TrainingJob(config=config, data=mnist, train_limit=20_000))
    _events, done = fitted(prepared)
    report = report_run(prepared, done)
    assert report.head is not None and report.pen_folds_unseen == (1,)
    trained = tmp_path / "trained.pt"
    save_checkpoint(trained, done.state_dict, done.model_config, {}, report.head.to_head())
    assert _decides(trained, letter) == "not-a-digit"
    assert _decides(trained, load_drawing(resource_path("samples", "digit-7.json"))) == "digit"

    pairs = sideways_writer(4, 3)
    images = np.stack([preprocess(drawing) for _, drawing in pairs])
    labels = np.array([digit for digit, _ in pairs])
    tuned = finetune(images, labels, load_checkpoint(bundled_model_path()), mnist, FinetuneConfig())
    assert tuned.head is not None
    path = tmp_path / "tuned.pt"
    save_checkpoint(path, tuned.state_dict, tuned.model_config, {}, tuned.head.to_head())
    assert _decides(path, letter) == "not-a-digit"

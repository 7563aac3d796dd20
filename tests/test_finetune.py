"""Fine-tuning on a small synthetic personal style raises its held-out accuracy."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from drawdigit.finetune import (
    FinetuneConfig,
    FinetuneError,
    finetune,
    finetune_on_my_samples,
    stratified_split,
)
from drawdigit.inference import load_predictor
from drawdigit.mnist import load_mnist
from drawdigit.preprocess import preprocess
from drawdigit.runs import mix_with_mnist
from drawdigit.samples import add_sample
from drawdigit.store import activate_model, active_model_path, bundled_model_path, load_checkpoint
from drawdigit.training import evaluate


@pytest.fixture
def styled_set(sideways_writer):
    """The made-up sideways writer's digits as model inputs (the app's own ``preprocess``)."""

    def make(per_digit: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        pairs = sideways_writer(per_digit, seed)
        images = np.stack([preprocess(drawing) for _, drawing in pairs])
        return images, np.asarray([digit for digit, _ in pairs])

    return make


def test_stratified_split_keeps_every_digit_and_is_seeded() -> None:
    labels = np.repeat(np.arange(10), 8)
    train, held = stratified_split(labels, 0.25, seed=3)
    assert len(held) == 20 and len(train) == 60
    assert sorted(set(labels[held])) == list(range(10))
    assert set(train).isdisjoint(held)
    again = stratified_split(labels, 0.25, seed=3)
    assert np.array_equal(again[1], held)


def test_finetuning_raises_held_out_accuracy_and_keeps_mnist(mnist_dir, styled_set) -> None:
    mnist = load_mnist(mnist_dir, verify=False)
    images, labels = styled_set(8, seed=0)
    initial = load_checkpoint(bundled_model_path())
    events = []
    result = finetune(
        images,
        labels,
        initial,
        mnist,
        FinetuneConfig(steps=60, lr=1e-3, mnist_eval=2000),
        progress=events.append,
    )
    assert result.heldout_count == 20 and result.train_count == 60
    assert result.heldout_after > result.heldout_before + 0.15, result
    assert result.mnist_after > result.mnist_before - 0.02, result
    assert events and events[-1].step == 60 and events[-1].fraction == 1.0
    # the caller's model is untouched; the result is a separate copy
    assert not all(
        np.array_equal(initial.state_dict[k].numpy(), result.state_dict[k].numpy())
        for k in initial.state_dict
    )


def test_cancel_stops_between_steps(styled_set) -> None:
    images, labels = styled_set(2, seed=1)
    cancel = threading.Event()
    cancel.set()
    result = finetune(images, labels, load_checkpoint(bundled_model_path()), None,
                      FinetuneConfig(steps=50), cancel=cancel)  # fmt: skip
    assert result.cancelled and result.steps_done == 0 and result.mnist_before is None
    assert result.state_dict == {}


def test_cancel_from_the_progress_report_stops_at_once_and_leaves_no_model(
    mnist_dir, styled_set
) -> None:
    """Cancel asked while step 20 is reported (as the window's Cancel does, from another
    thread, any time): step 21 never runs, nothing after it is measured (no pass over
    MNIST's test set), the result says cancelled and carries no weights to save."""
    mnist = load_mnist(mnist_dir, verify=False)
    images, labels = styled_set(4, seed=5)
    cancel = threading.Event()
    reported = []

    def progress(event) -> None:
        reported.append(event.step)
        if event.step == 20:
            cancel.set()

    result = finetune(images, labels, load_checkpoint(bundled_model_path()), mnist,
                      FinetuneConfig(steps=80, mnist_eval=500), progress, cancel)  # fmt: skip
    assert reported == [10, 20] and result.steps_done == 20
    assert result.cancelled and result.state_dict == {}
    assert result.heldout_after is None and result.mnist_after is None
    assert result.heldout_before is not None and result.mnist_before is not None  # measured
    assert not active_model_path().exists()  # and nothing was saved


def test_cancelling_my_samples_fine_tune_keeps_the_model_in_use(sideways_writer) -> None:
    """The window's call, cancelled at its first report (step 10): the model in use stays
    the bundled one, and nothing is left in the models folder."""
    for digit, drawing in sideways_writer(2, 6):
        add_sample(digit, drawing=drawing)
    cancel = threading.Event()
    result = finetune_on_my_samples(
        FinetuneConfig(steps=80), progress=lambda _event: cancel.set(), cancel=cancel
    )
    assert result.cancelled and result.steps_done == 10 and result.state_dict == {}
    assert not active_model_path().exists()
    assert not active_model_path().parent.exists() or not any(active_model_path().parent.iterdir())
    assert load_predictor()[0].source.kind == "bundled"


def test_too_few_samples_is_a_clear_error() -> None:
    with pytest.raises(FinetuneError, match="samples"):
        finetune(np.zeros((1, 28, 28)), np.array([3]), load_checkpoint(bundled_model_path()))


def test_mixing_makes_the_samples_a_share_of_mnist_and_keeps_some_aside(mnist_dir, styled_set):
    mnist = load_mnist(mnist_dir, verify=False).subset(6000, 500)
    images, labels = styled_set(4, seed=2)
    mix = mix_with_mnist(mnist, images, labels, share=0.05, holdout=0.25, seed=1)
    assert (mix.train_count, len(mix.heldout_labels)) == (30, 10)
    assert sorted(mix.heldout_labels) == list(range(10))  # one of each digit kept aside
    added = len(mix.data.train_labels) - 6000
    assert added == 30 * mix.copies
    assert 0.04 < added / len(mix.data.train_labels) < 0.06
    assert mix.data.train_images.dtype == np.uint8
    assert np.array_equal(mix.data.train_images[:6000], mnist.train_images)
    assert mix.data.test_images is mnist.test_images  # measured on MNIST's test set as it is
    # the kept-aside samples are not among the trained ones
    trained = {mix.data.train_images[i].tobytes() for i in range(6000, 6030)}
    kept = {np.rint(x * 255).astype(np.uint8).tobytes() for x in mix.heldout_images}
    assert trained.isdisjoint(kept)
    # every trained sample appears exactly `copies` times, with its label
    counts = np.bincount(mix.data.train_labels[6000:], minlength=10)
    assert list(counts) == [3 * mix.copies] * 10


def test_mixing_needs_samples_to_train_on(mnist_dir):
    mnist = load_mnist(mnist_dir, verify=False).subset(100, 10)
    with pytest.raises(FinetuneError, match="no personal samples"):
        mix_with_mnist(mnist, np.zeros((0, 28, 28)), np.zeros(0, np.int64))
    with pytest.raises(FinetuneError, match="share"):
        mix_with_mnist(mnist, np.zeros((4, 28, 28)), np.arange(4), share=1.0)


def test_a_large_fall_on_mnist_is_pointed_out(mnist_dir, styled_set) -> None:
    mnist = load_mnist(mnist_dir, verify=False)
    images, labels = styled_set(4, seed=3)
    # personal samples only, at a high rate: made to forget
    config = FinetuneConfig(steps=40, lr=1e-2, mnist_batch=0, mnist_eval=1000)
    result = finetune(images, labels, load_checkpoint(bundled_model_path()), mnist, config)
    assert result.mnist_before - result.mnist_after > 0.003, result
    assert any("begun to forget" in warning for warning in result.warnings)


def test_distillation_keeps_mnist_while_a_far_style_is_learnt(mnist_dir, styled_set) -> None:
    mnist = load_mnist(mnist_dir, verify=False)
    images, labels = styled_set(8, seed=4)
    initial = load_checkpoint(bundled_model_path())
    # A harder push than the defaults (lr 3e-4, 80 steps: the bundled model, which learnt
    # from pen ink, then loses 0.06 points of MNIST with or without distillation), so that
    # plain fine-tuning forgets.
    results = {
        weight: finetune(
            images, labels, initial, mnist, FinetuneConfig(distill=weight, lr=1e-3, steps=160)
        )
        for weight in (0.0, 3.0)
    }
    print({w: (r.heldout_after, r.mnist_before, r.mnist_after) for w, r in results.items()})
    plain, distilled = results[0.0], results[3.0]
    assert distilled.heldout_after >= plain.heldout_after - 0.05  # the style is still learnt
    assert distilled.heldout_after > distilled.heldout_before + 0.3
    # and less of MNIST is forgotten (measured: -0.33 points without, -0.24 with)
    forgot_plain = plain.mnist_before - plain.mnist_after
    forgot_distilled = distilled.mnist_before - distilled.mnist_after
    assert forgot_plain > 0.002 and forgot_distilled < 0.8 * forgot_plain


def test_finetune_on_my_samples_starts_from_the_model_in_use_and_can_become_it(
    mnist_dir, sideways_writer, monkeypatch
) -> None:
    """The app's path: the samples, the model in use (a damaged active model is reported
    and the bundled one used), MNIST found by the usual rules; then "Use this model"."""
    monkeypatch.setenv("DRAWDIGIT_MNIST_DIR", str(mnist_dir))
    for digit, drawing in sideways_writer(2, 5):
        add_sample(digit, drawing=drawing)
    active = active_model_path()
    active.parent.mkdir(parents=True)
    active.write_bytes(b"a damaged model")
    result = finetune_on_my_samples(FinetuneConfig(steps=5, mnist_eval=300))
    assert any("could not be used" in warning for warning in result.warnings)
    mnist = load_mnist(mnist_dir, verify=False)
    bundled = load_checkpoint(bundled_model_path()).build_model()
    started = evaluate(bundled, mnist.test_images[:300], mnist.test_labels[:300]).accuracy
    assert result.mnist_before == started  # measured on the bundled model: it started there

    written = activate_model(result.state_dict, result.model_config, result.metadata())
    predictor, warnings = load_predictor()
    assert warnings == [] and predictor.source.kind == "user"
    assert predictor.source.metadata["source"] == "drawdigit fine-tune"
    assert predictor.source.metadata["created"] == written["created"]
    assert predictor.source.metadata["finetune_steps"] == 5

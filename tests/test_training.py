"""The training engine, for real: short runs on slices of ../shared/mnist, on the CPU.

Every run uses one torch thread and float32: results are then reproducible bit for bit and
the same on every CPU (``precision="auto"`` would train in bfloat16 on a CPU with bf16
units), and a shared 2-core machine cannot stall the test (no timing thresholds here; see
benchmarks/). Where a test checks what happens over time, it moves the run's clock itself.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from drawdigit.augment import augment_batch
from drawdigit.mnist import MnistData, load_mnist
from drawdigit.model import DigitNet, ModelConfig, copy_state_dict, fast_forward
from drawdigit.store import Checkpoint, load_checkpoint
from drawdigit.training import (
    PRESETS,
    BatchProgress,
    EpochEnd,
    KerasRMSprop,
    TrainConfig,
    TrainControl,
    TrainingDone,
    TrainingError,
    TrainingStarted,
    accuracy,
    evaluate,
    fit,
    resolve_device,
    save_trained,
)

# A quick, well-behaved recipe for a 3,000-image slice: ~94 steps.
QUICK = TrainConfig(
    epochs=1,
    batch_size=32,
    lr=2e-3,
    optimizer="adam",
    threads=1,
    device="cpu",
    quick_eval_seconds=1.0,
    quick_eval_size=200,
    precision="fp32",
)


class TestClock:
    """A clock for ``fit`` that the test moves: ``step`` seconds between two events (the
    time a batch takes, as the test decides), and a microsecond at every reading (so that
    nothing takes no time at all). What a run reports then never depends on the machine."""

    __test__ = False  # not a test class, for pytest

    def __init__(self) -> None:
        self.now = 0.0
        self.readings = 0

    def __call__(self) -> float:
        self.readings += 1
        return self.now + self.readings * 1e-6

    def advance(self, seconds: float) -> None:
        self.now += seconds


STEP = 0.25  # seconds of training per batch, on the test's clock


@pytest.fixture(scope="module")
def mnist(mnist_dir: Path) -> MnistData:
    return load_mnist(mnist_dir)


@pytest.fixture(scope="module")
def small(mnist: MnistData) -> MnistData:
    """3,000 training images and the first 1,000 test images."""
    return mnist.subset(3000, 1000)


@pytest.fixture(scope="module")
def tiny(mnist: MnistData) -> MnistData:
    """640 training images (20 batches of 32) and 200 test images."""
    return mnist.subset(640, 200)


def run(config: TrainConfig, data: MnistData, **kwargs) -> list:
    return list(fit(config, data, **kwargs))


def batch_losses(events: list) -> list[float]:
    return [e.batch_loss for e in events if isinstance(e, BatchProgress)]


def run_on_clock(config: TrainConfig, data: MnistData, step: float = STEP) -> list:
    """The run's events, with the clock moved ``step`` seconds after each one."""
    clock, events = TestClock(), []
    for event in fit(config, data, clock=clock):
        events.append(event)
        clock.advance(step)
    return events


@pytest.fixture(scope="module")
def short_run(small: MnistData) -> list:
    return run_on_clock(QUICK, small)


# --------------------------------------------------------------------------- a real run


def test_short_run_beats_chance_by_far(short_run: list) -> None:
    done = short_run[-1]
    assert isinstance(done, TrainingDone)
    assert not done.cancelled
    assert done.epochs_completed == 1
    assert done.test_accuracy is not None and done.test_accuracy > 0.80  # chance is 0.10
    assert done.evaluation is not None and done.evaluation.count == 1000


def test_events_come_in_order_with_consistent_numbers(short_run: list) -> None:
    started, *middle, done = short_run
    assert isinstance(started, TrainingStarted)
    assert (started.train_images, started.test_images, started.batches) == (3000, 1000, 94)
    assert started.threads == 1 and started.device == "cpu"
    progress = [e for e in middle if isinstance(e, BatchProgress)]
    epochs = [e for e in middle if isinstance(e, EpochEnd)]
    assert len(progress) + len(epochs) == len(middle)
    assert [p.batch for p in progress] == list(range(1, 95))
    fractions = [p.fraction for p in progress]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    assert all(p.epoch == 1 and p.epochs == 1 and p.batches == 94 for p in progress)
    assert all(p.images_per_second > 0 and p.eta >= 0 and 0 <= p.accuracy <= 1 for p in progress)
    # Training time is the run's clock: a quarter of a second per batch on the test's.
    assert [p.elapsed for p in progress] == pytest.approx(
        [STEP * b for b in range(1, 95)], abs=1e-3
    )
    assert progress[46].eta == pytest.approx(STEP * 47 * (94 - 47) / 47, abs=1e-3)
    # The smoothed loss falls; the running accuracy ends where the epoch summary says.
    assert progress[-1].loss < progress[0].loss
    (end,) = epochs
    assert end.train_accuracy == pytest.approx(progress[-1].accuracy)
    assert end.test_accuracy == done.test_accuracy
    assert end.test_loss == pytest.approx(done.test_loss)
    assert done.history == (end,)
    # A quick test-subset estimate is attached once a second of training: every 4th batch.
    quick = [p for p in progress if p.quick_test_accuracy is not None]
    assert [p.batch for p in quick] == list(range(4, 95, 4))
    assert all(p.quick_test_images == 200 for p in quick)
    assert all(p.quick_test_images == 0 for p in progress if p not in quick)
    assert all(0 <= p.quick_test_accuracy <= 1 for p in quick)
    assert quick[-1].quick_test_accuracy > quick[0].quick_test_accuracy + 0.3  # it learns


def test_quick_estimates_follow_training_time_not_batches(tiny: MnistData) -> None:
    """Batches that take twice as long get an estimate twice as often (every 2nd batch);
    none with the estimates turned off or no test images set aside for them."""
    slow = run_on_clock(QUICK, tiny, step=2 * STEP)
    quick = [e.batch for e in slow if isinstance(e, BatchProgress) and e.quick_test_images]
    assert quick == list(range(2, 21, 2))
    for off in (replace(QUICK, quick_eval_seconds=0), replace(QUICK, quick_eval_size=0)):
        events = run_on_clock(off, tiny)
        assert not any(isinstance(e, BatchProgress) and e.quick_test_images for e in events)


def test_last_partial_batch_is_trained(tiny: MnistData) -> None:
    config = replace(QUICK, batch_size=300, quick_eval_seconds=0)
    events = run(config, tiny)
    progress = [e for e in events if isinstance(e, BatchProgress)]
    assert [p.batch for p in progress] == [1, 2, 3]  # 300 + 300 + 40
    assert all(p.quick_test_accuracy is None for p in progress)


def test_progress_every_thins_events_but_keeps_epoch_ends(tiny: MnistData) -> None:
    config = replace(QUICK, epochs=2, progress_every=7, quick_eval_seconds=0)
    progress = [e for e in run(config, tiny) if isinstance(e, BatchProgress)]
    assert [(p.epoch, p.batch) for p in progress] == [
        (1, 7), (1, 14), (1, 20), (2, 7), (2, 14), (2, 20)
    ]  # fmt: skip


def test_same_seed_same_losses_and_weights(tiny: MnistData) -> None:
    config = replace(QUICK, quick_eval_seconds=0, optimizer="rmsprop", lr=1e-3)
    first, second = run(config, tiny), run(config, tiny)
    assert batch_losses(first) == batch_losses(second)
    a, b = first[-1].state_dict, second[-1].state_dict
    assert all(torch.equal(a[k], b[k]) for k in a)
    other = run(replace(config, seed=1), tiny)
    assert batch_losses(other) != batch_losses(first)


def test_shard_threads_are_reproducible_and_compute_the_same_steps(tiny: MnistData) -> None:
    # Two threads cut each batch of 32 in two shards whose gradients are summed in order.
    one = replace(QUICK, quick_eval_seconds=0, optimizer="rmsprop", lr=1e-3)
    two = replace(one, threads=2)
    first, second = run(two, tiny), run(two, tiny)
    assert first[0].threads == 2
    assert batch_losses(first) == batch_losses(second)
    # The same maths as one thread on the whole batch, up to the order of float sums.
    single = batch_losses(run(one, tiny))
    assert np.allclose(batch_losses(first)[:5], single[:5], rtol=1e-4)


def test_a_thread_limit_computes_batches_in_fewer_shards(tiny: MnistData) -> None:
    one = replace(QUICK, quick_eval_seconds=0, optimizer="rmsprop", lr=1e-3, threads=1)
    control = TrainControl()
    control.limit_threads(1)  # as the app does while the user draws
    limited = run(replace(one, threads=2), tiny, control=control)
    assert limited[0].threads == 2 and control.threads_limit == 1
    # one shard per batch: the same sums as a one-thread run, so the same losses
    assert batch_losses(limited) == batch_losses(run(one, tiny))


def test_augmentation_changes_every_batch_but_stays_reproducible(tiny: MnistData) -> None:
    config = replace(QUICK, quick_eval_seconds=0)
    plain = batch_losses(run(config, tiny))
    augmented = batch_losses(run(replace(config, augment=True), tiny))
    again = batch_losses(run(replace(config, augment=True), tiny))
    assert augmented == again
    # The first batch has the same initial weights and the same images: only augmentation
    # can change its loss. (The shuffling has a seed of its own, so the order is the same.)
    assert augmented[0] != plain[0]
    assert all(a != p for a, p in zip(augmented, plain, strict=True))


def test_augmentation_teaches_the_variants_it_draws(short_run: list, small: MnistData) -> None:
    """What augmentation is for: the network learns to read slanted, shifted, squashed,
    thicker or thinner digits. The test images, varied the way training varies them, are
    read clearly better after the same short run with augmentation than without (measured:
    73.0% against 65.4%, while the plain test images give 84.7% and 90.3%)."""
    x = torch.from_numpy(small.test_images).unsqueeze(1).float() / 255
    labels = torch.from_numpy(small.test_labels.astype(np.int64))
    varied = augment_batch(x, torch.Generator().manual_seed(0), labels=labels).squeeze(1)
    plain_done = short_run[-1]
    augmented_done = run(replace(QUICK, quick_eval_seconds=0, augment=True), small)[-1]
    on_varied = {}
    for name, done in (("plain", plain_done), ("augmented", augmented_done)):
        model = Checkpoint(done.model_config, done.state_dict).build_model()
        on_varied[name] = accuracy(model, varied.numpy(), small.test_labels)
    assert on_varied["plain"] < plain_done.test_accuracy - 0.1  # the variants are real changes
    assert on_varied["augmented"] > on_varied["plain"] + 0.04, on_varied


def test_threads_are_put_back(tiny: MnistData) -> None:
    before = torch.get_num_threads()
    wanted = 2 if before != 2 else 1
    events = run(replace(QUICK, threads=wanted, quick_eval_seconds=0), tiny)
    assert events[0].threads == wanted
    assert torch.get_num_threads() == before


# --------------------------------------------------------------------------- control


def test_closing_the_generator_early_cleans_up(tiny: MnistData) -> None:
    before = torch.get_num_threads()
    events = fit(replace(QUICK, threads=2, quick_eval_seconds=0), tiny)
    for event in events:
        if isinstance(event, BatchProgress) and event.batch == 2:
            break
    events.close()  # what a consumer that stops listening does (or garbage collection)
    assert torch.get_num_threads() == before
    assert not [t for t in threading.enumerate() if t.name.startswith("drawdigit-train")]


def test_cancel_stops_before_the_next_batch(small: MnistData) -> None:
    control = TrainControl()
    events = []
    for event in fit(QUICK, small, control=control):
        events.append(event)
        if isinstance(event, BatchProgress) and event.batch == 3:
            control.cancel()
    progress = [e for e in events if isinstance(e, BatchProgress)]
    assert [p.batch for p in progress] == [1, 2, 3]
    done = events[-1]
    assert isinstance(done, TrainingDone) and done.cancelled
    assert done.test_accuracy is None and done.evaluation is None and done.epochs_completed == 0
    assert set(done.state_dict) == set(DigitNet().state_dict())


def test_pause_blocks_progress_until_resume(tiny: MnistData) -> None:
    control = TrainControl()
    events: list = []
    config = replace(QUICK, quick_eval_seconds=0)
    worker = threading.Thread(target=lambda: events.extend(fit(config, tiny, control=control)))
    control.pause()  # paused before the first batch: nothing may happen
    began = time.monotonic()
    worker.start()
    deadline = began + 60
    while not events and time.monotonic() < deadline:  # TrainingStarted comes before batch 1
        time.sleep(0.01)
    time.sleep(0.5)
    assert len(events) == 1 and isinstance(events[0], TrainingStarted)
    time.sleep(0.6)
    assert len(events) == 1 and worker.is_alive() and control.paused
    control.resume()
    worker.join(timeout=120)
    wall = time.monotonic() - began
    assert not worker.is_alive()
    progress = [e for e in events if isinstance(e, BatchProgress)]
    assert len(progress) == 20 and isinstance(events[-1], TrainingDone)
    assert not events[-1].cancelled
    # The pause (>= 1.1 s after TrainingStarted) is not counted as training time.
    assert events[-1].seconds < wall - 1.0


def test_pause_in_the_middle_then_resume(tiny: MnistData) -> None:
    control = TrainControl()
    events: list = []
    seen_batch = threading.Event()

    def consume() -> None:
        for event in fit(replace(QUICK, quick_eval_seconds=0), tiny, control=control):
            events.append(event)
            if isinstance(event, BatchProgress) and event.batch == 5:
                control.pause()
                seen_batch.set()

    worker = threading.Thread(target=consume)
    began = time.monotonic()
    worker.start()
    assert seen_batch.wait(timeout=60)
    time.sleep(0.5)
    frozen = len(events)
    assert isinstance(events[-1], BatchProgress) and events[-1].batch == 5
    time.sleep(0.5)
    assert len(events) == frozen and worker.is_alive()
    control.resume()
    worker.join(timeout=120)
    wall = time.monotonic() - began
    progress = [e for e in events if isinstance(e, BatchProgress)]
    assert len(progress) == 20 and isinstance(events[-1], TrainingDone)
    # The run waited >= 1 s in the pause (asked for from the loop's own thread, so it
    # began at once); its clock left that second out, however long the steps took.
    elapsed = [p.elapsed for p in progress]
    assert elapsed == sorted(elapsed)
    assert events[-1].seconds < wall - 0.9


def test_cancel_while_paused_ends_the_run(tiny: MnistData) -> None:
    control = TrainControl()
    events: list = []
    control.pause()
    worker = threading.Thread(target=lambda: events.extend(fit(QUICK, tiny, control=control)))
    worker.start()
    time.sleep(0.3)
    control.cancel()
    worker.join(timeout=60)
    assert not worker.is_alive()
    assert isinstance(events[-1], TrainingDone) and events[-1].cancelled
    assert not any(isinstance(e, BatchProgress) for e in events)


def test_control_wait_returns_on_resume_without_polling() -> None:
    control = TrainControl()
    control.pause()
    assert control.wait_while_paused(timeout=0.05) is True  # timed out, not cancelled
    threading.Timer(0.1, control.resume).start()
    began = time.monotonic()
    assert control.wait_while_paused(timeout=30) is True
    assert time.monotonic() - began < 29
    control.cancel()
    assert control.wait_while_paused() is False


# --------------------------------------------------------------------------- weights


def test_starting_from_given_weights(short_run: list, tiny: MnistData) -> None:
    done = short_run[-1]
    initial = Checkpoint(done.model_config, done.state_dict)
    original = {k: v.clone() for k, v in initial.state_dict.items()}
    config = replace(QUICK, quick_eval_seconds=0, from_scratch=False)
    warm = run(config, tiny, initial=initial)
    cold = run(replace(config, from_scratch=True), tiny)
    assert batch_losses(warm)[0] < 0.5 < 2.0 < batch_losses(cold)[0]  # ln(10) = 2.30
    # The given weights are copied, never trained in place.
    assert all(torch.equal(initial.state_dict[k], original[k]) for k in original)


def test_from_current_weights_needs_weights(tiny: MnistData) -> None:
    with pytest.raises(TrainingError, match="starting weights"):
        run(replace(QUICK, from_scratch=False), tiny)


def test_training_done_holds_a_copy() -> None:
    model = DigitNet().to(memory_format=torch.channels_last)
    copy = copy_state_dict(model)
    before = {k: v.clone() for k, v in copy.items()}
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    assert all(torch.equal(copy[k], before[k]) for k in copy)
    assert all(v.device.type == "cpu" and v.is_contiguous() for v in copy.values())


def test_done_state_dict_is_independent_of_the_initial_weights(
    short_run: list, tiny: MnistData
) -> None:
    done = short_run[-1]
    initial = Checkpoint(done.model_config, done.state_dict)
    config = replace(QUICK, quick_eval_seconds=0, from_scratch=False)
    new = run(config, tiny, initial=initial)[-1]
    pointers = {v.untyped_storage().data_ptr() for v in initial.state_dict.values()}
    assert not pointers & {v.untyped_storage().data_ptr() for v in new.state_dict.values()}
    assert any(not torch.equal(new.state_dict[k], initial.state_dict[k]) for k in new.state_dict)


def test_save_trained_writes_a_loadable_checkpoint(
    short_run: list, small: MnistData, tmp_path: Path
) -> None:
    done = short_run[-1]
    path = tmp_path / "models" / "trained.pt"
    meta = save_trained(path, done, extra_metadata={"note": "test"})
    checkpoint = load_checkpoint(path)
    sidecar = json.loads(path.with_suffix(".json").read_text("utf-8"))
    assert sidecar["sha256"] == meta["sha256"]
    for stored in (meta, sidecar, checkpoint.metadata):
        assert stored["test_accuracy"] == pytest.approx(done.test_accuracy)
        assert stored["recipe"] == QUICK.to_dict()
        assert stored["source"] == "drawdigit train"
        assert stored["torch"] == torch.__version__
        assert stored["created"].endswith("+00:00") and stored["created"][:2] == "20"
        assert stored["note"] == "test"
    assert TrainConfig.from_dict(checkpoint.metadata["recipe"]) == QUICK
    # The saved weights are the trained ones: same answers on the test images.
    result = evaluate(checkpoint.build_model(), small.test_images, small.test_labels)
    assert result.accuracy == pytest.approx(done.test_accuracy)
    assert np.array_equal(result.predictions, done.evaluation.predictions)


# --------------------------------------------------------------------------- evaluate


def test_evaluate_reports_consistent_numbers(short_run: list, small: MnistData) -> None:
    done = short_run[-1]
    model = Checkpoint(done.model_config, done.state_dict).build_model()
    result = evaluate(model, small.test_images, small.test_labels, batch_size=300)
    n = len(small.test_labels)
    assert result.confusion.shape == (10, 10) and result.confusion.dtype == np.int64
    assert result.confusion.sum() == n == result.count
    assert result.predictions.shape == (n,) and result.confidences.shape == (n,)
    assert result.accuracy == pytest.approx(np.trace(result.confusion) / n)
    assert result.accuracy == pytest.approx((result.predictions == small.test_labels).mean())
    counts = np.bincount(small.test_labels, minlength=10)
    assert np.array_equal(result.confusion.sum(axis=1), counts)
    assert np.allclose(result.per_class, np.diag(result.confusion) / counts)
    # Each confidence is the probability the model gives its answer, the largest softmax
    # output, and each prediction that answer.
    x = torch.from_numpy(small.test_images).unsqueeze(1).float() / 255
    with torch.no_grad():
        probabilities = torch.softmax(model(x), dim=1)
    assert np.allclose(result.confidences, probabilities.max(dim=1).values.numpy(), atol=1e-6)
    assert np.array_equal(result.predictions, probabilities.argmax(dim=1).numpy())
    # Batch size does not change the answers; the model is left in its mode.
    model.train()
    again = evaluate(model, small.test_images, small.test_labels, batch_size=1000)
    assert np.array_equal(again.predictions, result.predictions) and model.training
    assert again.loss == pytest.approx(result.loss, rel=1e-5)


def test_evaluate_rejects_bad_images() -> None:
    with pytest.raises(TrainingError, match="uint8"):
        evaluate(DigitNet(), np.zeros((3, 28, 28), np.float32), np.zeros(3, np.uint8))
    with pytest.raises(TrainingError, match="labels"):
        evaluate(DigitNet(), np.zeros((3, 28, 28), np.uint8), np.zeros(4, np.uint8))


# --------------------------------------------------------------------------- the parts


def test_fast_forward_is_the_model_bit_for_bit(small: MnistData) -> None:
    torch.manual_seed(0)
    model = DigitNet().to(memory_format=torch.channels_last)
    x = torch.from_numpy(small.test_images[:64].astype(np.float32) / 255).unsqueeze(1)
    y = torch.from_numpy(small.test_labels[:64].astype(np.int64))
    grads = []
    outputs = []
    for forward in (model, lambda t: fast_forward(model, t)):
        model.zero_grad(set_to_none=True)
        out = forward(x)
        F.cross_entropy(out, y).backward()
        outputs.append(out.detach())
        grads.append([p.grad.clone() for p in model.parameters()])
    assert torch.equal(outputs[0], outputs[1])
    assert all(torch.equal(a, b) for a, b in zip(*grads, strict=True))


def test_keras_rmsprop_follows_the_keras_formula() -> None:
    generator = torch.Generator().manual_seed(0)
    start = torch.randn(50, dtype=torch.float64, generator=generator)
    # Small gradients too: that is where the place of eps matters.
    grads = [
        torch.randn(50, dtype=torch.float64, generator=generator) * s for s in (1e-3, 1e-4, 1e-5)
    ]
    v = torch.zeros_like(start)
    expected = start.clone()
    for g in grads:
        v = 0.9 * v + 0.1 * g * g
        expected = expected - 1e-3 * g / torch.sqrt(v + 1e-7)

    def final(make_optimizer) -> torch.Tensor:
        w = start.clone().requires_grad_(True)
        optimizer = make_optimizer([w])
        for g in grads:
            w.grad = g.clone()
            optimizer.step()
        return w.detach()

    keras_step = final(lambda p: KerasRMSprop(p, lr=1e-3)) - start
    assert torch.allclose(keras_step, expected - start, rtol=1e-10, atol=0)
    # ...which is not what torch's RMSprop (eps outside the root) does.
    torch_step = final(lambda p: torch.optim.RMSprop(p, lr=1e-3, alpha=0.9, eps=1e-7)) - start
    assert not torch.allclose(torch_step, expected - start, rtol=0.1, atol=0)


def test_config_round_trips_and_rejects_bad_values() -> None:
    for config in PRESETS.values():
        assert TrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    with pytest.raises(TrainingError, match="unknown"):
        TrainConfig.from_dict({**QUICK.to_dict(), "momentum": 0.9})
    bad = [
        {"epochs": 0},
        {"batch_size": 0},
        {"lr": -1.0},
        {"optimizer": "sgd"},
        {"schedule": "cosine"},
        {"device": "tpu"},
        {"precision": "fp16"},
        {"threads": 0},
        {"epochs": True},
    ]
    for change in bad:
        with pytest.raises(TrainingError, match=next(iter(change))):
            replace(QUICK, **change)


def test_threads_are_capped_at_four_per_core() -> None:
    """``--threads 100000`` made OpenMP fail to create threads, then segfault after 19 s."""
    import os

    cores = os.cpu_count() or 1
    assert replace(QUICK, threads=4 * cores).threads == 4 * cores
    with pytest.raises(TrainingError) as refused:
        replace(QUICK, threads=4 * cores + 1)
    assert f"threads must be a whole number from 1 to {4 * cores} (4 x the {cores} CPU " in str(
        refused.value
    )


def test_seed_preset_is_the_notebook_recipe() -> None:
    seed = PRESETS["seed"]
    assert (seed.optimizer, seed.batch_size, seed.epochs, seed.lr) == ("rmsprop", 64, 5, 1e-3)
    assert (seed.schedule, seed.augment, seed.from_scratch) == ("constant", False, True)
    assert PRESETS["best"].augment and not PRESETS["fast"].augment


@pytest.mark.parametrize("steps", [1, 2, 3, 4, 5, 8])
def test_onecycle_runs_of_a_few_steps_finish(tiny: MnistData, steps: int) -> None:
    """A run of exactly 4 steps (``train --preset fast --limit 256 --epochs 1``) divided by
    zero in the one-cycle schedule; each short run now ends, warming up when it has steps
    enough (4 and more) and annealing to its smallest rate at the end."""
    config = replace(QUICK, schedule="onecycle", lr=4e-3, quick_eval_seconds=0)
    events = run(config, tiny.subset(steps * config.batch_size, 50))
    lrs = [e.lr for e in events if isinstance(e, BatchProgress)]
    assert len(lrs) == steps and isinstance(events[-1], TrainingDone)
    assert max(lrs) <= 4e-3 * (1 + 1e-9)
    if steps >= 2:
        assert lrs[-1] == min(lrs) < 4e-3 / 100
    if steps >= 4:
        assert lrs[0] < 4e-3 / 10 < lrs[1]


def test_onecycle_schedule_warms_up_then_anneals(tiny: MnistData) -> None:
    config = replace(QUICK, schedule="onecycle", lr=4e-3, epochs=2, quick_eval_seconds=0)
    lrs = [e.lr for e in run(config, tiny) if isinstance(e, BatchProgress)]
    peak = int(np.argmax(lrs))
    assert max(lrs) == pytest.approx(4e-3, rel=0.02)
    assert 0 < peak < len(lrs) - 1
    assert lrs[0] < 4e-3 / 10 and lrs[-1] < 4e-3 / 100


def test_bad_data_and_devices_are_reported(tiny: MnistData) -> None:
    bad_labels = MnistData(
        tiny.train_images, tiny.train_labels + 5, tiny.test_images, tiny.test_labels
    )
    with pytest.raises(TrainingError, match="0-9"):
        run(QUICK, bad_labels)
    flat = MnistData(
        tiny.train_images.reshape(-1, 784), tiny.train_labels, tiny.test_images, tiny.test_labels
    )
    with pytest.raises(TrainingError, match=r"\(N, 28, 28\)"):
        run(QUICK, flat)
    assert resolve_device("cpu").type == "cpu"
    cuda = torch.cuda.is_available()
    mps = torch.backends.mps.is_available()
    if not cuda:
        with pytest.raises(TrainingError, match="CUDA"):
            resolve_device("cuda")
    if not mps:
        with pytest.raises(TrainingError, match="MPS"):
            resolve_device("mps")
    # "auto" prefers a CUDA GPU, then Apple's MPS, then the CPU.
    if cuda:
        assert resolve_device("auto").type == "cuda"
    elif mps:
        assert resolve_device("auto").type == "mps"
    else:  # this machine, and CI
        assert resolve_device("auto").type == "cpu"


def test_model_config_of_initial_weights_is_kept(tiny: MnistData) -> None:
    config = ModelConfig(conv1=16, hidden=32)
    state = DigitNet(config).state_dict()
    done = run(
        replace(QUICK, from_scratch=False, quick_eval_seconds=0),
        tiny,
        initial=Checkpoint(config, state),
    )[-1]
    assert done.model_config == config
    assert done.state_dict["conv1.weight"].shape == (16, 1, 3, 3)


def test_evaluate_works_inside_inference_mode(tiny: MnistData) -> None:
    model = DigitNet()
    plain = evaluate(model, tiny.test_images, tiny.test_labels, threads=1)
    with torch.inference_mode():  # as the CLI calls it
        inside = evaluate(model, tiny.test_images, tiny.test_labels, threads=2)
    assert np.array_equal(plain.predictions, inside.predictions)
    assert plain.confusion.sum() == len(tiny.test_labels)

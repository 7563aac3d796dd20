"""The training precision: what ``auto`` picks from a CPU's flags, and bf16 runs that train
while the weights and the optimiser's state stay float32.

Every test here runs on every CPU. bf16 trains everywhere (natively with AMX-BF16 or
AVX512-BF16 units, else through oneDNN's emulation: correct, only slower), so the bf16 runs
are checked on both kinds. What ``auto`` picks is a pure function of the CPU's flags, tested
for both kinds with the flags of real CPUs, and once on this machine against what torch
itself detects; whatever it picks here, an ``auto`` run is exactly the run of that choice.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from test_training import QUICK
from torch.nn import functional as F

from drawdigit.cli import main
from drawdigit.mnist import MnistData, load_mnist
from drawdigit.model import DigitNet
from drawdigit.runs import RunReport
from drawdigit.store import load_checkpoint
from drawdigit.training import (
    PRECISIONS,
    BatchProgress,
    KerasRMSprop,
    TrainConfig,
    TrainingError,
    TrainingStarted,
    fit,
    resolve_precision,
)
from drawdigit.training.loop import train_step
from drawdigit.training.precision import (
    auto_for_cpu_flags,
    describe_auto_on_this_cpu,
    read_cpu_flags,
)
from drawdigit.training.saving import trained_metadata
from drawdigit.training.workers import Workers

# Flags as /proc/cpuinfo lists them (abridged to the relevant ones and some neighbours).
SAPPHIRE_RAPIDS = (
    "fpu sse2 avx avx2 fma avx512f avx512bw avx512_vnni avx512_bf16 amx_bf16 amx_tile amx_int8"
)
COOPER_LAKE = "fpu sse2 avx avx2 fma avx512f avx512bw avx512_vnni avx512_bf16"
SKYLAKE_SERVER = "fpu sse2 avx avx2 fma avx512f avx512bw avx512cd avx512dq"
AMD_EPYC_AVX2 = "fpu sse2 avx avx2 fma bmi2 sha_ni clzero"

RUN = replace(QUICK, quick_eval_seconds=0)  # test_training's quick recipe, no estimates


@pytest.fixture(scope="module")
def tiny(mnist_dir: Path) -> MnistData:
    return load_mnist(mnist_dir).subset(640, 200)


# --------------------------------------------------------------------------- the choice


def test_config_takes_the_three_precisions_and_rejects_others() -> None:
    assert TrainConfig().precision == "auto"
    for name in PRECISIONS:
        assert replace(RUN, precision=name).precision == name
    for bad in ("fp16", "BF16", "", None):
        with pytest.raises(TrainingError, match="precision"):
            replace(RUN, precision=bad)
    old_recipe = {k: v for k, v in RUN.to_dict().items() if k != "precision"}
    assert TrainConfig.from_dict(old_recipe).precision == "auto"  # recipes saved before it


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (SAPPHIRE_RAPIDS, "bf16"),  # AMX tiles
        (COOPER_LAKE, "bf16"),  # AVX512-BF16 without AMX
        (SKYLAKE_SERVER, "fp32"),  # AVX-512, but no bf16 instructions
        (AMD_EPYC_AVX2, "fp32"),  # this machine's kind
        ("", "fp32"),
    ],
)
def test_auto_picks_bf16_only_where_the_cpu_has_the_units(flags: str, expected: str) -> None:
    choice = auto_for_cpu_flags(flags.split())
    assert choice.precision == expected
    if expected == "bf16":
        assert "bf16" in choice.reason
    else:
        assert "emulated" in choice.reason


def test_cpu_flags_are_read_from_cpuinfo(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        f"processor\t: 0\nmodel name\t: Intel Xeon\nflags\t\t: {SAPPHIRE_RAPIDS}\n\n"
        f"processor\t: 1\nflags\t\t: {SAPPHIRE_RAPIDS}\n"
    )
    assert read_cpu_flags(cpuinfo) == frozenset(SAPPHIRE_RAPIDS.split())
    assert read_cpu_flags(tmp_path / "missing") is None
    (tmp_path / "empty").write_text("processor\t: 0\n")
    assert read_cpu_flags(tmp_path / "empty") is None


def test_auto_on_this_machine_follows_its_flags_and_explicit_choices_are_kept() -> None:
    cpu = torch.device("cpu")
    flags = read_cpu_flags()
    torch_sees_units = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    if flags is not None:
        assert resolve_precision("auto", cpu) == auto_for_cpu_flags(flags)
        # /proc/cpuinfo and torch's own detection agree about the units
        assert (resolve_precision("auto", cpu).precision == "bf16") == torch_sees_units
    picked = resolve_precision("auto", cpu).precision
    assert ("bfloat16" if picked == "bf16" else "float32") in describe_auto_on_this_cpu()
    assert resolve_precision("fp32", cpu).precision == "fp32"
    assert resolve_precision("bf16", cpu).precision == "bf16"
    with pytest.raises(TrainingError, match="precision"):
        resolve_precision("fp8", cpu)


# --------------------------------------------------------------------------- bf16 runs


def test_bf16_run_trains_records_bf16_and_returns_float32_weights(tiny: MnistData) -> None:
    events = list(fit(replace(RUN, precision="bf16"), tiny))
    started, done = events[0], events[-1]
    assert isinstance(started, TrainingStarted) and started.precision == "bf16"
    assert done.precision == "bf16" and not done.cancelled
    assert trained_metadata(done)["precision"] == "bf16"
    assert trained_metadata(done)["recipe"]["precision"] == "bf16"
    assert all(t.dtype == torch.float32 for t in done.state_dict.values())
    assert done.test_accuracy > 0.6  # 20 steps from scratch: far above chance (0.1)
    losses = [e.batch_loss for e in events if isinstance(e, BatchProgress)]
    assert sum(losses[-5:]) < 0.5 * sum(losses[:5])


def test_bf16_steps_compute_in_bf16_but_keep_float32_master_weights_and_state() -> None:
    torch.manual_seed(0)
    x = torch.rand(32, 1, 28, 28)
    y = torch.randint(0, 10, (32,))

    def steps(bf16: bool) -> tuple[list[torch.Tensor], KerasRMSprop, list[float]]:
        torch.manual_seed(1)
        model = DigitNet()
        params = list(model.parameters())
        optimizer = KerasRMSprop(params, lr=1e-3)
        losses = [
            float(train_step(model, params, optimizer, x, y, Workers(1, 1), bf16=bf16)[0])
            for _ in range(3)
        ]
        return params, optimizer, losses

    params, optimizer, losses = steps(bf16=True)
    assert all(p.dtype == torch.float32 and p.grad.dtype == torch.float32 for p in params)
    state = [t for p in params for t in optimizer.state[p].values()]
    assert len(state) == len(params) and all(t.dtype == torch.float32 for t in state)
    fp32_params, _, fp32_losses = steps(bf16=False)
    # bf16 really computed the forward pass (differently), and close to float32's
    assert losses != fp32_losses
    assert losses == pytest.approx(fp32_losses, rel=0.02)
    assert not all(torch.equal(a, b) for a, b in zip(params, fp32_params, strict=True))


def test_fp32_steps_are_plain_float32_pytorch_bit_for_bit() -> None:
    """The fp32 path is what it was before precision existed: no autocast anywhere."""
    torch.manual_seed(0)
    x = torch.rand(32, 1, 28, 28)
    y = torch.randint(0, 10, (32,))

    def model_and_optimizer() -> tuple[DigitNet, KerasRMSprop]:
        torch.manual_seed(1)
        model = DigitNet()
        return model, KerasRMSprop(model.parameters(), lr=1e-3)

    engine, engine_opt = model_and_optimizer()
    plain, plain_opt = model_and_optimizer()
    params = list(engine.parameters())
    for _ in range(3):
        train_step(engine, params, engine_opt, x, y, Workers(1, 1))
        plain_opt.zero_grad()
        F.cross_entropy(plain(x), y).backward()
        plain_opt.step()
    assert all(torch.equal(a, b) for a, b in zip(params, plain.parameters(), strict=True))


def test_auto_is_exactly_the_run_of_what_it_picks_here(tiny: MnistData) -> None:
    """On a CPU with bf16 units auto is the bf16 run, on one without the fp32 run: the same
    losses and weights bit for bit, and the same precision recorded."""
    picked = resolve_precision("auto", torch.device("cpu")).precision
    chosen = list(fit(replace(RUN, precision=picked), tiny))
    auto = list(fit(replace(RUN, precision="auto"), tiny))
    assert auto[0].precision == auto[-1].precision == picked
    assert trained_metadata(auto[-1])["recipe"]["precision"] == "auto"  # what was asked
    assert batch_losses(auto) == batch_losses(chosen)
    a, b = chosen[-1].state_dict, auto[-1].state_dict
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_fp32_is_float32_on_every_cpu(tiny: MnistData) -> None:
    """fp32 asked is fp32 run, also where auto would pick bf16: recorded as such, the same
    bit for bit when run again, and not the bf16 run."""
    fp32 = list(fit(replace(RUN, precision="fp32"), tiny))
    again = list(fit(replace(RUN, precision="fp32"), tiny))
    bf16 = list(fit(replace(RUN, precision="bf16"), tiny))
    assert fp32[0].precision == fp32[-1].precision == "fp32"
    assert trained_metadata(fp32[-1])["precision"] == "fp32"
    assert batch_losses(fp32) == batch_losses(again)
    assert batch_losses(fp32) != batch_losses(bf16)
    # the first batch: the same weights and images, only the number format differs
    assert batch_losses(fp32)[0] == pytest.approx(batch_losses(bf16)[0], rel=0.02)


def batch_losses(events: list) -> list[float]:
    return [e.batch_loss for e in events if isinstance(e, BatchProgress)]


# --------------------------------------------------------------------------- front ends


def test_train_command_takes_precision_and_says_what_it_used(
    tmp_path: Path, mnist_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bf16.pt"
    args = ["train", "--preset", "fast", "--epochs", "1", "--limit", "640", "--threads", "1"]
    args += ["--precision", "bf16", "--json", "--data-dir", str(mnist_dir), "--out", str(out)]
    assert main(args) == 0
    stdout, err = capsys.readouterr()
    report = json.loads(stdout.strip().splitlines()[-1])
    assert report["precision"] == "bf16" and report["config"]["precision"] == "bf16"
    assert "in bf16: asked for" in err
    assert load_checkpoint(out).metadata["precision"] == "bf16"

    auto = [a for a in args if a not in ("--precision", "bf16")]  # the default: auto
    assert main(auto) == 0
    stdout, err = capsys.readouterr()
    picked = resolve_precision("auto", torch.device("cpu"))
    assert json.loads(stdout.strip().splitlines()[-1])["precision"] == picked.precision
    assert f"in {picked.precision}: {picked.reason}" in err


def test_bad_precision_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--precision", "fp16"])
    assert exit_info.value.code == 2
    assert "argument --precision" in capsys.readouterr().err


def test_dialog_offers_precision_and_says_what_automatic_picks_here(qtbot, tiny: MnistData) -> None:
    from drawdigit.gui.training.result_view import _result_text
    from drawdigit.gui.training.settings_view import SettingsView
    from drawdigit.training import PRESETS

    view = SettingsView(dict(PRESETS))
    qtbot.addWidget(view)
    view.apply_preset("fast")
    assert view.config().precision == "auto"
    picked = resolve_precision("auto", torch.device("cpu")).precision
    assert ("bfloat16" if picked == "bf16" else "float32") in view.precision_combo.toolTip()
    view.precision_combo.setCurrentIndex(view.precision_combo.findData("bf16"))
    assert view.config().precision == "bf16"
    assert view.preset() == "fast"  # a hardware choice, not a different recipe
    view.set_config(replace(PRESETS["seed"], precision="fp32"))
    assert view.config() == replace(PRESETS["seed"], precision="fp32")

    done = list(fit(replace(RUN, precision="bf16"), tiny))[-1]
    none = np.zeros(0, np.int64)
    report = RunReport(
        done=done,
        test_accuracy=done.test_accuracy,
        test_count=200,
        confusion=done.evaluation.confusion,
        per_class=done.evaluation.per_class,
        mistakes=np.zeros((0, 28, 28), np.uint8),
        mistake_labels=none,
        mistake_guesses=none,
        mistake_confidences=np.zeros(0, np.float32),
        current_accuracy=None,
        current_description="no model in use",
    )
    assert "bfloat16" in _result_text(report, used=False)
    assert "float32" in _result_text(replace(report, done=replace(done, precision="fp32")), False)

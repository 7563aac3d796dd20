"""Checkpoints and atomic writes: the rules that keep a user's model safe."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from drawdigit.model import DigitNet, ModelConfig, count_parameters
from drawdigit.store import (
    ModelFileError,
    atomic_write_bytes,
    load_checkpoint,
    metadata_path,
    resources_dir,
    save_checkpoint,
)

REPO = Path(__file__).resolve().parents[1]


def _model(seed: int = 0) -> DigitNet:
    torch.manual_seed(seed)
    model = DigitNet()
    # Glorot init leaves biases at zero; give them values so a round trip checks them too.
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.01)
    return model


def test_model_shapes_and_parameter_count() -> None:
    model = DigitNet()
    assert count_parameters(model) == 93_322
    assert model(torch.zeros(3, 1, 28, 28)).shape == (3, 10)
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert shapes["conv1.weight"] == (32, 1, 3, 3)
    assert shapes["conv3.weight"] == (64, 64, 3, 3)
    assert shapes["fc1.weight"] == (64, 576)
    assert shapes["fc2.weight"] == (10, 64)


def test_checkpoint_round_trip_rebuilds_the_same_network(tmp_path: Path) -> None:
    model = _model()
    path = tmp_path / "m.pt"
    meta = save_checkpoint(path, model.state_dict(), model.config, {"test_accuracy": 0.99})
    assert json.loads(metadata_path(path).read_text())["sha256"] == meta["sha256"]
    checkpoint = load_checkpoint(path)
    assert checkpoint.config == ModelConfig()
    assert checkpoint.metadata["test_accuracy"] == 0.99
    x = torch.rand(4, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(checkpoint.build_model()(x), model.eval()(x))


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "not a readable model file"),
        (b"garbage" * 100, "not a readable model file"),
    ],
)
def test_damaged_files_raise_a_clear_error(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(ModelFileError, match=message) as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)


def test_truncated_weights_are_detected_by_checksum(tmp_path: Path) -> None:
    model = _model()
    path = tmp_path / "m.pt"
    save_checkpoint(path, model.state_dict(), model.config)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ModelFileError, match="checksum"):
        load_checkpoint(path)
    metadata_path(path).unlink()  # without the sidecar, the zip reader still notices
    with pytest.raises(ModelFileError):
        load_checkpoint(path)


def test_foreign_files_are_refused_without_unpickling(tmp_path: Path) -> None:
    plain = tmp_path / "plain_state_dict.pt"
    torch.save(DigitNet().state_dict(), plain)
    with pytest.raises(ModelFileError, match="not a drawdigit model"):
        load_checkpoint(plain)

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    evil = tmp_path / "evil.pt"
    torch.save({"format": "drawdigit-model", "x": Evil()}, evil)
    with pytest.raises(ModelFileError, match="not a readable model file"):
        load_checkpoint(evil)


def test_wrong_shapes_and_versions_are_refused(tmp_path: Path) -> None:
    small = DigitNet(ModelConfig(hidden=32))
    path = tmp_path / "m.pt"
    save_checkpoint(path, small.state_dict(), ModelConfig())  # config lies about the shapes
    with pytest.raises(ModelFileError, match="invalid"):
        load_checkpoint(path)
    raw = {"format": "drawdigit-model", "format_version": 99}
    torch.save(raw, tmp_path / "future.pt")
    with pytest.raises(ModelFileError, match="version 99"):
        load_checkpoint(tmp_path / "future.pt")


def test_nan_weights_are_refused(tmp_path: Path) -> None:
    model = _model()
    state = model.state_dict()
    state["fc2.bias"][0] = float("nan")
    save_checkpoint(tmp_path / "nan.pt", state, model.config)
    with pytest.raises(ModelFileError, match="NaN"):
        load_checkpoint(tmp_path / "nan.pt")


def test_a_crash_mid_write_leaves_the_old_model_loadable(tmp_path: Path) -> None:
    """A real process dies half-way through saving a new model over the old one."""
    old = _model(1)
    path = tmp_path / "active.pt"
    save_checkpoint(path, old.state_dict(), old.config, {"which": "old"})
    script = textwrap.dedent(
        f"""
        import os, torch
        import drawdigit.store as store
        from drawdigit.model import DigitNet
        def crash(fd):  # the new bytes are in the temp file, not yet renamed: die here
            os._exit(9)
        os.fsync = crash
        model = DigitNet()
        store.save_checkpoint({str(path)!r}, model.state_dict(), model.config, {{"which": "new"}})
        """
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, timeout=120)
    assert result.returncode == 9
    checkpoint = load_checkpoint(path)
    assert checkpoint.metadata["which"] == "old"


def test_a_failing_write_keeps_the_old_file_and_leaves_no_temp(tmp_path: Path) -> None:
    """Out of space: a real write limit (RLIMIT_FSIZE) makes the write fail with EFBIG."""
    path = tmp_path / "data.bin"
    atomic_write_bytes(path, b"old content")
    script = textwrap.dedent(
        f"""
        import resource, signal
        from drawdigit.store import atomic_write_bytes
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))
        try:
            atomic_write_bytes({str(path)!r}, b"x" * 100_000)
        except OSError as exc:
            print("failed:", exc.errno)
            raise SystemExit(3)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, timeout=60, capture_output=True, text=True
    )
    assert result.returncode == 3, result.stderr
    assert path.read_bytes() == b"old content"
    assert [p.name for p in tmp_path.iterdir()] == ["data.bin"]


def test_resources_are_found_from_the_source_checkout() -> None:
    assert resources_dir() == REPO / "resources"

"""Checkpoints and atomic writes: the rules that keep a user's model safe."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from drawdigit.model import DigitNet, ModelConfig, count_parameters
from drawdigit.model_list import activate_model_file, list_models
from drawdigit.store import (
    ModelFileError,
    activate_model,
    active_model_path,
    atomic_write_bytes,
    bundled_model_path,
    load_checkpoint,
    metadata_path,
    resources_dir,
    save_checkpoint,
    set_aside_active_model,
)

REPO = Path(__file__).resolve().parents[1]


def _write_model_file(path: Path, state: dict[str, torch.Tensor], config: ModelConfig) -> None:
    """A model file as ``save_checkpoint`` writes one, without its checks: for files that
    only a damaged disk or another program could make."""
    import io

    buffer = io.BytesIO()
    torch.save(
        {
            "format": "drawdigit-model",
            "format_version": 1,
            "model_config": config.to_dict(),
            "state_dict": state,
            "metadata_json": json.dumps({"test_accuracy": 0.99}),
        },
        buffer,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())


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
    with pytest.raises(ModelFileError, match="not saved: the weights do not have the shapes"):
        save_checkpoint(path, small.state_dict(), ModelConfig())  # config lies about the shapes
    assert not path.exists()
    _write_model_file(path, small.state_dict(), ModelConfig())
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
    with pytest.raises(ModelFileError, match="not saved: model weights contain NaN"):
        save_checkpoint(tmp_path / "nan.pt", state, model.config)
    _write_model_file(tmp_path / "nan.pt", state, model.config)
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


def test_a_file_in_the_folders_place_is_named_as_such(tmp_path: Path) -> None:
    """Writing into "notes.txt/x.json" where notes.txt is a file: "Not a directory" (what
    the user must change), not mkdir's "File exists"; nothing is written."""
    notes = tmp_path / "notes.txt"
    notes.write_text("mine")
    for target in (notes / "x.json", notes / "deeper" / "x.json"):
        with pytest.raises(NotADirectoryError) as failure:
            atomic_write_bytes(target, b"data")
        assert failure.value.strerror == "Not a directory"
    assert notes.read_text() == "mine" and [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_resources_are_found_from_the_source_checkout() -> None:
    assert resources_dir() == REPO / "resources"


# --------------------------------------------------------------------------- set aside


def test_set_aside_moves_the_active_model_with_its_sidecar() -> None:
    assert set_aside_active_model() is None  # no active model: nothing to do
    model = _model(2)
    active = active_model_path()
    save_checkpoint(active, model.state_dict(), model.config, {"which": "mine"})
    moved = set_aside_active_model()
    assert moved is not None and moved.parent == active.parent
    assert moved.name.startswith("set-aside-") and moved.suffix == ".pt"
    assert not active.exists() and not metadata_path(active).exists()
    checkpoint = load_checkpoint(moved)  # the sidecar's checksum still matches its weights
    assert checkpoint.metadata["which"] == "mine"


def test_set_aside_never_overwrites_an_earlier_set_aside_model() -> None:
    """The name for this second is taken (weights, or only a sidecar): a new name is found.

    The names are taken for every second the call could run in, so the collision is certain.
    """
    folder = active_model_path().parent
    folder.mkdir(parents=True)
    now = time.time()
    stamps = [time.strftime("%Y%m%d-%H%M%S", time.localtime(now + dt)) for dt in range(-1, 4)]
    earlier = {}
    for stamp in stamps:
        earlier[f"set-aside-{stamp}.pt"] = f"weights {stamp}".encode()
        earlier[f"set-aside-{stamp}.json"] = f"sidecar {stamp}".encode()
        earlier[f"set-aside-{stamp}-2.json"] = f"lone sidecar {stamp}".encode()  # no .pt
    for name, content in earlier.items():
        (folder / name).write_bytes(content)

    found = []
    for which in ("first", "second"):
        model = _model(3)
        save_checkpoint(active_model_path(), model.state_dict(), model.config, {"which": which})
        active_bytes = active_model_path().read_bytes()
        moved = set_aside_active_model()
        assert moved is not None and moved.name not in earlier
        assert moved.read_bytes() == active_bytes
        assert load_checkpoint(moved).metadata["which"] == which
        found.append(moved.name)
    stamp = found[0].removeprefix("set-aside-")[:15]
    assert stamp in stamps and found[0] == f"set-aside-{stamp}-3.pt"
    assert found[1] != found[0]
    for name, content in earlier.items():  # every earlier file as it was
        assert (folder / name).read_bytes() == content
    assert not active_model_path().exists()


# --------------------------------------------------------------------------- activation


@pytest.mark.parametrize("replace_number", [1, 2, 3])
def test_a_kill_during_activation_leaves_a_consistent_pair(
    tmp_path: Path, replace_number: int
) -> None:
    """A real process is killed (SIGKILL) at the Nth rename of an activation: whatever the
    moment, the model in use loads, as the old model or as the new one."""
    old = _model(1)
    path = tmp_path / "active.pt"
    save_checkpoint(path, old.state_dict(), old.config, {"which": "old"})
    script = textwrap.dedent(
        f"""
        import os, signal
        import drawdigit.store as store
        from drawdigit.model import DigitNet
        real_replace, calls = os.replace, []
        def replace(src, dst):
            calls.append(dst)
            if len(calls) == {replace_number}:
                os.kill(os.getpid(), signal.SIGKILL)  # dies before this rename
            real_replace(src, dst)
        os.replace = replace
        model = DigitNet()
        store.save_checkpoint({str(path)!r}, model.state_dict(), model.config, {{"which": "new"}})
        """
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, timeout=120)
    assert result.returncode == -9
    checkpoint = load_checkpoint(path)  # no "do not match the checksum"
    assert checkpoint.metadata["which"] == ("old" if replace_number <= 2 else "new")
    leftovers = sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".tmp")
    assert len(leftovers) <= 1  # the one temp file the kill left, never a half pair in place


def test_activation_completes_with_a_checked_sidecar(tmp_path: Path) -> None:
    new = _model(2)
    path = tmp_path / "active.pt"
    save_checkpoint(path, _model(1).state_dict(), new.config, {"which": "old"})
    meta = save_checkpoint(path, new.state_dict(), new.config, {"which": "new"})
    sidecar = json.loads(metadata_path(path).read_text())
    assert sidecar["sha256"] == meta["sha256"] and sidecar["which"] == "new"
    damaged = bytearray(path.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    path.write_bytes(bytes(damaged))
    with pytest.raises(ModelFileError, match="checksum"):
        load_checkpoint(path)  # the checksum still catches damage


# --------------------------------------------------------------------------- new names


def _done(seed: int, accuracy: float):
    from drawdigit.training import TrainConfig, TrainingDone

    model = _model(seed)
    return TrainingDone(
        state_dict=model.state_dict(),
        model_config=model.config,
        test_accuracy=accuracy,
        test_loss=0.1,
        seconds=1.0,
        config=TrainConfig(),
        cancelled=False,
        epochs_completed=1,
        device="cpu",
    )


def test_two_runs_saved_in_the_same_second_keep_both_models(tmp_path: Path) -> None:
    from datetime import datetime, timezone

    from drawdigit.training import save_trained_new

    now = datetime(2026, 11, 27, 15, 0, 0, tzinfo=timezone.utc)
    first, _ = save_trained_new(tmp_path, _done(1, 0.98), now=now)
    second, _ = save_trained_new(tmp_path, _done(2, 0.99), now=now)
    assert first.name == "trained-20261127-150000.pt"
    assert second.name == "trained-20261127-150000-2.pt"
    assert load_checkpoint(first).metadata["test_accuracy"] == 0.98
    assert load_checkpoint(second).metadata["test_accuracy"] == 0.99


def test_a_failed_save_gives_its_new_name_back(tmp_path: Path) -> None:
    from drawdigit.training import save_trained_new

    done = _done(1, 0.98)
    done.state_dict["fc2.bias"] = "not a tensor"  # save_checkpoint fails on it
    with pytest.raises(AttributeError):
        save_trained_new(tmp_path, done)
    assert list(tmp_path.iterdir()) == []


def test_a_sidecar_that_is_no_regular_file_is_not_read(tmp_path: Path) -> None:
    """A ``.json`` linked to /dev/zero (or a FIFO) must not be read without end."""
    path = tmp_path / "model.pt"
    save_checkpoint(path, DigitNet().state_dict(), ModelConfig(), {"test_accuracy": 0.5})
    sidecar = metadata_path(path)
    sidecar.unlink()
    sidecar.symlink_to("/dev/zero")
    assert load_checkpoint(path).metadata["test_accuracy"] == 0.5  # the weights decide


def test_a_sidecar_written_for_other_weights_is_still_refused(tmp_path: Path) -> None:
    """Re-reading once (an activation may be in progress) must not hide real damage."""
    path = tmp_path / "model.pt"
    save_checkpoint(path, DigitNet().state_dict(), ModelConfig())
    meta = json.loads(metadata_path(path).read_text())
    meta["sha256"] = "0" * 64
    metadata_path(path).write_text(json.dumps(meta))
    with pytest.raises(ModelFileError, match="do not match the checksum"):
        load_checkpoint(path)


def _raw_checkpoint(path: Path, config: dict, metadata_json: object = "{}") -> Path:
    """A drawdigit model file written by hand: the config and metadata say what the test
    wants, the weights are whatever shapes that config implies (none for absurd ones)."""
    try:
        shapes = ModelConfig(**config).parameter_shapes()
        state = {name: torch.zeros(shape) for name, shape in shapes.items()}
    except (TypeError, ValueError, RuntimeError, OverflowError):
        state = {}
    if any(v.numel() > 10_000_000 for v in state.values()):
        state = {}
    raw = {
        "format": "drawdigit-model",
        "format_version": 1,
        "model_config": config,
        "state_dict": state,
        "metadata_json": metadata_json,
    }
    torch.save(raw, path)
    return path


@pytest.mark.parametrize(
    "config",
    [
        {"num_classes": 1},
        {"num_classes": 2},
        {"num_classes": 11},
        {"hidden": 0},
        {"conv1": -3},
        {"conv2": 100_000},
        {"conv3": 2.5},
        {"hidden": True},
        {"hidden": "64"},
        {"conv1": 10**30},
    ],
)
def test_configs_the_app_cannot_use_are_refused(tmp_path: Path, config: dict) -> None:
    """Exactly 10 classes and positive, bounded layer sizes, or a clear ModelFileError."""
    with pytest.raises(ValueError):
        ModelConfig.from_dict(config)
    path = _raw_checkpoint(tmp_path / "m.pt", config)
    with pytest.raises(ModelFileError, match=f"{path}: .*model config"):
        load_checkpoint(path)


def test_the_default_config_and_smaller_ones_still_load(tmp_path: Path) -> None:
    for config in ({}, {"hidden": 32}, {"conv1": 8, "conv2": 16, "conv3": 16, "hidden": 16}):
        assert load_checkpoint(_raw_checkpoint(tmp_path / "m.pt", config)).config == ModelConfig(
            **config
        )


@pytest.mark.parametrize(
    "metadata_json",
    [
        '{"test_accuracy": "high", "created": 5}',
        '{"test_accuracy": [1], "created": ["2024"]}',
        '{"test_accuracy": NaN}',
        "[1]",
        '"a string"',
        "not json",
        7,
    ],
)
def test_metadata_of_the_wrong_type_is_ignored(tmp_path: Path, metadata_json: object) -> None:
    """Metadata only describes a model: wrong types in it never stop the model being used."""
    from drawdigit.inference import ModelSource

    checkpoint = load_checkpoint(_raw_checkpoint(tmp_path / "m.pt", {}, metadata_json))
    assert isinstance(checkpoint.metadata, dict)
    for kind in ("bundled", "user", "file"):
        text = ModelSource(kind, tmp_path / "m.pt", checkpoint.metadata).describe()
        assert "accuracy" not in text and "high" not in text
    # ModelSource built by other callers with any dict is just as tolerant.
    source = ModelSource("user", tmp_path / "m.pt", {"test_accuracy": "x", "created": 3})
    assert source.describe() == "retrained model"
    good = ModelSource("bundled", tmp_path / "m.pt", {"test_accuracy": 0.9931})
    assert good.describe() == "bundled model, MNIST test accuracy 99.31%"


@pytest.mark.parametrize("sidecar", ['{"sha256": [1]}', '{"sha256": 5}', "[1]", '"text"'])
def test_a_sidecar_of_the_wrong_type_is_only_informational(tmp_path: Path, sidecar: str) -> None:
    """A sidecar whose checksum is not a string says nothing about the weights: ignored."""
    path = tmp_path / "model.pt"
    save_checkpoint(path, DigitNet().state_dict(), ModelConfig(), {"test_accuracy": 0.5})
    metadata_path(path).write_text(sidecar)
    assert load_checkpoint(path).metadata["test_accuracy"] == 0.5


# --------------------------------------------------------------------------- past models


def _save_kept(name: str, seed: int, accuracy: float) -> Path:
    model = _model(seed)
    path = active_model_path().parent / name
    save_checkpoint(path, model.state_dict(), model.config, {"test_accuracy": accuracy})
    return path


def test_models_the_user_has_had_are_listed_with_the_one_in_use() -> None:
    """Bundled first, then models/ by name; foreign and damaged files are listed as unusable
    with a reason (no exception); a FIFO is not opened."""
    import os

    assert [(e.kind, e.in_use) for e in list_models()] == [("bundled", True)]
    one = _save_kept("trained-20260101-000000.pt", 1, 0.91)
    folder = one.parent
    (folder / "notes.pt").write_bytes(b"not a model at all")
    (folder / "pickle.pt").write_bytes(b"\x80\x04cos\nsystem\n.")
    os.mkfifo(folder / "pipe.pt")
    (folder / ".active.pt.x.tmp").write_bytes(b"half")  # a write in progress: not listed
    entries = {e.path.name: e for e in list_models()}
    assert set(entries) == {"drawdigit.pt", one.name, "notes.pt", "pickle.pt", "pipe.pt"}
    assert entries[one.name].usable and entries[one.name].metadata["test_accuracy"] == 0.91
    assert not entries[one.name].in_use and entries["drawdigit.pt"].in_use
    for bad in ("notes.pt", "pickle.pt", "pipe.pt"):
        assert not entries[bad].usable and entries[bad].error, bad
        assert not entries[bad].in_use
    assert "not a regular file" in entries["pipe.pt"].error


def test_switching_between_past_models_keeps_every_one() -> None:
    """Activate a kept file (a torch-free copy), then another; the model replaced each time
    is kept, the list shows each model once, and the bundled model can come back too."""
    first = _save_kept("trained-20260101-000000.pt", 1, 0.91)
    second = _save_kept("trained-20260102-000000.pt", 2, 0.92)
    activate_model_file(first)
    assert load_checkpoint(active_model_path()).metadata["test_accuracy"] == 0.91
    in_use = [e.path.name for e in list_models() if e.in_use]
    assert in_use == [first.name]  # active.pt is first's copy: listed once, as first
    assert [e.kind for e in list_models()] == ["bundled", "kept", "kept"]
    activate_model_file(second)
    assert [e.path.name for e in list_models() if e.in_use] == [second.name]
    assert len(list(first.parent.glob("*.pt"))) == 3  # first was kept already: no copy

    # A model that exists only as active.pt (a fine-tune) is kept before it is replaced.
    mine = _model(5)
    activate_model(mine.state_dict(), mine.config, {"test_accuracy": 0.95})
    assert [e.kind for e in list_models() if e.in_use] == ["active"]
    activate_model_file(bundled_model_path())
    assert not active_model_path().exists()
    names = [e.path.name for e in list_models()]
    accuracies = sorted(e.metadata["test_accuracy"] for e in list_models()[1:])
    assert accuracies == [0.91, 0.92, 0.95] and len(names) == 4
    assert [e.kind for e in list_models() if e.in_use] == ["bundled"]

    broken = first.parent / "broken.pt"
    broken.write_bytes(b"junk")
    before = {p.name: p.read_bytes() for p in first.parent.iterdir()}
    with pytest.raises(ModelFileError, match="broken.pt"):
        activate_model_file(broken)
    assert {p.name: p.read_bytes() for p in first.parent.iterdir()} == before


def test_activating_a_file_leaves_a_checked_pair() -> None:
    path = _save_kept("trained-20260101-000000.pt", 1, 0.91)
    activate_model_file(path)
    sidecar = json.loads(metadata_path(active_model_path()).read_text())
    assert sidecar["activated_from"] == path.name and sidecar["weights_file"] == "active.pt"
    assert sidecar["sha256"] == hashlib.sha256(active_model_path().read_bytes()).hexdigest()
    assert active_model_path().read_bytes() == path.read_bytes()


def test_setting_aside_a_copy_of_a_kept_file_makes_no_second_copy() -> None:
    first = _save_kept("trained-20260101-000000.pt", 1, 0.91)
    activate_model_file(first)
    assert set_aside_active_model() == first
    assert not active_model_path().exists() and not metadata_path(active_model_path()).exists()
    assert sorted(p.name for p in first.parent.iterdir()) == [
        "trained-20260101-000000.json",
        "trained-20260101-000000.pt",
    ]


def test_a_new_model_keeps_the_one_it_replaces_unless_damaged() -> None:
    first, second = _model(1), _model(2)
    activate_model(first.state_dict(), first.config, {"which": "first"})
    activate_model(second.state_dict(), second.config, {"which": "second"})
    kept = sorted(active_model_path().parent.glob("previous-*.pt"))
    assert len(kept) == 1 and load_checkpoint(kept[0]).metadata["which"] == "first"
    active_model_path().write_bytes(b"damaged")
    activate_model(first.state_dict(), first.config, {"which": "again"})
    assert sorted(active_model_path().parent.glob("previous-*.pt")) == kept


# --------------------------------------------------------------------------- overflowing weights


def _overflowing(path: Path) -> dict[str, torch.Tensor]:
    """The bundled weights x1e36 (finite, but every answer overflows float32 to NaN), written
    to ``path`` as a model file (``_write_model_file``)."""
    base = load_checkpoint(bundled_model_path())
    state = {name: torch.as_tensor(values) * 1e36 for name, values in base.weights.items()}
    assert all(torch.isfinite(values).all() for values in state.values())
    _write_model_file(path, state, base.config)
    return state


def test_weights_whose_answers_overflow_are_refused_on_load_in_the_list_and_on_save(
    tmp_path: Path,
) -> None:
    """Read: refused with a reason (it answered NaN for every drawing under "99.00%");
    Models…: listed as unusable; saving or activating such weights: refused, nothing
    written."""
    kept = active_model_path().parent / "trained-20260101-000000.pt"
    state = _overflowing(kept)
    reason = "the model's answers are not finite numbers"
    with pytest.raises(ModelFileError, match=reason):
        load_checkpoint(kept)
    entry = next(e for e in list_models() if e.path == kept)
    assert not entry.usable and reason in entry.error and not entry.in_use
    with pytest.raises(ModelFileError, match=reason):
        activate_model_file(kept)
    config = load_checkpoint(bundled_model_path()).config
    with pytest.raises(ModelFileError, match=f"not saved: {reason}"):
        save_checkpoint(tmp_path / "new.pt", state, config)
    with pytest.raises(ModelFileError, match=f"not saved: {reason}"):
        activate_model(state, config)
    assert not (tmp_path / "new.pt").exists() and not active_model_path().exists()
    assert list(tmp_path.iterdir()) == []


def test_a_file_of_no_bytes_is_never_listed_as_a_model() -> None:
    """A name a save has claimed (or one left by a process killed there) is 0 bytes: it was
    listed in Models… as "BadZipFile"."""
    kept = _save_kept("trained-20260101-000000.pt", 1, 0.91)
    (kept.parent / "trained-20260101-000001.pt").touch()
    assert [e.path.name for e in list_models()] == ["drawdigit.pt", kept.name]


# In a child: activate two kept models by turns, ``count`` times (torch-free copies).
_ACTIVATOR = """
import sys
from drawdigit.model_list import activate_model_file
from drawdigit.store import active_model_path
first, count = int(sys.argv[1]), int(sys.argv[2])
folder = active_model_path().parent
for n in range(count):
    activate_model_file(folder / f"m{first + n % 2}.pt")
"""


def test_reads_while_two_processes_activate_models_are_never_called_damaged() -> None:
    """Two processes activating models while a third reads: 3 of 8,837 reads said
    "damaged or partly written" (one writer's checksum beside the other's weights, or the
    old weights read before the new sidecar). Writers now take turns over a pair, and a
    reader reads again when the weights were replaced under it."""
    folder = active_model_path().parent
    for i in range(4):
        _save_kept(f"m{i}.pt", i, 0.5 + i / 10)
    save_checkpoint(active_model_path(), _model(9).state_dict(), ModelConfig(), {})
    writers = [
        subprocess.Popen([sys.executable, "-c", _ACTIVATOR, str(first), "60"], cwd=REPO)
        for first in (0, 2)
    ]
    seen, false_damage, reads = set(), [], 0
    try:
        while any(w.poll() is None for w in writers):
            try:
                seen.add(load_checkpoint(active_model_path()).metadata.get("test_accuracy"))
            except ModelFileError as exc:
                false_damage.append(str(exc))
            reads += 1
    finally:
        for writer in writers:
            writer.wait(timeout=300)
    assert [w.returncode for w in writers] == [0, 0]
    assert false_damage == [], f"{len(false_damage)} of {reads} reads: {false_damage[0]}"
    assert len(seen) >= 2  # the reads did overlap the activations
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]

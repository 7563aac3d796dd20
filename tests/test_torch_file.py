"""The torch-free reader of torch.save files: it reads what torch writes, refuses the rest.

torch is used here only to write the files the reader must (or must not) accept.
"""

from __future__ import annotations

import io
import pickle
import tracemalloc
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch
from test_store import _write_model_file

from drawdigit.model import DigitNet
from drawdigit.store import ModelFileError, load_checkpoint, save_checkpoint
from drawdigit.torch_file import TorchFileError, read_torch_file


def _saved(obj: object) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def test_reads_tensors_as_torch_saves_them() -> None:
    base = torch.arange(60, dtype=torch.float32).reshape(3, 4, 5)
    obj = {
        "plain": base,
        "transposed": base.transpose(0, 2),  # strides, not contiguous
        "slice": base[1:, 2:, ::2],  # an offset into a shared storage
        "doubles": torch.linspace(-1, 1, 7, dtype=torch.float64),
        "ints": torch.tensor([[1, -2], [3, 4]], dtype=torch.int64),
        "bools": torch.tensor([True, False]),
        "halves": torch.tensor([0.5, 2.0], dtype=torch.float16),
        "empty": torch.zeros(0, 3),
        "scalar": torch.tensor(3.5),
        "nested": [1, "two", {"three": 3.0}],
        "ordered": OrderedDict(a=torch.ones(2)),
    }
    read = read_torch_file(_saved(obj))
    for name, value in obj.items():
        if isinstance(value, torch.Tensor):
            assert read[name].shape == tuple(value.shape), name
            assert read[name].dtype == value.numpy().dtype, name
            assert np.array_equal(read[name], value.numpy()), name
            assert read[name].flags.writeable and read[name].flags.c_contiguous
    assert read["nested"] == [1, "two", {"three": 3.0}]
    assert np.array_equal(read["ordered"]["a"], np.ones(2, np.float32))


class _Evil:
    def __reduce__(self):
        return (print, ("pwned",))


@pytest.mark.parametrize(
    "obj",
    [
        {"x": _Evil()},
        {"x": torch.nn.Parameter(torch.ones(2))},  # a real torch class, still not allowed
        {"x": np.ones(3)},  # numpy's own pickling names numpy globals
    ],
)
def test_refuses_every_other_global_without_calling_it(obj: object, capsys) -> None:
    with pytest.raises(TorchFileError, match="not allowed"):
        read_torch_file(_saved(obj))
    assert "pwned" not in capsys.readouterr().out


def _rewritten(data: bytes, old: bytes, new: bytes) -> bytes:
    """The archive with one substring of data.pkl replaced (same length: opcodes stay valid)."""
    assert len(old) == len(new)
    source, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            content = source.read(info)
            if info.filename.endswith("/data.pkl"):
                assert old in content
                content = content.replace(old, new)
            target.writestr(info, content)
    return out.getvalue()


def test_a_tensor_reaching_past_its_storage_is_refused() -> None:
    data = _saved({"t": torch.zeros(10)})
    # The size tuple (10,) is BININT1 10; make it 200 elements over a 10-element storage.
    pickled = zipfile.ZipFile(io.BytesIO(data)).read("archive/data.pkl")
    assert b"K\n\x85" in pickled  # BININT1 10, TUPLE1
    with pytest.raises(TorchFileError, match="past the end"):
        read_torch_file(_rewritten(data, b"K\n\x85", b"K\xc8\x85"))


def test_damaged_archives_are_refused() -> None:
    data = _saved({"t": torch.ones(100)})
    with pytest.raises(TorchFileError):
        read_torch_file(data[: len(data) // 2])
    storage_at = data.index(np.ones(100, np.float32).tobytes())
    flipped = bytearray(data)
    flipped[storage_at + 8] ^= 0xFF  # the zip's CRC notices
    with pytest.raises(TorchFileError):
        read_torch_file(bytes(flipped))
    with pytest.raises(TorchFileError):
        read_torch_file(pickle.dumps({"t": 1}))  # a bare pickle is not a torch zip


def test_checkpoints_read_without_torch_equal_torch_load(tmp_path: Path) -> None:
    model = DigitNet()
    save_checkpoint(tmp_path / "m.pt", model.state_dict(), model.config, {"note": "x"})
    ours = load_checkpoint(tmp_path / "m.pt")
    raw = torch.load(tmp_path / "m.pt", weights_only=True)
    assert ours.metadata["note"] == "x"
    assert set(ours.weights) == set(raw["state_dict"])
    for name, tensor in raw["state_dict"].items():
        assert np.array_equal(ours.weights[name], tensor.numpy())
    rebuilt = ours.build_model()  # the training side still gets tensors
    assert all(
        torch.equal(a, b)
        for a, b in zip(rebuilt.state_dict().values(), raw["state_dict"].values(), strict=True)
    )


def test_weights_of_the_wrong_kind_are_refused(tmp_path: Path) -> None:
    state = {k: v.to(torch.float64) for k, v in DigitNet().state_dict().items()}
    state["fc2.bias"] = torch.full((10,), 1e300, dtype=torch.float64)  # inf as float32
    with pytest.raises(ModelFileError, match="not saved: model weights contain NaN or infinity"):
        save_checkpoint(tmp_path / "big.pt", state, DigitNet().config)
    _write_model_file(tmp_path / "big.pt", state, DigitNet().config)
    with pytest.raises(ModelFileError, match="NaN or infinity"):
        load_checkpoint(tmp_path / "big.pt")
    state = dict(DigitNet().state_dict())
    del state["fc1.bias"]
    _write_model_file(tmp_path / "missing.pt", state, DigitNet().config)
    with pytest.raises(ModelFileError, match="invalid.*fc1.bias"):
        load_checkpoint(tmp_path / "missing.pt")


# ---------------------------------------------------------------- declared sizes before memory


class _StorageRef:
    def __init__(self, numel: int) -> None:
        self.numel = numel


class _TensorRef:
    """Pickles as torch pickles a tensor, with whatever size and stride the test declares."""

    def __init__(self, numel: int, size: tuple[int, ...], stride: tuple[int, ...]) -> None:
        self.storage, self.size, self.stride = _StorageRef(numel), size, stride

    def __reduce__(self):
        return (
            torch._utils._rebuild_tensor_v2,
            (self.storage, 0, self.size, self.stride, False, OrderedDict()),
        )


class _Pickler(pickle.Pickler):
    def persistent_id(self, obj: object):
        if isinstance(obj, _StorageRef):
            return ("storage", torch.FloatStorage, "0", "cpu", obj.numel)
        return None


def _archive(tensor: _TensorRef, storage_bytes: int) -> bytes:
    """A torch.save-like zip, its storage deflated (a small file for a large storage) and
    written in chunks, so that building it never holds the declared size in memory."""
    pickled = io.BytesIO()
    _Pickler(pickled, protocol=2).dump({"t": tensor})
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("archive/data.pkl", pickled.getvalue())
        with archive.open("archive/data/0", "w", force_zip64=True) as storage:
            chunk = bytes(1 << 20)
            for start in range(0, storage_bytes, len(chunk)):
                storage.write(chunk[: storage_bytes - start])
    return out.getvalue()


def _peak_bytes_while(call) -> int:
    tracemalloc.start()
    try:
        call()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def test_a_small_file_declaring_a_huge_tensor_is_refused_before_allocating() -> None:
    """A tiny storage seen through zero strides as a 200 MB tensor: refused for its size,
    never copied into memory."""
    data = _archive(_TensorRef(1, (10_000, 5_000), (0, 0)), 4)
    assert len(data) < 2_000
    assert np.array_equal(
        read_torch_file(_archive(_TensorRef(1, (3, 2), (0, 0)), 4))["t"], np.zeros((3, 2))
    )

    def read() -> None:
        with pytest.raises(TorchFileError, match="larger than"):
            read_torch_file(data, max_bytes=10_000_000)

    assert _peak_bytes_while(read) < 5_000_000


def test_a_compressed_huge_storage_is_refused_before_it_is_inflated() -> None:
    numel = 50_000_000  # 200 MB of float32 zeros, a few hundred kB deflated
    data = _archive(_TensorRef(numel, (numel,), (1,)), numel * 4)
    assert len(data) < 1_000_000

    def read() -> None:
        with pytest.raises(TorchFileError, match="larger than"):
            read_torch_file(data, max_bytes=10_000_000)

    assert _peak_bytes_while(read) < 5_000_000


def test_a_model_file_declaring_huge_layers_is_refused_with_little_memory(tmp_path: Path) -> None:
    """The store bounds what a file may declare by the largest model ModelConfig allows."""
    pickled = io.BytesIO()
    huge = _TensorRef(1, (20_000, 20_000), (0, 0))  # 1.6 GB if it were ever built
    _Pickler(pickled, protocol=2).dump(
        {
            "format": "drawdigit-model",
            "format_version": 1,
            "model_config": {"conv1": 32, "conv2": 64, "conv3": 64, "hidden": 64},
            "state_dict": {"fc1.weight": huge},
        }
    )
    path = tmp_path / "huge.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", pickled.getvalue())
        archive.writestr("archive/data/0", bytes(4))

    def load() -> None:
        with pytest.raises(ModelFileError, match="larger than"):
            load_checkpoint(path)

    assert _peak_bytes_while(load) < 5_000_000

"""Look inside (issue 14): feature maps, saliency, nearest memories and ``drawdigit explain``.

torch is used here only as the reference: the feature maps and the input gradients of the
numpy network must be the torch model's own, read through forward hooks and autograd.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from test_numpy_net import random_model

from drawdigit.cli import main
from drawdigit.explain import (
    Explanation,
    colour_map,
    explain,
    first_layer_filters,
    heat_overlay,
    map_grid,
)
from drawdigit.inference import load_predictor
from drawdigit.memories import (
    MemoriesCancelled,
    MemoriesUnavailable,
    cache_path,
    load_memories,
)
from drawdigit.mnist import load_mnist
from drawdigit.model import DigitNet, ModelConfig
from drawdigit.numpy_net import NumpyDigitNet
from drawdigit.store import bundled_model_path, load_checkpoint

ODD_SHAPE = ModelConfig(conv1=8, conv2=16, conv3=12, hidden=20)  # a wrong layout cannot hide

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "resources" / "samples" / "digit-4.json"


@pytest.fixture(scope="module")
def mnist(mnist_dir: Path):
    return load_mnist(mnist_dir, verify=False)


@pytest.fixture(scope="module")
def net() -> NumpyDigitNet:
    return load_predictor()[0].net


def _torch_layers(model: DigitNet, image: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """The three convolutions after ReLU and fc1 after ReLU, read with forward hooks."""
    seen: dict[str, torch.Tensor] = {}
    hooks = [
        getattr(model, name).register_forward_hook(
            lambda _m, _i, out, name=name: seen.__setitem__(name, torch.relu(out))
        )
        for name in ("conv1", "conv2", "conv3", "fc1")
    ]
    with torch.inference_mode():
        model(torch.from_numpy(image.reshape(1, 1, 28, 28)))
    for hook in hooks:
        hook.remove()
    convs = [seen[name][0].numpy() for name in ("conv1", "conv2", "conv3")]
    return convs, seen["fc1"][0].numpy()


@pytest.mark.parametrize("shape", ["seed", "odd"])
def test_feature_maps_are_the_torch_models_own_layers(tmp_path: Path, mnist, shape: str) -> None:
    if shape == "seed":
        checkpoint = load_checkpoint(bundled_model_path())
        model = checkpoint.build_model()
        net = NumpyDigitNet(checkpoint.config, checkpoint.arrays())
    else:
        model, net = random_model(
            tmp_path, ModelConfig(conv1=8, conv2=16, conv3=12, hidden=20), seed=2
        )
    for image in mnist.test_images[:5].astype(np.float32) / 255.0:
        found = explain(net, image)
        convs, hidden = _torch_layers(model, image)
        c = net.config
        expected = [(c.conv1, 26, 26), (c.conv2, 11, 11), (c.conv3, 3, 3)]
        assert [layer.shape for layer in found.layers] == expected
        for ours, theirs in zip(found.layers, convs, strict=True):
            assert ours.dtype == np.float32
            assert np.abs(ours - theirs).max() <= 1e-5 * max(1.0, float(np.abs(theirs).max()))
        assert found.hidden.shape == (c.hidden,)
        assert np.abs(found.hidden - hidden).max() <= 1e-5 * max(1.0, float(hidden.max()))
        with torch.inference_mode():
            probs = torch.softmax(model(torch.from_numpy(image.reshape(1, 1, 28, 28))), 1)
        assert np.abs(found.probabilities - probs[0].numpy()).max() <= 1e-5
        assert found.target == int(probs.argmax())


def test_first_layer_filters_are_conv1s_kernels() -> None:
    checkpoint = load_checkpoint(bundled_model_path())
    net = NumpyDigitNet(checkpoint.config, checkpoint.arrays())
    filters = first_layer_filters(net)
    assert filters.shape == (32, 3, 3) and filters.dtype == np.float32
    assert np.array_equal(filters, checkpoint.arrays()["conv1.weight"][:, 0])


def test_input_gradients_equal_torch_autograd(tmp_path: Path) -> None:
    """Random images with holes, per-image output weights. (Not a black image: all its
    pooling windows tie, and which cell wins is then decided by the rounding of numpy's
    and torch's convolutions, not by the network.)"""
    model, net = random_model(tmp_path, ODD_SHAPE, seed=2)
    rng = np.random.default_rng(4)
    images = rng.random((11, 28, 28), dtype=np.float32) * (rng.random((11, 28, 28)) > 0.5)
    weights = rng.normal(size=(11, 10)).astype(np.float32)
    logits, grads = net.input_gradients(images, weights)
    x = torch.from_numpy(images.reshape(-1, 1, 28, 28)).requires_grad_(True)
    out = model(x)
    (out * torch.from_numpy(weights)).sum().backward()
    assert x.grad is not None
    expected = x.grad.numpy()[:, 0]
    assert np.abs(logits - out.detach().numpy()).max() <= 1e-5
    assert np.abs(grads - expected).max() <= 1e-5 * max(1.0, float(np.abs(expected).max()))
    assert np.abs(expected).max() > 0  # the comparison is not between zeros


@pytest.mark.parametrize("size", [1, 3, 4])
def test_occluded_logits_equal_whole_forward_passes(tmp_path: Path, size: int) -> None:
    """Every place a square can take, the edges and corners included, on random weights
    of an odd shape and on a random image: the windowed pass is the whole pass."""
    _model, net = random_model(
        tmp_path, ModelConfig(conv1=8, conv2=16, conv3=12, hidden=20), seed=2
    )
    image = np.random.default_rng(size).random((28, 28), dtype=np.float32)
    corners = np.array([(r, c) for r in range(29 - size) for c in range(29 - size)])
    batch = np.repeat(image[None], len(corners), axis=0)
    for k, (r, c) in enumerate(corners):
        batch[k, r : r + size, c : c + size] = 0.0
    expected = net.logits_and_features(batch)[0]
    found = net.occluded_logits(image, corners, size)
    assert found.shape == expected.shape
    assert np.abs(found - expected).max() <= 1e-5 * max(1.0, float(np.abs(expected).max()))
    assert np.abs(expected - net.logits_and_features(image[None])[0]).max() > 1e-3
    with pytest.raises(ValueError):
        net.occluded_logits(image, corners[:1], 5)


def _shrunk(image: np.ndarray, size: int) -> np.ndarray:
    return np.asarray(Image.fromarray(image).resize((size, size), Image.BILINEAR), np.float32) / 255


def test_saliency_marks_the_digit_that_was_answered(net: NumpyDigitNet, mnist) -> None:
    """Two separate digits in one input: one drawn 20 px tall, the other 12 px beside it.
    For every pair of classes (the first test images of each) where the network answers
    the big digit, the heat per unit of ink is higher on that digit than on the other
    (so it is not just "where the ink is"), and "why the small one and not the big one?"
    puts more signed heat on the small one."""
    labels, images = mnist.test_labels, mnist.test_images
    passed, pairs = 0, 0
    for big in range(10):
        for small in range(10):
            if big == small:
                continue
            x = np.zeros((28, 28), np.float32)
            x[4:24, 0:20] = _shrunk(images[np.flatnonzero(labels == big)[small]], 20)
            x[8:20, 16:28] = np.maximum(
                x[8:20, 16:28], _shrunk(images[np.flatnonzero(labels == small)[big]], 12)
            )
            found = explain(net, x)
            if found.target != big:
                continue
            pairs += 1
            heat = np.clip(found.heat, 0.0, None)
            left = heat[:, :16].sum() / x[:, :16].sum()
            right = heat[:, 16:].sum() / x[:, 16:].sum()
            versus = explain(net, x, target=small, versus=big).heat
            passed += int(left > right and versus[:, 16:].sum() > versus[:, :16].sum())
    assert pairs >= 60  # the construction gives the test real cases
    assert passed >= 0.9 * pairs, (passed, pairs)


def test_explanation_of_a_sample_and_its_versus(net: NumpyDigitNet) -> None:
    from drawdigit.preprocess import load_input

    image = load_input(SAMPLE)
    assert image is not None
    found = explain(net, image)
    assert isinstance(found, Explanation)
    assert found.target == 4 and found.versus is None
    assert found.heat.shape == (28, 28) and found.heat.dtype == np.float32
    assert np.isclose(np.abs(found.heat).max(), 1.0)
    versus = explain(net, image, versus=9)
    assert versus.versus == 9 and not np.allclose(versus.heat, found.heat)
    assert explain(net, image, target=4, versus=4).versus is None
    blank = explain(net, np.zeros((28, 28), np.float32))
    assert not blank.heat.any()  # nothing drawn: nothing to mark, and no division by zero
    with pytest.raises(ValueError):
        explain(net, image, target=10)
    with pytest.raises(ValueError):
        explain(net, np.zeros((20, 20)))


def test_colour_maps_come_from_pyqtgraphs_tables() -> None:
    viridis = colour_map("viridis")
    assert viridis.shape == (256, 3) and viridis.dtype == np.uint8
    assert tuple(viridis[0]) == (68, 1, 84) and tuple(viridis[-1]) == (253, 231, 37)
    diverging = colour_map("CET-D1")
    assert diverging[128].min() > 200  # its middle (no heat) is near white
    with pytest.raises(LookupError):
        colour_map("no-such-map")
    overlay = heat_overlay(np.zeros((28, 28)), np.linspace(-1, 1, 784).reshape(28, 28))
    assert overlay.shape == (28, 28, 3) and overlay.dtype == np.uint8
    grid = map_grid(np.ones((10, 3, 3)), columns=4)
    assert grid.shape == (3 * 4 - 1, 4 * 4 - 1)
    assert np.isnan(grid).sum() == grid.size - 10 * 9


def test_looking_inside_imports_neither_torch_nor_qt() -> None:
    code = (
        "import sys, numpy as np\n"
        "from drawdigit.inference import load_predictor\n"
        "from drawdigit.explain import explain, colour_map\n"
        "from drawdigit.memories import load_memories\n"
        "net = load_predictor()[0].net\n"
        "explain(net, np.zeros((28, 28), np.float32)); colour_map('viridis')\n"
        "bad = {'torch', 'PySide6', 'pyqtgraph'} & {m.split('.')[0] for m in sys.modules}\n"
        "print(sorted(bad))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "[]"


# --------------------------------------------------------------------------- memories


def test_nearest_memories_of_a_training_image_include_it(
    net: NumpyDigitNet, mnist_dir: Path, mnist
) -> None:
    index = load_memories(net, bundled_model_path(), mnist_dir, limit=2000)
    assert len(index) == 2000
    for i in (0, 77, 1999):
        image = mnist.train_images[i]
        found = index.nearest(explain(net, image.astype(np.float32) / 255.0).hidden, k=5)
        assert len(found) == 5
        assert found[0].index == i and found[0].label == mnist.train_labels[i]
        assert np.array_equal(found[0].image, image)
        assert found[0].distance < 0.05 * found[1].distance + 1e-3
        assert [m.distance for m in found] == sorted(m.distance for m in found)
    # the search is the exact k nearest by Euclidean distance, checked by brute force
    query = explain(net, mnist.test_images[3].astype(np.float32) / 255.0).hidden
    brute = np.linalg.norm(index.features.astype(np.float64) - query, axis=1)
    assert [m.index for m in index.nearest(query, 8)] == list(np.argsort(brute, kind="stable")[:8])


def test_the_cache_is_reused_and_rebuilt_when_bad(net: NumpyDigitNet, mnist_dir: Path) -> None:
    calls: list[tuple[int, int]] = []
    first = load_memories(
        net, bundled_model_path(), mnist_dir, limit=600, progress=lambda *a: calls.append(a)
    )
    path = cache_path(net, 600)
    assert path.is_file() and calls[-1] == (600, 600) and len(calls) > 1  # built, per chunk
    calls.clear()
    stamp = path.stat().st_mtime_ns
    again = load_memories(
        net, bundled_model_path(), mnist_dir, limit=600, progress=lambda *a: calls.append(a)
    )
    assert calls == [(600, 600)] and path.stat().st_mtime_ns == stamp  # read, not rebuilt
    assert np.array_equal(again.features, first.features)
    for damage in (b"not a zip file", path.read_bytes()[:5000]):
        path.write_bytes(damage)
        rebuilt = load_memories(net, bundled_model_path(), mnist_dir, limit=600)
        assert np.array_equal(rebuilt.features, first.features)
        with np.load(path, allow_pickle=False) as data:  # whole again
            assert data["features"].shape == (600, 64)
    # a cache of other weights under this name (copied by hand, say) is not used
    other = NumpyDigitNet(net.config, {**_arrays_of(bundled_model_path()), "fc1.bias": np.ones(64)})
    load_memories(other, bundled_model_path(), mnist_dir, limit=600)
    cache_path(other, 600).replace(path)
    rebuilt = load_memories(net, bundled_model_path(), mnist_dir, limit=600)
    assert np.array_equal(rebuilt.features, first.features)


def _arrays_of(path: Path) -> dict[str, np.ndarray]:
    return load_checkpoint(path).arrays()


def test_building_can_be_cancelled_and_writes_nothing(net: NumpyDigitNet, mnist_dir: Path) -> None:
    calls: list[tuple[int, int]] = []
    with pytest.raises(MemoriesCancelled):
        load_memories(
            net,
            bundled_model_path(),
            mnist_dir,
            limit=2000,
            progress=lambda *a: calls.append(a),
            cancelled=lambda: len(calls) >= 1,
        )
    assert len(calls) == 1
    assert not cache_path(net, 2000).exists()


def test_without_mnist_the_message_says_how_to_get_it(net: NumpyDigitNet, tmp_path: Path) -> None:
    with pytest.raises(MemoriesUnavailable) as caught:
        load_memories(net, bundled_model_path())
    assert "drawdigit download-mnist" in str(caught.value)
    assert "Download" in str(caught.value)
    (tmp_path / "half").mkdir()
    with pytest.raises(MemoriesUnavailable) as caught:
        load_memories(net, bundled_model_path(), tmp_path / "half")
    assert "missing MNIST" in str(caught.value) and "download-mnist" in str(caught.value)


# --------------------------------------------------------------------------- the command


def test_explain_command_writes_the_pictures_without_mnist(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "out"
    assert main(["explain", str(SAMPLE), "--out", str(out), "--json", "--versus", "9"]) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    names = ["filters.png", "heat.png", "input.png", "layer1.png", "layer2.png", "layer3.png"]
    assert summary["files"] == names and sorted(p.name for p in out.iterdir()) == names
    assert summary["target"] == 4 and summary["versus"] == 9 and summary["memories"] is None
    assert "download-mnist" in summary["memories_unavailable"]
    assert "download-mnist" in captured.err and "Traceback" not in captured.err
    with Image.open(out / "heat.png") as heat:
        assert heat.size == (280, 280) and heat.mode == "RGB"
    with Image.open(out / "layer1.png") as layer1:
        assert layer1.width >= 8 * 26 and layer1.height >= 4 * 26


@pytest.mark.parametrize("name", ["pen-letter-A.json", "pen-european-one.json"])
def test_explain_gives_the_percentages_of_predict(
    tmp_path: Path, capsys: pytest.CaptureFixture, name: str
) -> None:
    """The numbers of the answer (the digits' P(d) and P(not a digit)), not the network's
    raw softmax: "why 4 (29.1%)" where ``predict`` says 4 is 29.1% likely."""
    from drawdigit.formatting import percent

    drawing = Path(__file__).parent / "data" / name
    assert main(["predict", "--json", str(drawing)]) == 0
    answer = json.loads(capsys.readouterr().out)
    out = tmp_path / "out"
    assert main(["explain", str(drawing), "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    # The same numbers (to float32 rounding: numpy's sums may round differently between
    # two runs of one forward pass, by where the arrays lie in memory).
    assert summary["probabilities"] == pytest.approx(answer["probabilities"], abs=1e-6)
    assert summary["not_a_digit"] == pytest.approx(answer["not_a_digit"], abs=1e-6)
    values = answer["probabilities"]
    target = values.index(max(values))
    assert summary["target"] == summary["answer"] == target
    assert sum(values) + summary["not_a_digit"] == pytest.approx(1.0, abs=1e-9)
    assert main(["explain", str(drawing), "--out", str(out), "--versus", "0"]) == 0
    line = capsys.readouterr().out
    assert f"why {target} ({percent(values[target])}) and not 0 ({percent(values[0])})" in line


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_explain_command_writes_the_nearest_memories(
    tmp_path: Path, capsys: pytest.CaptureFixture, mnist_dir: Path, mnist
) -> None:
    """The real thing: all 60,000 training digits' features built once (a cache), then
    read back by a second run: 15 s of CPU (benchmarks/bench_explain.py), 12-33 s here
    with OPENBLAS_NUM_THREADS=1, but over 10 minutes with numpy's default of two spinning
    OpenBLAS threads while training runs shared the same two cores."""
    out = tmp_path / "out"
    args = ["explain", str(SAMPLE), "--out", str(out), "--data-dir", str(mnist_dir)]
    assert main(args) == 0
    first = capsys.readouterr()
    assert "nearest memories:" in first.out
    memories = json.loads((out / "memories.json").read_text())
    assert len(memories) == 8 and set(memories[0]) == {"index", "label", "distance"}
    assert [m["label"] for m in memories].count(4) >= 6  # it looks most like these 4s
    assert all(mnist.train_labels[m["index"]] == m["label"] for m in memories)
    assert main([*args, "--json", "--nearest", "3"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["memories"] == memories[:3]
    assert "memories.json" in summary["files"]


def test_explain_command_refuses_bad_input_clearly(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    missing = tmp_path / "nothing.png"
    assert main(["explain", str(missing), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert str(missing) in err and "Traceback" not in err
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert main(["explain", str(broken), "--out", str(tmp_path / "o")]) == 1
    assert str(broken) in capsys.readouterr().err
    blank = tmp_path / "blank.png"
    Image.new("L", (50, 50), 255).save(blank)
    assert main(["explain", str(blank), "--out", str(tmp_path / "o")]) == 1
    assert "no ink" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    with pytest.raises(SystemExit) as exited:
        main(["explain", str(SAMPLE), "--versus", "12"])
    assert exited.value.code == 2
    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert main(["explain", str(SAMPLE), "--out", str(a_file)]) == 2
    assert "cannot write" in capsys.readouterr().err

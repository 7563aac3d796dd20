"""The numpy forward pass is the torch network, to 1e-5, on every MNIST test image.

torch is imported here only as the reference the numpy code is held to.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from drawdigit.inference import load_predictor
from drawdigit.mnist import load_mnist
from drawdigit.model import DigitNet, ModelConfig
from drawdigit.numpy_net import CHUNK, NumpyDigitNet
from drawdigit.store import bundled_model_path, load_checkpoint, save_checkpoint


def _torch_probabilities(model: DigitNet, images: np.ndarray) -> np.ndarray:
    x = torch.from_numpy(images.reshape(-1, 1, 28, 28))
    with torch.inference_mode():
        return torch.softmax(model.eval()(x), dim=1).numpy()


def test_bundled_model_matches_torch_on_all_mnist_test_images(mnist_dir: Path) -> None:
    images = load_mnist(mnist_dir).test_images.astype(np.float32) / 255.0
    assert images.shape == (10_000, 28, 28)
    predictor, warnings = load_predictor()
    assert warnings == [] and predictor.source.kind == "bundled"
    ours = predictor.predict(images)
    theirs = _torch_probabilities(load_checkpoint(bundled_model_path()).build_model(), images)
    assert ours.shape == (10_000, 10) and ours.dtype == np.float32
    assert np.abs(ours - theirs).max() <= 1e-5
    assert (ours.argmax(axis=1) == theirs.argmax(axis=1)).all()
    assert np.allclose(ours.sum(axis=1), 1.0, atol=1e-6)


def random_model(
    tmp_path: Path, config: ModelConfig, seed: int = 1
) -> tuple[DigitNet, NumpyDigitNet]:
    """Random weights with non-zero biases, saved and read back as the app reads them: a
    transposed kernel or a wrong channel order would hide behind trained weights."""
    torch.manual_seed(seed)
    model = DigitNet(config)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    save_checkpoint(tmp_path / "m.pt", model.state_dict(), config)
    checkpoint = load_checkpoint(tmp_path / "m.pt")
    return model.eval(), NumpyDigitNet(checkpoint.config, checkpoint.arrays())


@pytest.mark.parametrize(
    "config", [ModelConfig(), ModelConfig(conv1=8, conv2=16, conv3=12, hidden=20)]
)
def test_any_config_and_batch_size_matches_torch(tmp_path: Path, config: ModelConfig) -> None:
    """Random weights with non-zero biases and unusual layer sizes catch a wrong layout (a
    transposed kernel, fc1's (c, h, w) flattening) that trained weights might hide."""
    model, net = random_model(tmp_path, config, seed=1)
    rng = np.random.default_rng(0)
    images = rng.random((CHUNK * 2 + 3, 28, 28), dtype=np.float32)  # spans several chunks
    logits, hidden = net.logits_and_features(images)
    x = torch.from_numpy(images.reshape(-1, 1, 28, 28))
    with torch.inference_mode():
        model.eval()
        torch_hidden = torch.relu(model.fc1(torch.flatten(_convs(model, x), 1)))
        torch_logits = model(x)
    assert logits.shape == (len(images), config.num_classes)
    assert hidden.shape == (len(images), config.hidden)
    assert np.abs(hidden - torch_hidden.numpy()).max() <= 1e-5
    assert np.abs(logits - torch_logits.numpy()).max() <= 1e-5
    assert np.abs(net.probabilities(images) - _torch_probabilities(model, images)).max() <= 1e-5
    assert net.parameter_count == sum(p.numel() for p in model.parameters())


def _convs(model: DigitNet, x: torch.Tensor) -> torch.Tensor:
    x = torch.max_pool2d(torch.relu(model.conv1(x)), 2)
    x = torch.max_pool2d(torch.relu(model.conv2(x)), 2)
    return torch.relu(model.conv3(x))


def test_single_input_gives_one_row_and_equals_its_batch_row() -> None:
    predictor, _ = load_predictor()
    rng = np.random.default_rng(3)
    batch = rng.random((4, 28, 28), dtype=np.float32)
    one = predictor.predict(batch[2])
    assert one.shape == (10,)
    assert np.abs(one - predictor.predict(batch)[2]).max() <= 1e-6
    prediction = predictor.classify(batch[2])
    assert prediction.digit == int(one.argmax())


def test_parameter_shapes_are_the_torch_modules() -> None:
    for config in (ModelConfig(), ModelConfig(conv1=5, conv2=6, conv3=7, hidden=8)):
        torch_shapes = {k: tuple(v.shape) for k, v in DigitNet(config).state_dict().items()}
        assert config.parameter_shapes() == torch_shapes

"""The network: a PyTorch copy of the seed notebook's Keras MNIST CNN, layer for layer.

Conv2D(32,3x3,relu) -> MaxPool2 -> Conv2D(64,3x3,relu) -> MaxPool2 -> Conv2D(64,3x3,relu)
-> Flatten(576) -> Dense(64,relu) -> Dense(10). The module returns logits: training uses
``cross_entropy`` on them (the same as Keras' categorical cross-entropy on softmax outputs)
and inference applies the softmax. The config is saved inside every checkpoint so a model
can be rebuilt from its file alone. ``ModelConfig`` lives in the torch-free
``model_config`` and is re-exported here.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from drawdigit.model_config import INPUT_SIZE, NUM_CLASSES, ModelConfig

__all__ = [
    "INPUT_SIZE",
    "NUM_CLASSES",
    "DigitNet",
    "ModelConfig",
    "copy_state_dict",
    "count_parameters",
    "fast_forward",
    "forward_for",
    "logits_and_hidden",
]


class DigitNet(nn.Module):
    """The seed CNN. Input: (N, 1, 28, 28) floats in [0, 1], ink bright on black."""

    def __init__(self, config: ModelConfig | None = None) -> None:
        super().__init__()
        self.config = config or ModelConfig()
        c = self.config
        self.conv1 = nn.Conv2d(1, c.conv1, 3)
        self.conv2 = nn.Conv2d(c.conv1, c.conv2, 3)
        self.conv3 = nn.Conv2d(c.conv2, c.conv3, 3)
        self.fc1 = nn.Linear(c.conv3 * 3 * 3, c.hidden)
        self.fc2 = nn.Linear(c.hidden, c.num_classes)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Keras' initialisation (Glorot-uniform kernels, zero biases), as in the seed notebook."""
        for layer in (self.conv1, self.conv2, self.conv3, self.fc1, self.fc2):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)  # 26 -> 13
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)  # 11 -> 5
        x = F.relu(self.conv3(x))  # 3x3x64 = 576
        x = F.relu(self.fc1(torch.flatten(x, 1)))
        return self.fc2(x)


# --------------------------------------------------------------------------- model helpers


def fast_forward(model: DigitNet, x: torch.Tensor) -> torch.Tensor:
    """``DigitNet.forward`` with each ReLU moved after its max-pool.

    max(relu(a), relu(b)) == relu(max(a, b)) exactly, and the gradients agree too (a pooled
    value <= 0 gets no gradient either way), so this is the same function, bit for bit,
    while the ReLU and its backward pass touch a 4x smaller tensor.
    """
    x = F.relu(F.max_pool2d(model.conv1(x), 2))
    x = F.relu(F.max_pool2d(model.conv2(x), 2))
    x = F.relu(model.conv3(x))
    x = F.relu(model.fc1(torch.flatten(x, 1)))
    return model.fc2(x)


def logits_and_hidden(model: DigitNet, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The logits and fc1's ReLU outputs (what the digit-ness head reads), as
    ``fast_forward`` computes them."""
    x = F.relu(F.max_pool2d(model.conv1(x), 2))
    x = F.relu(F.max_pool2d(model.conv2(x), 2))
    x = F.relu(model.conv3(x))
    hidden = F.relu(model.fc1(torch.flatten(x, 1)))
    return model.fc2(hidden), hidden


def forward_for(model: nn.Module, sample: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """The fastest forward function that gives exactly ``model(x)``.

    The reordered forward is used only for a plain ``DigitNet`` and only after checking on
    ``sample`` that it agrees bit for bit, so a changed model can never be trained wrongly.
    """
    if type(model) is DigitNet and sample.shape[0] > 0:
        with torch.no_grad():
            if torch.equal(fast_forward(model, sample), model(sample)):
                return lambda x: fast_forward(model, x)  # type: ignore[arg-type]
    return model


def copy_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """A CPU copy of the weights, in the ordinary contiguous layout, sharing no memory."""
    return {
        name: tensor.detach().to("cpu").clone(memory_format=torch.contiguous_format)
        for name, tensor in model.state_dict().items()
    }


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())

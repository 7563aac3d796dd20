"""The seed CNN's shape, without torch: its config and the parameters that shape implies.

Kept apart from ``model.py`` (the torch network) so that loading a checkpoint and answering
with the numpy forward pass never import torch: ``import torch`` alone costs 1-2.5 s, more
than the whole ``drawdigit predict`` call is allowed to take.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

INPUT_SIZE = 28
NUM_CLASSES = 10
KERNEL = 3  # every convolution is 3x3, stride 1, no padding, followed by 2x2 max-pooling
# The widest layer a model file may declare: 8x the seed's, room for experiments, while the
# largest model any accepted file can describe stays small (~7 M parameters, 57 MB as
# float64) so a hostile file cannot make the reader allocate gigabytes.
MAX_LAYER_SIZE = 512
_LAYERS = ("conv1", "conv2", "conv3", "hidden")


@dataclass(frozen=True)
class ModelConfig:
    """Shape of the network. The defaults are the seed notebook's; change them only knowingly."""

    conv1: int = 32
    conv2: int = 64
    conv3: int = 64
    hidden: int = 64
    num_classes: int = NUM_CLASSES

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> ModelConfig:
        """Rebuild from a checkpoint's dict, refusing (``ValueError``) any shape the app
        cannot use: unknown keys, sizes that are not whole numbers in
        1..``MAX_LAYER_SIZE``, and any ``num_classes`` but 10 (the answer panel, the
        digit-ness head and the evaluation all index ten digits)."""
        if not isinstance(data, dict):
            raise ValueError("the model config is not a mapping")
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown model config keys: {sorted(map(str, unknown))}")
        for name, value in data.items():
            if type(value) is not int:  # not bool, float or str: a file says exactly what it means
                raise ValueError(f"model config {name} is {value!r:.40}, not a whole number")
        if data.get("num_classes", NUM_CLASSES) != NUM_CLASSES:
            raise ValueError(
                f"model config num_classes is {data['num_classes']}; the app needs {NUM_CLASSES}"
            )
        for name in _LAYERS:
            if not 1 <= data.get(name, 1) <= MAX_LAYER_SIZE:
                raise ValueError(
                    f"model config {name} is {data[name]}; it must be 1 to {MAX_LAYER_SIZE}"
                )
        return cls(**data)

    @classmethod
    def largest(cls) -> ModelConfig:
        """The biggest network ``from_dict`` accepts: what bounds a model file's tensors."""
        return cls(**dict.fromkeys(_LAYERS, MAX_LAYER_SIZE))

    def parameter_count(self) -> int:
        return sum(math.prod(shape) for shape in self.parameter_shapes().values())

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        """Every weight's name and shape, as ``DigitNet(self).state_dict()`` has them.

        The contract a checkpoint is checked against without building the torch module;
        a test holds it equal to the module's own state_dict.
        """
        k = KERNEL
        flat = self.conv3 * 3 * 3  # 28 -conv-> 26 -pool-> 13 -conv-> 11 -pool-> 5 -conv-> 3
        return {
            "conv1.weight": (self.conv1, 1, k, k),
            "conv1.bias": (self.conv1,),
            "conv2.weight": (self.conv2, self.conv1, k, k),
            "conv2.bias": (self.conv2,),
            "conv3.weight": (self.conv3, self.conv2, k, k),
            "conv3.bias": (self.conv3,),
            "fc1.weight": (self.hidden, flat),
            "fc1.bias": (self.hidden,),
            "fc2.weight": (self.num_classes, self.hidden),
            "fc2.bias": (self.num_classes,),
        }

"""The seed CNN's shape, without torch: its config and the parameters that shape implies.

Kept apart from ``model.py`` (the torch network) so that loading a checkpoint and answering
with the numpy forward pass never import torch: ``import torch`` alone costs 1-2.5 s, more
than the whole ``drawdigit predict`` call is allowed to take.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

INPUT_SIZE = 28
NUM_CLASSES = 10
KERNEL = 3  # every convolution is 3x3, stride 1, no padding, followed by 2x2 max-pooling


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
    def from_dict(cls, data: dict) -> ModelConfig:
        """Rebuild from a checkpoint's dict; unknown keys are an error, not silently dropped."""
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown model config keys: {sorted(unknown)}")
        values = {k: int(v) for k, v in data.items()}
        return cls(**values)

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

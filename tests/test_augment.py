"""Training-time augmentation: shape and range kept, reproducible, and really changing digits."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import torch

from drawdigit.augment import AugmentConfig, add_writing_styles, augment_batch, change_thickness

IDENTITY = AugmentConfig(
    rotation=0.0, shear=0.0, scale=(1.0, 1.0), aspect=0.0, translate=0.0, thickness=0.0
)


@pytest.fixture(scope="module")
def digits(mnist_dir: Path) -> torch.Tensor:
    """The first 64 MNIST test digits as a (64, 1, 28, 28) float batch."""
    raw = gzip.decompress((mnist_dir / "t10k-images-idx3-ubyte.gz").read_bytes())
    images = np.frombuffer(raw, np.uint8, count=64 * 784, offset=16).reshape(64, 1, 28, 28)
    return torch.from_numpy(images.astype(np.float32) / 255.0)


@pytest.fixture(scope="module")
def labels(mnist_dir: Path) -> torch.Tensor:
    raw = gzip.decompress((mnist_dir / "t10k-labels-idx1-ubyte.gz").read_bytes())
    return torch.from_numpy(np.frombuffer(raw, np.uint8, count=64, offset=8).astype(np.int64))


def centre_of_mass(x: torch.Tensor) -> torch.Tensor:
    index = torch.arange(28, dtype=x.dtype)
    mass = x.sum(dim=(1, 2, 3))
    cy = (x.sum(dim=3).squeeze(1) * index).sum(1) / mass
    cx = (x.sum(dim=2).squeeze(1) * index).sum(1) / mass
    return torch.stack([cy, cx], dim=1)


def test_shape_dtype_range_kept_and_input_untouched(digits: torch.Tensor) -> None:
    before = digits.clone()
    out = augment_batch(digits, torch.Generator().manual_seed(0))
    assert out.shape == digits.shape and out.dtype == digits.dtype
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert torch.equal(digits, before)


def test_deterministic_for_a_generator_and_different_across_seeds(digits: torch.Tensor) -> None:
    a = augment_batch(digits, torch.Generator().manual_seed(7))
    b = augment_batch(digits, torch.Generator().manual_seed(7))
    c = augment_batch(digits, torch.Generator().manual_seed(8))
    assert torch.equal(a, b)
    assert (a - c).abs().max() > 0.5
    # the generator advances: two calls in a row differ
    g = torch.Generator().manual_seed(7)
    assert not torch.equal(augment_batch(digits, g), augment_batch(digits, g))


def test_actually_changes_digits_but_keeps_them_digit_like(digits: torch.Tensor) -> None:
    out = augment_batch(digits, torch.Generator().manual_seed(1))
    changed = (out - digits).abs().amax(dim=(1, 2, 3))
    assert (changed > 0.3).float().mean() > 0.9  # nearly every sample really changed
    ink_ratio = out.sum(dim=(1, 2, 3)) / digits.sum(dim=(1, 2, 3))
    assert ink_ratio.min() > 0.3 and ink_ratio.max() < 3.0  # no digit vanished or smeared
    shift = (centre_of_mass(out) - centre_of_mass(digits)).abs()
    assert shift.max() < 6.0  # small translations only: the digit stays in the field


def test_identity_settings_change_nothing(digits: torch.Tensor) -> None:
    out = augment_batch(digits, torch.Generator().manual_seed(0), IDENTITY)
    assert torch.allclose(out, digits, atol=1e-5)


def test_rotation_turns_the_digit() -> None:
    bar = torch.zeros(1, 1, 28, 28)
    bar[0, 0, 4:24, 13:15] = 1.0  # a vertical bar
    config = AugmentConfig(
        rotation=90.0, shear=0.0, scale=(1.0, 1.0), aspect=0.0, translate=0.0, thickness=0.0
    )
    generator = torch.Generator().manual_seed(3)
    turned = torch.cat([augment_batch(bar, generator, config) for _ in range(20)])
    # The bar's spread along x grows with |angle|; at least some draws must be well turned.
    xs = torch.arange(28.0)
    spread_x = (turned.sum(dim=2).squeeze(1) * (xs - 13.5) ** 2).sum(1) / turned.sum((1, 2, 3))
    assert spread_x.max() > 10.0 and spread_x.min() < spread_x.max() / 2


def test_translation_moves_the_centre_of_mass(digits: torch.Tensor) -> None:
    config = AugmentConfig(
        rotation=0.0, shear=0.0, scale=(1.0, 1.0), aspect=0.0, translate=3.0, thickness=0.0
    )
    out = augment_batch(digits, torch.Generator().manual_seed(5), config)
    shift = (centre_of_mass(out) - centre_of_mass(digits)).abs()
    assert shift.max() > 1.5 and shift.max() < 3.5


def test_thickness_changes_ink_but_never_erases_a_thin_stroke() -> None:
    line = torch.zeros(2, 1, 28, 28)
    line[:, 0, 4:24, 14] = 1.0  # a one-pixel "1", the thinnest MNIST stroke
    line[:, 0, 4:24, 13] = 0.4  # with a grey edge
    config = AugmentConfig(thickness=1.0)
    masses = []
    for seed in range(20):
        out = change_thickness(line, config, torch.Generator().manual_seed(seed))
        assert out[:, 0, 4:24, 14].min() > 0.99  # the core survives thinning
        masses.append(out.sum(dim=(1, 2, 3)))
    masses = torch.cat(masses)
    original = line[0].sum()
    assert masses.max() > original * 1.5  # some got thicker
    assert masses.min() < original * 0.9  # some got thinner


def test_elastic_is_deterministic_and_bounded(digits: torch.Tensor) -> None:
    config = AugmentConfig(elastic=1.5)
    a = augment_batch(digits, torch.Generator().manual_seed(2), config)
    b = augment_batch(digits, torch.Generator().manual_seed(2), config)
    assert torch.equal(a, b) and a.min() >= 0 and a.max() <= 1


def test_rejects_wrong_shapes() -> None:
    with pytest.raises(ValueError, match="expected a"):
        augment_batch(torch.zeros(4, 28, 28), torch.Generator())


def test_writing_styles_touch_only_ones_and_zeros(
    digits: torch.Tensor, labels: torch.Tensor
) -> None:
    config = AugmentConfig(flag_one=1.0, slash_zero=1.0)
    out = add_writing_styles(digits, labels, config, torch.Generator().manual_seed(0))
    added = (out - digits).clamp(min=0).sum(dim=(1, 2, 3))
    chosen = (labels == 0) | (labels == 1)
    assert chosen.sum() >= 10
    assert (added[chosen] > 3.0).all()  # a real stroke was added to every 1 and 0
    assert (added[~chosen] == 0).all()  # nothing else changed
    assert out.min() >= 0 and out.max() <= 1


def test_flag_goes_down_and_left_from_the_top_of_a_one() -> None:
    bar = torch.zeros(16, 1, 28, 28)
    bar[:, 0, 4:24, 13:15] = 1.0  # an upright 1, two pixels wide, 20 high
    out = add_writing_styles(
        bar,
        torch.ones(16, dtype=torch.long),
        AugmentConfig(flag_one=1.0),
        torch.Generator().manual_seed(4),
    )
    for after in out[:, 0]:
        left_upper = after[2:15, :12].sum()
        assert left_upper > 1.0  # the flag: left of the stem, in the upper half
        assert after[16:, :11].sum() < 0.5  # nothing added low on the left
        assert after[:, 18:].sum() < 0.5  # nor on the right
        assert after[12:24, 12:17].amax(dim=1).min() > 0.5  # the stem is still there


def test_styles_need_labels_and_are_deterministic(
    digits: torch.Tensor, labels: torch.Tensor
) -> None:
    config = AugmentConfig(flag_one=1.0, slash_zero=1.0)
    a = augment_batch(digits, torch.Generator().manual_seed(1), config, labels=labels)
    b = augment_batch(digits, torch.Generator().manual_seed(1), config, labels=labels)
    assert torch.equal(a, b)
    plain = augment_batch(digits, torch.Generator().manual_seed(1), config)
    assert not torch.equal(a, plain)  # labels given: the styles were drawn

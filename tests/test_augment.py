"""Training-time augmentation: shape and range kept, reproducible, and really changing digits."""

from __future__ import annotations

import gzip
import math
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
    config = AugmentConfig(
        flag_one=1.0, slash_zero=1.0, cross_seven=1.0, open_zero=1.0, tail_nine=1.0
    )
    a = augment_batch(digits, torch.Generator().manual_seed(1), config, labels=labels)
    b = augment_batch(digits, torch.Generator().manual_seed(1), config, labels=labels)
    assert torch.equal(a, b)
    plain = augment_batch(digits, torch.Generator().manual_seed(1), config)
    assert not torch.equal(a, plain)  # labels given: the styles were drawn


@pytest.mark.parametrize(
    ("style", "digit"), [("cross_seven", 7), ("tail_nine", 9), ("open_zero", 0)]
)
def test_each_new_style_changes_its_digit_only(
    digits: torch.Tensor, labels: torch.Tensor, style: str, digit: int
) -> None:
    out = add_writing_styles(
        digits, labels, AugmentConfig(**{style: 1.0}), torch.Generator().manual_seed(0)
    )
    changed = (out - digits).abs().sum(dim=(1, 2, 3))
    chosen = labels == digit
    assert chosen.sum() >= 4
    assert (changed[chosen] > 3.0).all()  # every such digit really changed
    assert (changed[~chosen] == 0).all()  # no other digit did
    assert out.shape == digits.shape and out.min() >= 0 and out.max() <= 1
    if style == "open_zero":  # ink is taken away, none added (then re-centred)
        assert (out.sum(dim=(1, 2, 3)) < digits.sum(dim=(1, 2, 3)) - 3.0)[chosen].all()


def seven(n: int) -> torch.Tensor:
    """n upright sevens: a bar across the top, a stem straight down at its right end."""
    x = torch.zeros(n, 1, 28, 28)
    x[:, 0, 4:6, 8:20] = 1.0
    x[:, 0, 4:24, 18:20] = 1.0
    return x


def test_a_crossed_seven_gets_a_bar_across_its_stem_below_the_middle() -> None:
    out = add_writing_styles(
        seven(16),
        torch.full((16,), 7),
        AugmentConfig(cross_seven=1.0),
        torch.Generator().manual_seed(3),
    )
    # (the styled digit is re-centred on its former centre of mass: it moves a pixel at most)
    for after in out[:, 0]:
        assert after[10:22, :17].sum() > 1.0  # left of the stem, below the middle
        assert after[10:22, 21:].sum() > 1.0  # and right of it
        assert after[:10, 21:].sum() < 0.5 and after[:10, :7].sum() < 0.5  # the top as it was
        assert after[22:, :16].sum() < 0.5  # nothing near the foot


def test_an_open_zero_loses_one_arc_of_its_ring() -> None:
    coords = torch.arange(28, dtype=torch.float32)
    y, x = torch.meshgrid(coords, coords, indexing="ij")
    radius = torch.hypot(x - 13.5, y - 13.5)
    ring = ((radius > 7.0) & (radius < 9.0)).float().expand(16, 1, 28, 28).contiguous()
    out = add_writing_styles(
        ring,
        torch.zeros(16, dtype=torch.long),
        AugmentConfig(open_zero=1.0),
        torch.Generator().manual_seed(5),
    )
    # the ink in each 10-degree sector around the centre, over a band wide enough to hold the
    # ring even after re-centring (it moves a pixel at most)
    band = (radius > 5.0) & (radius < 11.0)
    sector = ((torch.atan2(y - 13.5, x - 13.5) + math.pi) / (2 * math.pi) * 36).long() % 36
    for after in out[:, 0]:
        ink = torch.zeros(36).index_add_(0, sector[band], after[band])
        empty = ink < 0.5
        assert 2 <= empty.sum() <= 8  # a gap of 30-70 degrees (sectors partly cut stay inked)
        starts = (empty & ~empty.roll(1)).sum()
        assert starts == 1  # in one place


def test_a_nine_tail_hooks_left_from_its_foot() -> None:
    nine = torch.zeros(16, 1, 28, 28)
    nine[:, 0, 4:6, 10:20] = 1.0  # the loop, as a box
    nine[:, 0, 12:14, 10:20] = 1.0
    nine[:, 0, 4:14, 10:12] = 1.0
    nine[:, 0, 4:24, 18:20] = 1.0  # the stem down from its right side
    out = add_writing_styles(
        nine, torch.full((16,), 9), AugmentConfig(tail_nine=1.0), torch.Generator().manual_seed(6)
    )
    # (the styled digit is re-centred on its former centre of mass: it moves a pixel at most)
    for after in out[:, 0]:
        assert after[17:, :17].sum() > 1.0  # low and left of the stem, where the 9 had no ink
        assert after[:, 22:].sum() < 0.5  # nothing right of the stem


def test_configs_without_the_new_styles_draw_the_same_random_numbers(
    digits: torch.Tensor, labels: torch.Tensor
) -> None:
    """Weights trained before these styles existed stay reproducible from their recipe."""
    generator = torch.Generator().manual_seed(9)
    add_writing_styles(digits, labels, AugmentConfig(flag_one=1.0), generator)
    expected = torch.Generator().manual_seed(9)
    torch.rand(10, len(digits), generator=expected)
    assert torch.equal(generator.get_state(), expected.get_state())
    add_writing_styles(digits, labels, AugmentConfig(tail_nine=1.0), generator)
    torch.rand(10, len(digits), generator=expected)
    assert not torch.equal(generator.get_state(), expected.get_state())  # a second block

"""Random changes to training digits that imitate how people really draw, whole batch at once.

MNIST digits are neat: upright, centred by a machine, drawn with similar pens. People drawing
with a mouse or a pen slant and rotate their digits, squash them, and use strokes thinner
or thicker than MNIST's. Showing the network such variants during training is what takes it
from ~96% to ~98+% on real pen-drawn digits (benchmarks/bench_unipen.py).

Everything is done on the whole batch with a handful of tensor operations (one
``affine_grid`` + ``grid_sample`` for the geometry, max-pooling for the stroke width), so it
costs a small fraction of a training step, and it draws all its randomness from the
generator it is given, so a seeded training run is reproducible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.nn import functional as F


@dataclass(frozen=True)
class AugmentConfig:
    """Ranges of the random changes; each sample draws its own values uniformly.

    ``rotation`` (degrees, +-), ``shear`` (horizontal slant, as tan of the angle, +-),
    ``scale`` (content size factor), ``aspect`` (+- relative squash of width vs. height),
    ``translate`` (pixels, +-, each axis), ``thickness`` (the fraction of samples whose
    strokes are made thicker or thinner; ``dilate`` and ``thin`` bound how much, see
    ``change_thickness``), ``elastic`` (pixels of smooth random local displacement; 0 = off).
    Writing styles MNIST (American writers) barely has, added to the digits with the given
    probability when labels are passed: ``flag_one`` (a European "1" with a long up-stroke),
    ``base_one`` (a "1" standing on a foot), ``slash_zero`` (a zero struck through).
    """

    rotation: float = 12.0
    shear: float = 0.3
    scale: tuple[float, float] = (0.8, 1.1)
    aspect: float = 0.15
    translate: float = 2.0
    thickness: float = 0.6
    dilate: float = 0.7
    thin: float = 0.6
    elastic: float = 0.0
    flag_one: float = 0.0
    base_one: float = 0.0
    slash_zero: float = 0.0


# The bundled weights' augmentation: MNIST's geometry and pens varied, plus the writing styles
# MNIST lacks but people use (European "1" with a flag, "1" with a foot, slashed zero).
DEFAULT_AUGMENT = AugmentConfig(flag_one=0.5, base_one=0.15, slash_zero=0.2)


def _uniform(n: int, low: float, high: float, generator: torch.Generator) -> torch.Tensor:
    return torch.rand(n, generator=generator, device=generator.device) * (high - low) + low


def affine_matrices(
    n: int, config: AugmentConfig, generator: torch.Generator, size: int = 28
) -> torch.Tensor:
    """(n, 2, 3) matrices for ``F.affine_grid``: output coordinates -> input coordinates.

    The random forward transform (what happens to the digit) is scale * aspect, then shear,
    then rotation, then translation; ``affine_grid`` needs its inverse.
    """
    angle = _uniform(n, -config.rotation, config.rotation, generator) * (math.pi / 180.0)
    shear = _uniform(n, -config.shear, config.shear, generator)
    scale = _uniform(n, config.scale[0], config.scale[1], generator)
    aspect = _uniform(n, -config.aspect, config.aspect, generator)
    shift = _uniform(2 * n, -config.translate, config.translate, generator).view(n, 2)
    sx = scale * (1.0 + aspect)
    sy = scale * (1.0 - aspect)
    cos, sin = torch.cos(angle), torch.sin(angle)
    # forward = R @ Sh @ S with Sh = [[1, shear], [0, 1]], S = diag(sx, sy)
    a = cos * sx
    b = (cos * shear - sin) * sy
    c = sin * sx
    d = (sin * shear + cos) * sy
    det = a * d - b * c
    inverse = torch.stack([d / det, -b / det, -c / det, a / det], dim=1).view(n, 2, 2)
    # A shift of t pixels is 2t/size in affine_grid's [-1, 1] coordinates (align_corners=False).
    t = shift * (2.0 / size)
    offset = -(inverse @ t.unsqueeze(2))
    return torch.cat([inverse, offset], dim=2)


def change_thickness(
    x: torch.Tensor, config: AugmentConfig, generator: torch.Generator
) -> torch.Tensor:
    """Thicken or thin the strokes of a random subset of the batch, by a random amount.

    Thicker: blend towards a 3x3 max-pool (dilation), up to ``config.dilate`` of the way
    (+1 px a side at most). Thinner: raise the ink threshold by up to ``config.thin``, which
    eats the grey edge of a stroke but never its core, so a thin "1" cannot vanish (a 3x3
    min-pool erosion would erase MNIST's 1-2 px strokes).
    """
    n = x.shape[0]
    shape = (n, 1, 1, 1)
    chosen = torch.rand(n, generator=generator, device=generator.device) < config.thickness
    amount = torch.rand(n, generator=generator, device=generator.device) * chosen
    thicker = torch.rand(n, generator=generator, device=generator.device) < 0.5
    amount = amount.view(shape).to(x.dtype)
    thicker = thicker.view(shape)
    dilated = x + (amount * config.dilate) * (F.max_pool2d(x, 3, stride=1, padding=1) - x)
    cut = amount * config.thin
    thinned = ((x - cut) / (1.0 - cut)).clamp(min=0.0)
    return torch.where(thicker, dilated, thinned)


def _segments(
    size: int, start: torch.Tensor, end: torch.Tensor, radius: torch.Tensor
) -> torch.Tensor:
    """(N, 1, size, size) ink of one round-pen segment per sample, (x, y) pixel coordinates
    with pixel centres at integers, anti-aliased over one pixel (as preprocess renders)."""
    coords = torch.arange(size, dtype=start.dtype, device=start.device)
    py, px = torch.meshgrid(coords, coords, indexing="ij")
    ax, ay = start[:, 0, None, None], start[:, 1, None, None]
    dx = (end[:, 0] - start[:, 0])[:, None, None]
    dy = (end[:, 1] - start[:, 1])[:, None, None]
    t = ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy + 1e-9)
    t = t.clamp(0.0, 1.0)
    distance = torch.hypot(px - ax - t * dx, py - ay - t * dy)
    return (radius[:, None, None] + 0.5 - distance).clamp(0.0, 1.0).unsqueeze(1)


def add_writing_styles(
    x: torch.Tensor, labels: torch.Tensor, config: AugmentConfig, generator: torch.Generator
) -> torch.Tensor:
    """Turn some MNIST 1s and 0s into styles people use but MNIST lacks.

    MNIST was written by Americans: its 1 is a bare bar and its 0 never struck through, so
    a network trained on it reads a European 1 (a long up-stroke at the top) as a 7, a 1 on
    a foot as a 2, and a slashed zero as an 8 or a 4. The added stroke is drawn with a pen
    like the digit's own, before the geometric changes so it slants and scales with it.
    """
    n, _, h, w = x.shape
    dev, dtype = x.device, x.dtype

    def uniform(low: float, high: float) -> torch.Tensor:
        return _uniform(n, low, high, generator).to(dtype)

    ink = x[:, 0] > 0.5
    rows = ink.any(dim=2)
    has_ink = rows.any(dim=1)
    index = torch.arange(h, device=dev)
    top = torch.where(rows, index, h).amin(dim=1).clamp(max=h - 1)
    bottom = torch.where(rows, index, -1).amax(dim=1).clamp(min=0)
    height = (bottom - top).to(dtype).clamp(min=1.0)
    cols = torch.arange(w, dtype=dtype, device=dev)

    def column_at(row: torch.Tensor) -> torch.Tensor:
        line = x[torch.arange(n, device=dev), 0, row]  # (n, w)
        return (line * cols).sum(1) / line.sum(1).clamp(min=1e-6)

    mass = x[:, 0].sum(dim=(1, 2)).clamp(min=1e-6)
    cx = (x[:, 0].sum(dim=1) * cols).sum(1) / mass
    cy = (x[:, 0].sum(dim=2) * cols[:h]).sum(1) / mass
    # The digit's own pen: a bar of length ~height has mass ~ width x height (a 1); a zero's
    # outline is ~2.5 heights long. Drawn with that, the new stroke matches the old ones.
    per_length = mass / height / torch.where(labels == 0, 2.5, 1.0).to(dtype)
    radius = (per_length / 2.0 * uniform(0.8, 1.1)).clamp(0.6, 2.0)
    top_x = column_at(top)
    bottom_x = column_at(bottom)
    top_y, bottom_y = top.to(dtype), bottom.to(dtype)

    # a flag: from the top of the 1, down and to the left
    angle = uniform(30.0, 70.0) * (math.pi / 180.0)
    length = uniform(0.25, 0.55) * height
    flag_end = torch.stack(
        [top_x - length * torch.sin(angle), top_y + length * torch.cos(angle)], 1
    )
    flag_start = torch.stack([top_x, top_y], 1)
    # a foot: a short bar across the bottom of the 1
    half = uniform(0.2, 0.45) * height
    foot_start = torch.stack([bottom_x - half, bottom_y], 1)
    foot_end = torch.stack([bottom_x + half, bottom_y], 1)
    # a slash: through the zero's centre, tilted up to 45 degrees, a little past its ends
    tilt = uniform(-45.0, 45.0) * (math.pi / 180.0)
    reach = (height / 2.0 + uniform(0.0, 2.0)) / torch.cos(tilt)
    along = torch.stack([torch.sin(tilt), -torch.cos(tilt)], 1) * reach[:, None]
    centre = torch.stack([cx, cy], 1)

    draw = torch.rand(3, n, generator=generator, device=generator.device)
    one = (labels == 1) & has_ink
    zero = (labels == 0) & has_ink
    choices = (
        (one & (draw[0] < config.flag_one), flag_start, flag_end),
        (one & (draw[1] < config.base_one), foot_start, foot_end),
        (zero & (draw[2] < config.slash_zero), centre - along, centre + along),
    )
    out = x
    for chosen, start, end in choices:
        if bool(chosen.any()):
            stroke = _segments(w, start, end, radius) * chosen.view(n, 1, 1, 1).to(dtype)
            out = torch.maximum(out, stroke)
    return out


def elastic_offsets(
    n: int, config: AugmentConfig, generator: torch.Generator, size: int = 28
) -> torch.Tensor:
    """(n, size, size, 2) smooth random displacements in affine_grid units (coarse 4x4 noise
    upsampled bicubically, so neighbouring pixels move together like a wobbly hand)."""
    coarse = torch.randn(n, 2, 4, 4, generator=generator, device=generator.device)
    field = F.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=True)
    return field.permute(0, 2, 3, 1) * (config.elastic * 2.0 / size)


def augment_batch(
    x: torch.Tensor,
    generator: torch.Generator,
    config: AugmentConfig = DEFAULT_AUGMENT,
    labels: torch.Tensor | None = None,
) -> torch.Tensor:
    """A randomly changed copy of a (N, 1, H, W) batch of digits in [0, 1] (ink bright).

    Same shape, dtype and range; the input is not modified. Deterministic for a given
    generator state. The generator must live on ``x``'s device. With ``labels`` (N,) the
    label-dependent writing styles of ``config`` are added too (see add_writing_styles).
    """
    if x.dim() != 4 or x.shape[1] != 1:
        raise ValueError(f"expected a (N, 1, H, W) batch, got shape {tuple(x.shape)}")
    n, _, h, w = x.shape
    if labels is not None and (config.flag_one or config.base_one or config.slash_zero):
        x = add_writing_styles(x, labels, config, generator)
    theta = affine_matrices(n, config, generator, size=w).to(x.dtype)
    grid = F.affine_grid(theta, [n, 1, h, w], align_corners=False)
    if config.elastic > 0:
        grid = grid + elastic_offsets(n, config, generator, size=w).to(x.dtype)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    if config.thickness > 0:
        out = change_thickness(out, config, generator)
    return out.clamp_(0.0, 1.0)

"""Pictures as grids of blocks: reduce an array into f x f blocks, and enlarge a grid back.

The light's estimate, the paper's level, the line search and the stroke weight all work on
a picture reduced by blocks (a mean, a maximum, a median per block) and some bring the
result back to pixels; one way to do both, here.
"""

from __future__ import annotations

import numpy as np


def as_blocks(a: np.ndarray, f: int, mode: str = "constant") -> np.ndarray:
    """``a`` padded to whole f x f blocks, as (rows, f, cols, f): reduce over axes 1 and 3."""
    h, w = a.shape
    gh, gw = -(-h // f), -(-w // f)
    padded = np.pad(a, ((0, gh * f - h), (0, gw * f - w)), mode=mode)
    return padded.reshape(gh, f, gw, f)


def enlarged(grid: np.ndarray, cell: int, shape: tuple[int, int]) -> np.ndarray:
    """A grid of cell x cell blocks back to pixels (bilinear, cell centres to pixel centres)."""
    from PIL import Image

    gh, gw = grid.shape
    big = Image.fromarray(grid.astype(np.float32), mode="F").resize(
        (gw * cell, gh * cell), Image.Resampling.BILINEAR
    )
    return np.asarray(big, dtype=np.float32)[: shape[0], : shape[1]]

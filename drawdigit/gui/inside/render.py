"""The "Look inside" pictures as RGB arrays: heat over the drawing, grids of maps, filters.

Numpy only (no Qt), because it runs in the window's worker thread: the GUI thread receives
finished (H, W, 3) uint8 arrays and only wraps them in QImages, so turning 160 maps into
pictures never costs the pen a frame. The pictures are those ``drawdigit explain`` writes
(``explain.heat_overlay``, ``explain.map_grid``, the same colour maps, read from the
colorcet tables pyqtgraph ships without importing pyqtgraph, which crashed once off the GUI
thread and freezes it for ~0.7 s on it); this module adds what a window needs besides:
gaps painted, signed filters on a symmetric scale, a legend.
"""

from __future__ import annotations

import numpy as np

from drawdigit.explain import HEAT_MAP, LAYER_MAP, colourise, heat_overlay, map_grid

# The lines between tiles: near the silent end of each map, so they frame without shouting.
LAYER_GAP_RGB = (20, 20, 20)
FILTER_GAP_RGB = (190, 190, 190)


def heat_picture(image28: np.ndarray, heat: np.ndarray) -> np.ndarray:
    """(28, 28, 3) uint8: the signed heat (white at 0, red for, blue against) with the ink
    over it: the picture ``drawdigit explain`` writes as heat.png."""
    return heat_overlay(image28, heat)


def _grid_rgb(
    grid: np.ndarray, name: str, low: float, high: float, gap: tuple[int, int, int]
) -> np.ndarray:
    gaps = np.isnan(grid)
    rgb = colourise(np.where(gaps, low, grid), name, low, high)
    rgb[gaps] = gap
    return rgb


def activation_grid(maps: np.ndarray) -> np.ndarray:
    """The feature maps of one layer (C, h, w), >= 0, as an RGB grid of 8 columns.

    One scale for the whole layer (``map_grid``): a map that barely reacts looks dark, which
    is what it is, and the maps that carry the drawing stand out.
    """
    return _grid_rgb(map_grid(maps), LAYER_MAP, 0.0, 1.0, LAYER_GAP_RGB)


def filter_grid(filters: np.ndarray) -> np.ndarray:
    """The first layer's filters (N, 3, 3), signed, as an RGB grid on the heat's map: red
    weights add the pixel under them, blue ones subtract it; zero is white whatever the
    signs (one symmetric scale for all filters)."""
    grid = map_grid(filters)  # divided by the largest weight; the negatives keep their sign
    top = float(np.nanmax(np.abs(grid))) if grid.size else 0.0
    top = top if top > 0 else 1.0
    return _grid_rgb(grid, HEAT_MAP, -top, top, FILTER_GAP_RGB)


def colour_bar(width: int = 256) -> np.ndarray:
    """(1, width, 3) uint8: the heat's map from -1 (blue) to +1 (red), for the legend."""
    return colourise(np.linspace(-1.0, 1.0, width, dtype=np.float32)[None, :], HEAT_MAP, -1, 1)

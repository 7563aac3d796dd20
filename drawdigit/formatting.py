"""How numbers read in front of people: one percent formatter for every front end.

Why one place: accuracies are shown by the command line, the training dialog and the main
window; written out in each, they drifted apart ("-" or "–" for a missing value, one or two
decimals). Plain Python, no imports: the GUI can use it before numpy or torch are loaded.
"""

from __future__ import annotations


def percent(value: float | None, decimals: int = 1, missing: str = "-") -> str:
    """``0.9912`` -> ``"99.1%"`` (``decimals`` places); ``missing`` for None (not measured)."""
    return missing if value is None else f"{value * 100:.{decimals}f}%"

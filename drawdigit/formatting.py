"""How numbers read in front of people: one percent formatter for every front end.

Why one place: accuracies are shown by the command line, the training dialog and the main
window; written out in each, they drifted apart ("-" or "–" for a missing value, one or two
decimals). Plain Python, no imports: the GUI can use it before numpy or torch are loaded.
"""

from __future__ import annotations


def percent(value: float | None, decimals: int = 1, missing: str = "-") -> str:
    """``0.9912`` -> ``"99.1%"`` (``decimals`` places); ``missing`` for None (not measured)."""
    return missing if value is None else f"{value * 100:.{decimals}f}%"


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def human_date(stamp: object, missing: str = "unknown date") -> str:
    """An ISO 8601 stamp as people read it, in local time: ``"27 Nov 2026, 14:05"``.

    Stamps the app writes are UTC; one without a zone is taken as UTC. Anything else (a file
    the user edited) gives ``missing``, never an error. English month names, not the
    locale's: the rest of the interface is English too.
    """
    from datetime import datetime, timezone

    if not isinstance(stamp, str) or not stamp:
        return missing
    try:
        when = datetime.fromisoformat(stamp)
    except ValueError:
        return missing
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    local = when.astimezone()
    return f"{local.day} {_MONTHS[local.month - 1]} {local.year}, {local:%H:%M}"

"""The version the app is released as: ``__version__`` in ``drawdigit/__init__.py``.

The one reader for every build step: ``build.spec`` (Windows version resource, macOS
bundle), ``make_archive.py`` (the archive's name) and the release workflow's check that the
pushed tag matches (``python packaging/project_version.py`` prints it). The file is read as
text rather than imported, so the build needs neither the package installed nor torch.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_VERSION_LINE = re.compile(r'^__version__\s*=\s*["\']([^"\']+)["\']', re.MULTILINE)


def read_version(repo: Path = REPO) -> str:
    """``__version__`` of the checkout at ``repo``; a clear SystemExit if there is none."""
    init = repo / "drawdigit" / "__init__.py"
    match = _VERSION_LINE.search(init.read_text(encoding="utf-8"))
    if not match:
        raise SystemExit(f'{init}: no __version__ = "..." line')
    return match.group(1)


if __name__ == "__main__":
    print(read_version(Path(sys.argv[1]) if len(sys.argv) > 1 else REPO))

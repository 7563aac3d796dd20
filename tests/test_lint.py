"""Lint as a habit: ``ruff check`` (with blind-except and unused-noqa) and ``ruff format``.

Run as tests so that CI refuses code that does not pass them, with the rules in
pyproject.toml. The ruff binary comes with the test extras.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _ruff(*args: str) -> subprocess.CompletedProcess[str]:
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        pytest.fail(
            "ruff is not installed (it is part of the test extras: pip install -e '.[test]')"
        )
    return subprocess.run(
        [ruff, *args], cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )


def test_ruff_check_is_clean() -> None:
    result = _ruff("check", "--output-format", "concise", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_clean() -> None:
    result = _ruff("format", "--check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_rules_the_project_relies_on_are_on() -> None:
    """Blind excepts and stale noqa comments are what the house issue asked to keep out."""
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    select = next(line for line in text.splitlines() if line.startswith("select"))
    for rule in ("BLE", "RUF100"):
        assert f'"{rule}"' in select

"""The front door stays usable: a short README whose commands are the ones CI runs, and docs
whose links lead somewhere and which speak to users, not to the people who wrote them."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
DOCS = sorted((REPO / "docs").glob("*.md"))
PAGES = [README, *DOCS]

# The set-up command for running the app, as a newcomer copies it from the README.
APP_COMMAND = (
    "python3 -m venv .venv && .venv/bin/pip install torch==2.13.0 && "
    ".venv/bin/pip install -e . && .venv/bin/drawdigit"
)
README_MAX_LINES = 300
SCREENSHOT = REPO / "docs" / "images" / "app.png"
SCREENSHOT_MAX_BYTES = 150_000

# [text](target) and ![alt](target); the target ends at the first space or ")".
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
CODE_BLOCK = re.compile(r"^```.*?^```", re.S | re.M)


def _prose(text: str) -> str:
    """The page without its fenced code blocks (a command may hold brackets)."""
    return CODE_BLOCK.sub("", text)


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    headings = re.findall(r"^#{1,6}\s+(.+?)\s*$", _prose(page.read_text("utf-8")), re.M)
    return {_slug(h) for h in headings}


def _relative_links() -> list[tuple[Path, str]]:
    links = []
    for page in PAGES:
        for target in LINK.findall(_prose(page.read_text("utf-8"))):
            if not re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
                links.append((page, target))
    return links


def _ci_test_command() -> str:
    """The command `.ci/run` ends with: the README's test command, verbatim."""
    lines = [ln.strip() for ln in (REPO / ".ci" / "run").read_text("utf-8").splitlines()]
    commands = [ln for ln in lines if ln.startswith("python3 -m venv")]
    assert len(commands) == 1, f".ci/run should run one set-up-and-test command: {commands}"
    return commands[0]


def _code_lines(page: Path) -> list[str]:
    blocks = CODE_BLOCK.findall(page.read_text("utf-8"))
    return [line.strip() for block in blocks for line in block.splitlines()[1:-1]]


def test_readme_is_short_enough_to_read():
    lines = README.read_text("utf-8").count("\n")
    assert lines < README_MAX_LINES, f"README.md has {lines} lines; details belong in docs/"


def test_readme_gives_the_test_command_ci_runs():
    command = _ci_test_command()
    assert "pytest" in command
    assert command in _code_lines(README), (
        f"README.md must show `.ci/run`'s test command as a line of its own:\n{command}"
    )


def test_readme_gives_the_command_that_sets_up_and_runs_the_app():
    assert APP_COMMAND in _code_lines(README)


@pytest.mark.parametrize(
    ("page", "target"),
    _relative_links(),
    ids=[f"{page.name}->{target}" for page, target in _relative_links()],
)
def test_relative_link_leads_somewhere(page: Path, target: str):
    path_part, _, anchor = target.partition("#")
    destination = (page.parent / path_part).resolve() if path_part else page
    assert destination.exists(), f"{page.name} links to {target}, which does not exist"
    if anchor and destination.suffix == ".md":
        assert anchor in _anchors(destination), f"{page.name}: no heading for #{anchor}"


def test_every_page_links_somewhere():
    """The link check above must have something to check (a broken pattern finds none)."""
    linked = {page for page, _ in _relative_links()}
    assert README in linked
    assert {"benchmarks.md", "design.md", "data.md"} <= {p.name for p in DOCS}


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_no_issue_or_round_numbers(page: Path):
    """Readers do not know the project's tracker or its work rounds: say what was done."""
    text = page.read_text("utf-8")
    found = re.findall(r"\b(?:issue|round)\s+#?\d+", text, re.I)
    assert not found, f"{page.name} says {found}"


def test_the_screenshot_is_a_small_png_the_readme_shows():
    assert "docs/images/app.png" in README.read_text("utf-8").split("## ")[0]  # at the top
    data = SCREENSHOT.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert width >= 640 and height >= 480, (width, height)  # the whole window, not a crop
    assert len(data) < SCREENSHOT_MAX_BYTES, f"{len(data):,} bytes: run docs/screenshot.py"

"""Pack the built app into the release archive for this OS.

``python packaging/make_archive.py [--dist dist] [--out dist]`` turns ``dist/drawdigit/``
(or ``dist/drawdigit.app`` on macOS) into ``drawdigit-<version>-<os>-<arch>.tar.xz`` on Linux
or ``.zip`` on Windows and macOS, and prints the archive's path and size. The archive holds
one top-level folder, so unpacking it never scatters files; symbolic links (PyInstaller makes
some on Linux and inside macOS app bundles) are stored as links in every format.

Linux gets ``.tar.xz``: every distribution's tar and archive manager opens it, and LZMA packs
torch's libraries far tighter than gzip (``--format tar.gz`` still makes the old kind).
Windows gets ``.zip``, the one archive Explorer opens on every Windows version. macOS gets a
``.zip`` made by Apple's ``ditto -c -k --keepParent``, the way Apple documents for app
bundles: it keeps the links and extended attributes the ad-hoc signature covers, and the
release workflow checks the signature after unpacking it with ``ditto -x -k``.

Written in Python rather than as tar/zip calls in the workflow so that every OS builds its
archive the same way and the tests can run it here.
"""

from __future__ import annotations

import argparse
import contextlib
import lzma
import os
import platform
import shutil
import stat
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

# Siblings in packaging/, imported by their own names (packaging/ is sys.path[0] when this runs
# as a script; build.spec says why it is never imported as ``packaging.<name>``).
from bundle_rules import os_name
from project_version import REPO, read_version


def platform_tag() -> str:
    """``linux-x86_64``, ``windows-x86_64``, ``macos-arm64``...: what the archive runs on."""
    machine = platform.machine().lower()
    machine = {"amd64": "x86_64", "x64": "x86_64", "aarch64": "arm64"}.get(machine, machine)
    return f"{os_name()}-{machine}"


FORMATS = ("tar.xz", "tar.gz", "zip")


def default_format() -> str:
    return "tar.xz" if sys.platform.startswith("linux") else "zip"


def app_folder(dist: Path) -> Path:
    """What to pack: the .app bundle on macOS when there is one, else the app folder."""
    bundle = dist / "drawdigit.app"
    if sys.platform == "darwin" and bundle.is_dir():
        return bundle
    folder = dist / "drawdigit"
    if not folder.is_dir():
        raise SystemExit(f"{folder}: no built app (run `pyinstaller build.spec` first)")
    return folder


def _walk(root: Path) -> list[Path]:
    """Every path under ``root`` (itself included), parents first, links not followed."""
    paths = [root]
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        base = Path(folder)
        paths += [base / name for name in sorted(dirs) + sorted(files)]
    return paths


def xz_filters(level: int = 9, machine: str | None = None) -> list[dict[str, int]]:
    """LZMA2 at ``level``, after the x86 branch filter (BCJ) on x86-64.

    The BCJ filter turns the relative call addresses in machine code into absolute ones, so
    the same call looks the same everywhere: torch's libraries compress ~25% smaller (a
    12 MB slice of libtorch_python.so: 2.98 MB -> 2.25 MB). Every xz decoder has it (xz
    utils, libarchive, 7-Zip), so ``tar -xJf`` and archive managers open the result as
    usual. Elsewhere it would not help (other machines' code), so it is left out.
    """
    machine = (machine or platform.machine()).lower()
    lzma2 = {"id": lzma.FILTER_LZMA2, "preset": level}
    return [{"id": lzma.FILTER_X86}, lzma2] if machine in ("x86_64", "amd64") else [lzma2]


def make_tar(source: Path, archive: Path, level: int = 9, compression: str = "xz") -> None:
    """A .tar.xz (or .tar.gz) with ``source``'s folder at the top; links stay links, modes
    are kept. ``level`` is xz's preset or gzip's level (9: smallest)."""
    tmp = archive.with_name(archive.name + ".part")
    with contextlib.ExitStack() as stack:
        if compression == "xz":
            xz = stack.enter_context(lzma.open(tmp, "wb", filters=xz_filters(level)))
            tar = stack.enter_context(tarfile.open(fileobj=xz, mode="w"))
        else:
            tar = stack.enter_context(tarfile.open(tmp, "w:gz", compresslevel=level))
        _add_tree(tar, source)
    os.replace(tmp, archive)


def _add_tree(tar: tarfile.TarFile, source: Path) -> None:
    """Every path under ``source``, named from its parent, owned by nobody in particular."""
    for path in _walk(source):
        arcname = path.relative_to(source.parent).as_posix()
        info = tar.gettarinfo(str(path), arcname)
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        if info.isfile():
            with path.open("rb") as f:
                tar.addfile(info, f)
        else:
            tar.addfile(info)


def make_zip(source: Path, archive: Path, level: int = 9) -> None:
    """A .zip with ``source``'s folder at the top; links are stored as links (Info-ZIP way)."""
    tmp = archive.with_name(archive.name + ".part")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as zf:
        for path in _walk(source):
            arcname = path.relative_to(source.parent).as_posix()
            st = path.lstat()
            if stat.S_ISLNK(st.st_mode):
                info = zipfile.ZipInfo(arcname, time.localtime(st.st_mtime)[:6])
                info.create_system = 3  # Unix, so the mode bits below are honoured
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
                zf.writestr(info, os.readlink(path))
            elif path.is_dir():
                zf.write(path, arcname + "/")
            else:
                zf.write(path, arcname)
    os.replace(tmp, archive)


def make_ditto_zip(source: Path, archive: Path) -> None:
    """macOS: a .zip of the app bundle by ``ditto`` (links, modes, extended attributes)."""
    tmp = archive.with_name(archive.name + ".part")
    command = ["ditto", "-c", "-k", "--keepParent", str(source), str(tmp)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"ditto failed: {result.stderr.strip()}")
    os.replace(tmp, archive)


def make_archive(dist: Path, out: Path, fmt: str | None = None, level: int = 9) -> Path:
    """Build the release archive for this OS from ``dist``; returns its path."""
    fmt = fmt or default_format()
    if fmt not in FORMATS:
        raise SystemExit(f"unknown archive format {fmt!r} ({', '.join(FORMATS)})")
    source = app_folder(dist)
    out.mkdir(parents=True, exist_ok=True)
    archive = out / f"drawdigit-{read_version()}-{platform_tag()}.{fmt}"
    if fmt.startswith("tar."):
        make_tar(source, archive, level, fmt.removeprefix("tar."))
    elif sys.platform == "darwin" and shutil.which("ditto"):
        make_ditto_zip(source, archive)
    else:
        make_zip(source, archive, level)
    return archive


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", type=Path, default=REPO / "dist", help="PyInstaller's dist")
    parser.add_argument("--out", type=Path, default=None, help="where to write (default: dist)")
    parser.add_argument("--format", choices=FORMATS, default=None, help="default: per OS")
    parser.add_argument("--level", type=int, default=9, help="compression level 1-9 (xz: 0-9)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    archive = make_archive(args.dist, args.out or args.dist, args.format, args.level)
    size = archive.stat().st_size
    print(f"{archive} {size / 1e6:.1f} MB ({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Pack the built app into the release archive for this OS.

``python packaging/make_archive.py [--dist dist] [--out dist]`` turns ``dist/drawdigit/``
(or ``dist/drawdigit.app`` on macOS) into ``drawdigit-<version>-<os>-<arch>.tar.gz`` on Linux
or ``.zip`` on Windows and macOS, and prints the archive's path and size. The archive holds
one top-level folder, so unpacking it never scatters files; symbolic links (PyInstaller makes
some on Linux and inside macOS app bundles) are stored as links in both formats.

Written in Python rather than as tar/zip/ditto calls in the workflow so that every OS builds
its archive the same way and the tests can run it here.
"""

from __future__ import annotations

import argparse
import os
import platform
import stat
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


def default_format() -> str:
    return "tar.gz" if sys.platform.startswith("linux") else "zip"


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


def make_tar_gz(source: Path, archive: Path, level: int = 9) -> None:
    """A .tar.gz with ``source``'s folder at the top; links stay links, modes are kept."""
    tmp = archive.with_name(archive.name + ".part")
    with tarfile.open(tmp, "w:gz", compresslevel=level) as tar:
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
    os.replace(tmp, archive)


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


def make_archive(dist: Path, out: Path, fmt: str | None = None, level: int = 9) -> Path:
    """Build the release archive for this OS from ``dist``; returns its path."""
    fmt = fmt or default_format()
    source = app_folder(dist)
    out.mkdir(parents=True, exist_ok=True)
    archive = out / f"drawdigit-{read_version()}-{platform_tag()}.{fmt}"
    if fmt == "tar.gz":
        make_tar_gz(source, archive, level)
    elif fmt == "zip":
        make_zip(source, archive, level)
    else:
        raise SystemExit(f"unknown archive format {fmt!r} (tar.gz or zip)")
    return archive


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", type=Path, default=REPO / "dist", help="PyInstaller's dist")
    parser.add_argument("--out", type=Path, default=None, help="where to write (default: dist)")
    parser.add_argument("--format", choices=("tar.gz", "zip"), default=None)
    parser.add_argument("--level", type=int, default=9, help="compression level 1-9")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    archive = make_archive(args.dist, args.out or args.dist, args.format, args.level)
    size = archive.stat().st_size
    print(f"{archive} {size / 1e6:.1f} MB ({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

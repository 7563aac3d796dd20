"""The app icon's files: a 1024 px master rendered from ``app.svg``, and .ico/.icns made from it.

    python packaging/make_icons.py                 # re-render resources/icons/app-1024.png
    python packaging/make_icons.py --native DIR    # drawdigit.ico and drawdigit.icns in DIR

The SVG is the source; the 1024 px PNG master is rendered from it with Qt's own SVG renderer
(the one the app draws its icons with) and committed, so a build needs no SVG renderer. The
Windows ``.ico`` (16-256 px) and macOS ``.icns`` (up to 1024 px, what a Retina Dock and
Finder show) are made from the master at build time by :func:`native_icon` (``build.spec``
asks ``bundle_rules.app_icon``): each size is scaled down from 1024 px with a Lanczos filter,
rather than up from a 256 px source, which is what made the old icons blurry on Retina and 4K.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ICONS = REPO / "resources" / "icons"
SVG = ICONS / "app.svg"
MASTER = ICONS / "app-1024.png"
MASTER_SIZE = 1024
# What Windows asks an .ico for (Explorer, taskbar, Alt+Tab at 100-250% scaling) ...
ICO_SIZES = (16, 20, 24, 32, 40, 48, 64, 96, 128, 256)
# ... and the sizes Pillow's .icns writer stores (ic07-ic14: 32-1024 px, @1x and @2x).
ICNS_SIZES = (32, 64, 128, 256, 512, 1024)


def render_svg(svg: Path, size: int) -> bytes:
    """``svg`` rendered at ``size`` x ``size`` px with QSvgRenderer, as PNG bytes.

    Needs no QGuiApplication (no text in the icon, so no fonts): the build machine's Qt
    draws into an image in memory.
    """
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"{svg}: not an SVG file Qt can render")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter)
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise SystemExit("Qt could not encode the rendered icon as PNG")
    buffer.close()
    return bytes(data.data())


def _replace(path: Path, data: bytes) -> None:
    """Write ``path`` whole or not at all (a temp file beside it, then a rename)."""
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def render_master(svg: Path = SVG, out: Path = MASTER, size: int = MASTER_SIZE) -> Path:
    """Render the master PNG from the SVG; returns its path."""
    _replace(out, render_svg(svg, size))
    return out


def native_icon(master: Path, out_dir: Path, fmt: str) -> Path:
    """``drawdigit.ico`` or ``drawdigit.icns`` in ``out_dir``, every size scaled from ``master``."""
    from PIL import Image

    sizes = {"ico": ICO_SIZES, "icns": ICNS_SIZES}.get(fmt)
    if sizes is None:
        raise ValueError(f"unknown icon format {fmt!r} (ico or icns)")
    with Image.open(master) as opened:
        source = opened.convert("RGBA")
    if source.size != (MASTER_SIZE, MASTER_SIZE):
        raise SystemExit(f"{master}: {source.size[0]}x{source.size[1]}, not a 1024 px master")
    images = [source.resize((s, s), Image.Resampling.LANCZOS) for s in sizes]
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"drawdigit.{fmt}"
    tmp = out.with_name(out.name + ".part")
    largest = images[-1]
    if fmt == "ico":
        largest.save(tmp, "ICO", sizes=[(s, s) for s in sizes], append_images=images[:-1])
    else:
        largest.save(tmp, "ICNS", append_images=images[:-1])
    os.replace(tmp, out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--native", type=Path, metavar="DIR", help="write .ico and .icns here")
    args = parser.parse_args(argv)
    if args.native is None:
        print(render_master())
    else:
        for fmt in ("ico", "icns"):
            print(native_icon(MASTER, args.native, fmt))
    return 0


if __name__ == "__main__":
    sys.exit(main())

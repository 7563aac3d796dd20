"""What goes into the PyInstaller bundle and what is left out: the rules ``build.spec`` reads.

The spec itself only says what to build (Analysis, EXE, COLLECT, BUNDLE); the decisions live
here, in plain importable Python, so the tests call them directly. A default build of CPU
torch + PySide6 is ~870 MB; most of this module is trimming. Every rule was checked against
``dist/drawdigit/drawdigit --self-test`` (offscreen and on Xvfb); the known traps:

- torch reads the source of some of its modules at run time (config modules, TorchScript
  overloads): those keep their ``.py`` (see :func:`collection_modes`), the rest is byte code;
- ``torch/bin/torch_shm_manager``, ``libshm`` and ``libgomp`` must stay (:data:`KEPT_FILES`);
- every optimizer imports ``torch._dynamo``, which imports sympy and ``torch._inductor``:
  those packages cannot be excluded, only parts of them;
- ``strip`` corrupts the auditwheel-patched libraries in ``*.libs/`` (numpy's OpenBLAS), so
  PyInstaller's own ``strip`` stays off and :func:`strip_binaries` skips those folders;
- Qt's xcb plugin needs libxcb-icccm4, libxcb-keysyms1 (and friends) on the build machine,
  or they are not bundled and the app cannot open a window on X11.

Per-OS rules are keyed by :func:`os_name` ("linux", "windows", "macos"). Only the Linux
bundle is built and run here; the Windows and macOS Qt patterns name the same parts in those
wheels' layouts and are kept honest by the self-test on that OS in the release workflow.

Environment: ``DRAWDIGIT_BUILD_NO_STRIP=1`` skips stripping (debugging a crash in a library).
"""

from __future__ import annotations

import fnmatch
import hashlib
import importlib.util
import os
import re
import shutil
import struct
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

# PyInstaller's TOC entries: (destination inside the bundle, source path, kind).
TocEntry = tuple[str, str, str]


def os_name(platform: str = sys.platform) -> str:
    """``linux``, ``windows`` or ``macos``: the key of the per-OS rules below."""
    if platform == "win32":
        return "windows"
    if platform == "darwin":
        return "macos"
    return "linux" if platform.startswith("linux") else platform


# --------------------------------------------------------------------------- what goes in


# The project's own licence and the list of what the bundle carries from others, at the top
# of the bundle's data folder (``_internal/`` beside the launcher).
NOTICE_FILES = ("LICENSE", "THIRD-PARTY-NOTICES.md")


def bundled_data(root: Path) -> list[tuple[str, str]]:
    """The data files: ``resources/`` as ``resources`` in the bundle's data folder, and the
    licence and third-party notices (:data:`NOTICE_FILES`) beside it.

    ``drawdigit.store.resources_dir()`` looks for ``sys._MEIPASS/resources`` first when
    frozen, so this destination and that lookup must agree. A checkout without the bundled
    weights, or without the notices the licences of what ships ask for, is refused here
    rather than building an app that cannot answer or may not be given away.
    """
    resources = root / "resources"
    if not (resources / "model").is_dir():
        raise SystemExit(f"{resources / 'model'} is missing: no bundled weights to ship")
    data = [(str(resources), "resources")]
    for name in NOTICE_FILES:
        if not (root / name).is_file():
            raise SystemExit(f"{root / name} is missing: the bundle must carry it")
        data.append((str(root / name), "."))
    return data


# --------------------------------------------------------------------------- licence texts

# Where the licence texts of the bundled packages go, one folder per distribution.
LICENCE_FOLDER = "licenses"
# A distribution's licence texts: what its wheel put under ``*.dist-info/licenses/`` (PEP
# 639) or, in older wheels, beside METADATA under one of these names.
_LICENCE_NAME = re.compile(r"^(LICEN[CS]E|COPYING|NOTICE|AUTHORS)", re.IGNORECASE)
# In every bundle, whatever the analysis found: PyInstaller's bootloader is the launcher.
ALWAYS_LICENSED = ("pyinstaller",)


def _distribution_files() -> dict[str, Any]:
    """Installed file (absolute, normalised) -> the distribution it belongs to."""
    import importlib.metadata

    owners: dict[str, Any] = {}
    for dist in importlib.metadata.distributions():
        for file in dist.files or []:
            owners[os.path.normcase(os.path.abspath(str(dist.locate_file(file))))] = dist
    return owners


def _licence_texts(dist: Any) -> list[tuple[str, str]]:
    """(path inside the distribution's licence folder, installed file) of its licence texts."""
    found = []
    for file in dist.files or []:
        parts = Path(str(file)).parts
        if len(parts) < 2 or not parts[0].endswith(".dist-info"):
            continue
        inside = parts[1:]
        if inside[0] == "licenses" and len(inside) > 1:
            inside = inside[1:]
        elif len(inside) != 1 or not _LICENCE_NAME.match(inside[0]):
            continue
        found.append(("/".join(inside), str(dist.locate_file(file))))
    return sorted(found)


def python_licence() -> Path:
    """The licence of the Python the bundle carries (its runtime library), as installed."""
    import sysconfig

    candidates = [Path(sysconfig.get_paths()["stdlib"]) / "LICENSE.txt"]
    candidates.append(Path(sys.base_prefix) / "LICENSE.txt")  # Windows installs
    for path in candidates:
        if path.is_file():
            return path
    raise SystemExit(f"Python's licence text is not at {' or '.join(map(str, candidates))}")


def licence_files(
    entries: Iterable[TocEntry],
    always: Iterable[str] = ALWAYS_LICENSED,
    platform: str = sys.platform,
) -> list[TocEntry]:
    """Data entries that put the licence texts of every distribution the bundle keeps code
    of into ``licenses/<name>/``, Python's into ``licenses/python/``, and (Linux) those of
    the system libraries PyInstaller copied from the build machine into
    ``licenses/system/<package>/``.

    ``entries`` are the analysis' kept modules, binaries and data (after the exclusions):
    a distribution is bundled when one of its installed files is among their sources. Its
    texts are the ones its wheel ships (numpy's and Pillow's also cover the libraries they
    vendor: OpenBLAS, libgfortran, libjpeg...), so they are always those of the versions
    built in. Distributions without texts (PySide6's wheels carry none) are covered by the
    full LGPL and GPL texts in THIRD-PARTY-NOTICES.md.
    """
    import importlib.metadata

    entries = list(entries)
    owners = _distribution_files()
    bundled = {}
    unowned = []
    for _dest, src, _kind in entries:
        if not src:
            continue
        dist = owners.get(os.path.normcase(os.path.abspath(src)))
        if dist is not None:
            bundled[dist.metadata["Name"].lower()] = dist
        else:
            unowned.append(src)
    for name in always:
        bundled.setdefault(name.lower(), importlib.metadata.distribution(name))
    out: list[TocEntry] = []
    for name in sorted(bundled):
        for inside, src in _licence_texts(bundled[name]):
            out.append((f"{LICENCE_FOLDER}/{name}/{inside}", src, "DATA"))
    out.append((f"{LICENCE_FOLDER}/python/LICENSE.txt", str(python_licence()), "DATA"))
    if os_name(platform) == "linux":
        for package, copyright_file in system_copyright_files(unowned):
            out.append((f"{LICENCE_FOLDER}/system/{package}/copyright", copyright_file, "DATA"))
    return out


def system_copyright_files(paths: Iterable[str]) -> list[tuple[str, str]]:
    """(package, its copyright file) for the Debian/Ubuntu packages that installed the
    system files among ``paths`` (libraries PyInstaller copied from ``/lib`` or ``/usr``).

    Debian-based systems keep each package's licences in ``/usr/share/doc/<package>/
    copyright``; ``dpkg -S`` says which package a file is from. With merged ``/usr`` a file
    is known to dpkg under ``/lib`` or ``/usr/lib``, as the link or its target, so all four
    names are asked. Elsewhere (no dpkg) nothing is found, and the build says so.
    """
    wanted: dict[str, list[str]] = {}
    for path in paths:
        if not path.startswith(("/lib", "/usr/")):
            continue
        names = []
        for name in (path, os.path.realpath(path)):
            names.append(name)
            if name.startswith("/usr/lib/"):
                names.append(name.removeprefix("/usr"))
            elif name.startswith("/lib"):
                names.append("/usr" + name)
        wanted[path] = names
    if not wanted:
        return []
    dpkg = shutil.which("dpkg")
    if dpkg is None:
        print("bundle_rules: WARNING: no dpkg: the system libraries' licences are not bundled")
        return []
    asked = sorted({name for names in wanted.values() for name in names})
    result = subprocess.run([dpkg, "-S", *asked], capture_output=True, text=True)
    package_of = {}
    for line in result.stdout.splitlines():  # "zlib1g:amd64: /lib/x86_64-linux-gnu/libz.so.1"
        packages, _, name = line.partition(": ")
        if "," not in packages:  # a folder several packages share is not a library
            package_of[name.strip()] = packages.split(":")[0]
    found = {}
    for path, names in wanted.items():
        package = next((package_of[n] for n in names if n in package_of), None)
        if package is None:
            print(f"bundle_rules: WARNING: no package owns {path}: its licence is not bundled")
            continue
        copyright_file = Path("/usr/share/doc") / package / "copyright"
        if copyright_file.is_file():
            found[package] = str(copyright_file)
        else:
            print(f"bundle_rules: WARNING: {package} ({path}) has no {copyright_file}")
    return sorted(found.items())


def app_icon(resources: Path, workdir: Path, platform: str = sys.platform) -> str | None:
    """The launcher's icon: .ico (Windows) or .icns (macOS) made now from the 1024 px master.

    ``make_icons.native_icon`` scales every size down from ``icons/app-1024.png`` (rendered
    from ``app.svg``) into ``workdir``, so the icons are sharp on Retina and 4K screens.
    Linux executables carry no icon (the .desktop file names one; PyInstaller would only
    warn), hence None there. Without a master, the build goes on without an icon and says so.
    """
    master = resources / "icons" / "app-1024.png"
    if not master.is_file():
        print(f"bundle_rules: WARNING: no {master}; building without an icon")
        return None
    native = {"windows": "ico", "macos": "icns"}.get(os_name(platform))
    if native is None:
        return None
    from make_icons import native_icon  # a sibling in packaging/, like this module

    return str(native_icon(master, workdir, native))


# --------------------------------------------------------------------------- what to leave out

# Python packages the app never imports. Each one is either pulled in only by optional code
# paths of a dependency (pyqtgraph's OpenGL and test helpers, torch's TensorBoard and ONNX
# exporters' optional deps) or is a development tool installed beside it.
# fmt: off
EXCLUDED_MODULES = [
    # Qt bindings and Qt modules we do not use (pyqtgraph imports the last three optionally)
    "PyQt5", "PyQt6", "PySide2", "tkinter", "_tkinter",
    "PySide6.QtNetwork", "PySide6.QtQml", "PySide6.QtQuick", "PySide6.QtQuickWidgets",
    "PySide6.QtSql", "PySide6.QtXml", "PySide6.QtDBus", "PySide6.QtPrintSupport",
    "PySide6.QtConcurrent", "PySide6.QtHelp", "PySide6.QtUiTools", "PySide6.QtDesigner",
    "PySide6.QtOpenGL", "PySide6.QtOpenGLWidgets", "PySide6.QtTest",
    # optional extras of pyqtgraph, numpy and torch that the app never reaches
    "pyqtgraph.opengl", "pyqtgraph.examples", "pyqtgraph.jupyter", "OpenGL",
    "matplotlib", "pandas", "IPython", "jupyter_client", "h5py", "cupy", "numba",
    "torch.utils.tensorboard", "tensorboard", "torchvision", "triton", "onnx", "onnxruntime",
    "onnxscript", "expecttest", "hypothesis", "pytest", "_pytest", "pytestqt",
    "torch.utils.benchmark", "torch.utils.hipify",
    "torch.utils.model_dump", "torch.utils.bottleneck", "functorch",
    # Parts of packages torch does import, that only torch.compile, distributed training,
    # export or torch's own tests reach (never loaded by any drawdigit path; torch's hook
    # lists every submodule, 7.5 MB of them these). The packages themselves must stay.
    *(f"torch._inductor.{name}" for name in (
        "codegen", "fx_passes", "kernel", "ir", "scheduler", "lowering", "select_algorithm",
        "codecache", "template_heuristics", "compile_fx", "pattern_matcher", "graph",
        "cudagraph_trees", "autoheuristic", "comms", "sizevars", "debug",
    )),
    *(f"torch.testing._internal.{name}" for name in (
        "common_methods_invocations", "common_utils", "opinfo", "generated", "common_nn",
        "common_modules", "common_quantization", "common_distributed", "common_device_type",
        "common_fsdp",
    )),
    *(f"torch.distributed.{name}" for name in (
        "checkpoint", "elastic", "pipelining", "_tools", "optim", "flight_recorder",
    )),
    *(f"torch._export.{name}" for name in ("serde", "passes", "db", "converter")),
    "torch.ao.ns", "torch.ao.pruning", "torch._functorch.partitioners", "torch._vendor.quack",
    *(f"sympy.{name}" for name in (
        "combinatorics", "physics", "vector", "testing", "codegen", "categories",
    )),
    # only torch.compile / distributed checkpointing use these; found by the import graph
    # through optional imports. cryptography alone is 13 MB.
    "networkx", "jinja2", "fsspec", "cryptography", "requests", "urllib3", "idna",
    "charset_normalizer", "yaml", "sqlite3", "_sqlite3", "readline",
    # Pillow codecs for formats we do not read (AVIF, WebP), fonts, colour management, Tk
    "PIL._avif", "PIL._webp", "PIL._imagingft", "PIL._imagingcms", "PIL._imagingtk",
    "PIL.ImageTk", "PIL.ImageQt",
    # scipy: the app uses scipy.ndimage (drawdigit/pictures/; it imports scipy.special and
    # scipy._lib). The rest comes in only through lazy imports in functions the app never
    # calls (scipy.special's orthogonal-polynomial roots import linalg...); with every
    # drawdigit module, pyqtgraph, torch and a whole self-test loaded, none of these is
    # imported. 31 MB of libraries and byte code.
    *(f"scipy.{name}" for name in (
        "linalg", "sparse", "optimize", "spatial", "io", "stats", "interpolate", "fft",
        "integrate", "signal", "cluster", "odr", "datasets", "differentiate", "constants",
    )),
    # test suites and build tools
    # (numpy.f2py and numpy.testing stay: scipy.ndimage's array-API layer runs
    # `from numpy import *`, which imports both; without them every picture fails)
    "numpy.tests", "numpy.distutils",
    "setuptools", "pip", "distutils", "lib2to3", "pydoc_data",
]

# Files (destination paths inside the bundle, glob patterns) that ship with the wheels but
# are never loaded, on every OS: headers, CMake files, C++ test programs, test suites.
EXCLUDED_FILES = [
    "torch/include/*", "torch/share/*", "torch/test/*", "torch/testing/_internal/data/*",
    "torch/bin/test_*", "torch/bin/protoc*", "torch/bin/*Test", "torch/bin/*.pt*",
    "torch/bin/upgrader_models/*",
    "torch/lib/*test*", "torch/lib/*backend_with_compiler.*",
    "torch/lib/*aoti_custom_ops.*", "torch/lib/*.lib",
    "*/tests/*", "*/__pycache__/*",
    # a package's list of its installed files (torch's is 2.3 MB); importlib.metadata reads
    # METADATA for the version, never RECORD
    "*.dist-info/RECORD",
]

# Qt files never loaded. The same parts are dropped on every OS, named in each OS's layout
# of the PySide6 wheel as PyInstaller copies it: libQt6X.so.6 in PySide6/Qt/lib/ on Linux,
# Qt6X.dll in PySide6/ (plugins in PySide6/plugins/) on Windows, QtX.framework in
# PySide6/Qt/lib/ on macOS. Each OS's list is kept honest by that OS's self-test in the
# release workflow (offscreen and on its native platform plugin).
# Qt libraries: Qt Quick/QML (pyqtgraph imports them only optionally), PDF, networking,
# Wayland, EGL full-screen, OpenGL widgets, the virtual keyboard.
UNUSED_QT_LIBRARIES = [
    "Quick", "Qml", "Pdf", "Network", "OpenGLWidgets", "VirtualKeyboard",
    "Wayland", "WlShell", "EglFs",
]
# Whole plugin folders: QML debugging and linting, SQL, Designer, TLS back-ends and network
# status (no QtNetwork), printing, input/EGL device back-ends, Wayland, Lottie animations.
UNUSED_QT_PLUGIN_FOLDERS = [
    "qmltooling", "qmllint", "sqldrivers", "designer", "tls", "networkinformation",
    "printsupport", "generic", "egldeviceintegrations", "wayland-*", "vectorimageformats",
]
# Image formats the app never opens (pictures are read by Pillow; Qt reads our PNG/SVG icons).
UNUSED_QT_IMAGE_FORMATS = ["tiff", "webp", "icns", "tga", "wbmp", "pdf", "macheif", "macjp2"]
# translations: the app is English and installs no QTranslator
_QT_TRANSLATIONS = ["PySide6/Qt/translations/*", "PySide6/translations/*", "PySide6/Qt/qml/*"]


def _qt_patterns(os_key: str) -> list[str]:
    """The Qt exclusion patterns in ``os_key``'s layout (see the lists above)."""
    plugins = "PySide6/plugins" if os_key == "windows" else "PySide6/Qt/plugins"
    lib = {
        "linux": "PySide6/Qt/lib/libQt6{}*",
        "windows": "*Qt6{}*.dll",  # in PySide6/ (or at the top when PyInstaller moves it)
        "macos": "*Qt{}*.framework/*",  # QtX.framework/Versions/A/QtX and its Resources
    }[os_key]
    image = "q{}*" if os_key == "windows" else "libq{}*"
    patterns = list(_QT_TRANSLATIONS)
    patterns += [lib.format(name) for name in UNUSED_QT_LIBRARIES]
    patterns += [f"{plugins}/{folder}/*" for folder in UNUSED_QT_PLUGIN_FOLDERS]
    patterns += [f"{plugins}/imageformats/{image.format(f)}" for f in UNUSED_QT_IMAGE_FORMATS]
    # the on-screen keyboard's input method: it needs Qt Quick, dropped above
    patterns.append(f"{plugins}/platforminputcontexts/*qtvirtualkeyboard*")
    return patterns + _QT_OS_ONLY[os_key]


_QT_OS_ONLY: dict[str, list[str]] = {
    "linux": [
        # platform plugins for Wayland, EGL full screen, framebuffer, VNC, Vulkan display
        *(f"PySide6/Qt/plugins/platforms/libq{name}*" for name in (
            "wayland", "eglfs", "linuxfb", "vnc", "vkkhrdisplay", "minimalegl",
        )),
        # the GTK theme plugin drags in GTK's own libraries (cairo, pango...) for a look the
        # xdg-desktop-portal theme gives as well
        "PySide6/Qt/plugins/platformthemes/libqgtk3*",
    ],
    "windows": [
        # Direct2D platform (the app uses qwindows); Mesa's software OpenGL (20 MB), which
        # Qt loads only for OpenGL/Qt Quick when the GPU driver has none: widgets paint with
        # the raster engine
        "PySide6/plugins/platforms/qdirect2d*", "*opengl32sw.dll",
    ],
    "macos": [],
}
EXCLUDED_QT_FILES: dict[str, list[str]] = {
    os_key: _qt_patterns(os_key) for os_key in ("linux", "windows", "macos")
}

# Files that look unused by the rules above but are loaded at run time: keep them.
KEPT_FILES = ["torch/bin/torch_shm_manager*", "torch/lib/libshm*", "torch/lib/libgomp*"]
# fmt: on


def posix(dest: str) -> str:
    """A bundle destination with forward slashes (PyInstaller uses ``\\`` on Windows)."""
    return dest.replace("\\", "/")


def is_excluded(dest: str, platform: str = sys.platform) -> bool:
    """Whether a file bound for ``dest`` in the bundle is left out (kept files win)."""
    dest = posix(dest)
    if any(fnmatch.fnmatchcase(dest, pattern) for pattern in KEPT_FILES):
        return False
    patterns = EXCLUDED_FILES + EXCLUDED_QT_FILES.get(os_name(platform), [])
    # Case-sensitive on every OS (fnmatch.fnmatch folds case on Windows only), so a rule
    # means the same in the tests here as in the Windows build.
    return any(fnmatch.fnmatchcase(dest, pattern) for pattern in patterns)


def drop_excluded(entries: Iterable[TocEntry], platform: str = sys.platform) -> list[TocEntry]:
    """``entries`` (Analysis' datas or binaries) without the excluded files."""
    return [entry for entry in entries if not is_excluded(entry[0], platform)]


def strip_binaries(
    binaries: list[TocEntry], cache_dir: Path, platform: str = sys.platform
) -> list[TocEntry]:
    """Linux: strip ELF files' symbol tables into a cache, except in ``*.libs/`` folders.

    Saves ~100 MB (libtorch_cpu alone drops from 434 to 345 MB). Wheels repaired by
    auditwheel keep their vendored libraries in ``<package>.libs/`` with patched headers that
    ``strip`` corrupts (numpy's OpenBLAS then fails to load), so those are copied as they are.
    Stripped copies are cached by source path, size and mtime, so a rebuild costs nothing.
    """
    strip = shutil.which("strip")
    no_strip = os.environ.get("DRAWDIGIT_BUILD_NO_STRIP") == "1"
    if os_name(platform) != "linux" or not strip or no_strip:
        return binaries
    cache_dir.mkdir(parents=True, exist_ok=True)
    out = []
    for dest, src, kind in binaries:
        parts = Path(posix(dest)).parts
        if kind not in ("BINARY", "EXTENSION") or any(p.endswith(".libs") for p in parts[:-1]):
            out.append((dest, src, kind))
            continue
        with open(src, "rb") as f:
            if f.read(4) != b"\x7fELF":
                out.append((dest, src, kind))
                continue
        stat = os.stat(src)
        key = hashlib.sha256(f"{src}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:16]
        target = cache_dir / key / Path(src).name
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(target.suffix + ".tmp")
            result = subprocess.run([strip, "-o", str(tmp), src], capture_output=True, text=True)
            if result.returncode != 0:
                print(f"bundle_rules: strip failed for {src}, kept as is: {result.stderr.strip()}")
                out.append((dest, src, kind))
                continue
            os.replace(tmp, target)
        out.append((dest, str(target), kind))
    return out


def elf_needed(path: str) -> list[str] | None:
    """The DT_NEEDED names of a 64-bit little-endian ELF file; None if it is not one.

    A few dozen lines instead of running ``ldd`` on ~400 files (which would also resolve
    against the build machine's system rather than the bundle).
    """
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return None
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = [
        struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)
    ]
    needed = []
    for _name, kind, _flags, _addr, offset, size, link, _info, _align, entsize in sections:
        if kind != 6:  # SHT_DYNAMIC
            continue
        strtab_offset = sections[link][4]
        for pos in range(offset, offset + size, entsize or 16):
            tag, value = struct.unpack_from("<qQ", data, pos)
            if tag == 0:
                break
            if tag == 1:  # DT_NEEDED
                start = strtab_offset + value
                needed.append(data[start : data.index(b"\0", start)].decode())
    return needed


def prune_unreferenced_libraries(
    binaries: list[TocEntry], platform: str = sys.platform
) -> list[TocEntry]:
    """Linux: drop top-level shared libraries that nothing kept still links to.

    PyInstaller puts every system library a collected binary needs at the top of the
    bundle. Excluding a plugin afterwards (e.g. Qt's GTK theme) leaves its libraries
    behind, so the links are followed again from what is kept: Python extensions, the
    packages' own libraries and plugins, and libpython (loaded by the bootloader).
    """
    if os_name(platform) != "linux":
        return binaries
    by_name: dict[str, list[TocEntry]] = {}
    for dest, src, kind in binaries:
        by_name.setdefault(Path(posix(dest)).name, []).append((dest, src, kind))
    top_level = {posix(dest) for dest, _src, _kind in binaries if "/" not in posix(dest)}
    roots = [
        (dest, src)
        for dest, src, kind in binaries
        if "/" in posix(dest) or kind == "EXTENSION" or Path(dest).name.startswith("libpython")
    ]
    reached, todo = set(), list(roots)
    while todo:
        dest, src = todo.pop()
        if dest in reached:
            continue
        reached.add(dest)
        if not os.path.isfile(src):
            continue
        for name in elf_needed(src) or []:
            for dep_dest, dep_src, _kind in by_name.get(name, []):
                if dep_dest not in reached:
                    todo.append((dep_dest, dep_src))
    dropped = sorted(top_level - {posix(d) for d in reached})
    if dropped:
        print(f"bundle_rules: dropping {len(dropped)} unlinked libraries: {', '.join(dropped)}")
    return [entry for entry in binaries if posix(entry[0]) not in dropped]


def collection_modes() -> dict[str, str]:
    """Byte code only for torch, except the modules that read their own source at run time.

    torch's hook ships every module twice, as byte code and as ``.py`` (46 MB of sources),
    because some of torch reads source code. What reads it on the app's paths: the
    ``*.config`` modules (``install_config_module`` tokenizes the module's source to find
    ``@compile_ignored`` settings; imported by every optimizer via ``torch._dynamo``) and
    ``@torch.jit._overload``/``_overload_method`` users (``torch.nn.functional``, ``torch.nn.
    modules.rnn``...; without source they warn at every start). Those keep their ``.py``;
    the rest of torch is byte code only. Found by scanning torch's sources, so a new torch
    version's config modules are kept too.
    """
    modes = {"torch": "pyz", "drawdigit": "pyz+py"}  # ours: torch.jit.script needs source
    spec = importlib.util.find_spec("torch")  # locates torch without importing it
    if spec is None or spec.origin is None:
        raise SystemExit("torch is not installed in the Python that runs PyInstaller")
    root = Path(spec.origin).parent
    reads_source = re.compile(
        r"install_config_module\(|_overload_method|jit\._overload\b"
        r"|_jit_internal import (\([^)]*|[^\n]*)\b_overload\b"
    )
    for path in root.rglob("*.py"):
        relative = path.relative_to(root.parent).with_suffix("")
        if "test" in relative.parts or "testing" in relative.parts:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        if reads_source.search(text):
            name = ".".join(relative.parts)
            modes[name.removesuffix(".__init__")] = "pyz+py"
    return modes


# --------------------------------------------------------------------------- per-OS metadata


def windows_version_numbers(version: str) -> tuple[int, int, int, int]:
    """``"1.2.3rc1"`` -> ``(1, 2, 3, 0)``: the four numbers a Windows version resource holds."""
    numbers = [int(part) if part.isdigit() else 0 for part in re.split(r"[.+-]", version)]
    first, second, third, fourth = (numbers + [0, 0, 0, 0])[:4]
    return first, second, third, fourth


def windows_version_info(version: str, platform: str = sys.platform) -> Any:
    """The Windows version resource (Properties > Details); None on other OSes.

    PyInstaller's ``versioninfo`` module needs ``pefile``, which is installed on Windows
    only, hence the import in here.
    """
    if os_name(platform) != "windows":
        return None
    from PyInstaller.utils.win32.versioninfo import (
        FixedFileInfo,
        StringFileInfo,
        StringStruct,
        StringTable,
        VarFileInfo,
        VarStruct,
        VSVersionInfo,
    )

    numbers = windows_version_numbers(version)
    strings = [
        StringStruct("CompanyName", "drawdigit"),
        StringStruct("FileDescription", "drawdigit - draw a digit, a CNN recognises it"),
        StringStruct("FileVersion", version),
        StringStruct("InternalName", "drawdigit"),
        StringStruct("OriginalFilename", "drawdigit.exe"),
        StringStruct("ProductName", "drawdigit"),
        StringStruct("ProductVersion", version),
    ]
    return VSVersionInfo(
        ffi=FixedFileInfo(
            filevers=numbers,
            prodvers=numbers,
            mask=0x3F,
            flags=0x0,
            OS=0x40004,
            fileType=0x1,
            subtype=0x0,
            date=(0, 0),
        ),
        kids=[
            StringFileInfo([StringTable("040904B0", strings)]),
            VarFileInfo([VarStruct("Translation", [1033, 1200])]),
        ],
    )


# torch 2.13.0 and numpy publish arm64 wheels for macOS 14+ only: on 11-13 the app would
# start and crash in a library built for a newer system. Finder refuses it cleanly instead.
MACOS_MINIMUM = "14.0"


def macos_info_plist(version: str) -> dict[str, Any]:
    """Info.plist entries of the macOS app bundle beyond what PyInstaller writes."""
    return {
        "NSHighResolutionCapable": True,
        "CFBundleShortVersionString": version,
        "LSMinimumSystemVersion": MACOS_MINIMUM,
    }

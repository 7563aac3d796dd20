"""Packaging: resources are found in all three ways the app runs; the spec, the release
workflow, the archive script and the .desktop file are sound; and (slow) the real bundle
builds and passes its own self-test.

The resource lookup is checked in subprocesses started outside the checkout, so a path
relative to the working directory, or an import of the source tree instead of the wheel,
would show.
"""

from __future__ import annotations

import ast
import configparser
import glob
import importlib.util
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pytest

import drawdigit
from drawdigit import selftest, store

REPO = Path(__file__).resolve().parents[1]
# The build helpers import each other by name from packaging/ (build.spec says why not as
# ``packaging.<name>``), so the tests put that folder on sys.path the way the spec does.
sys.path.insert(0, str(REPO / "packaging"))
import bundle_rules  # noqa: E402
import make_archive  # noqa: E402
import make_icons  # noqa: E402
import project_version  # noqa: E402

if sys.version_info >= (3, 11):
    import tomllib
else:  # the test extra installs tomli there
    import tomli as tomllib

SPEC = REPO / "build.spec"
WORKFLOW = REPO / ".github" / "workflows" / "release.yml"
SAMPLE_NAMES = [f"digit-{d}.json" for d in range(10)]

LOOKUP_SCRIPT = (
    "import drawdigit, drawdigit.store as s; "
    "print(drawdigit.__file__); print(s.resources_dir()); print(s.bundled_model_path())"
)


def pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def run_python(code: str, cwd: Path, pythonpath: Path | None) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


# --------------------------------------------------------------------------- resource lookup


def test_resources_from_source_checkout(tmp_path: Path) -> None:
    module, resources, model = run_python(LOOKUP_SCRIPT, cwd=tmp_path, pythonpath=REPO)
    assert Path(module).resolve() == REPO / "drawdigit" / "__init__.py"
    assert Path(resources).resolve() == REPO / "resources"
    assert Path(model).is_file()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's wheel, built by hatchling the way `pip install .` builds it (offline)."""
    if importlib.util.find_spec("hatchling") is None:
        pytest.fail("hatchling is needed to build the wheel offline (it is in the test extra)")
    out = tmp_path_factory.mktemp("wheel")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
        + ["--no-index", "-q", "-w", str(out), str(REPO)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    (path,) = out.glob("drawdigit-*.whl")
    return path


def test_wheel_carries_the_resources(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in [
        "drawdigit/resources/model/drawdigit.pt",
        "drawdigit/resources/model/drawdigit.json",
        "drawdigit/resources/drawdigit.desktop",
        *(f"drawdigit/resources/samples/{name}" for name in SAMPLE_NAMES),
    ]:
        assert needed in names
    assert any(n.startswith("drawdigit/resources/icons/") for n in names)
    assert not any(n.startswith(("tests/", "resources/", "benchmarks/")) for n in names)


def test_wheel_carries_the_licence_and_the_third_party_notices(wheel: Path) -> None:
    """As PEP 639 puts them: in the .dist-info's licenses/, named in METADATA."""
    with zipfile.ZipFile(wheel) as zf:
        info = f"drawdigit-{drawdigit.__version__}.dist-info"
        for name in bundle_rules.NOTICE_FILES:
            assert zf.read(f"{info}/licenses/{name}") == (REPO / name).read_bytes(), name
        metadata = zf.read(f"{info}/METADATA").decode("utf-8")
    assert "License-Expression: MIT" in metadata.splitlines()
    assert {"License-File: LICENSE", "License-File: THIRD-PARTY-NOTICES.md"} <= set(
        metadata.splitlines()
    )


def test_resources_from_installed_wheel(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    module, resources, model = run_python(LOOKUP_SCRIPT, cwd=tmp_path, pythonpath=site)
    assert Path(module).resolve() == site / "drawdigit" / "__init__.py"
    assert Path(resources).resolve() == site / "drawdigit" / "resources"
    assert Path(model).read_bytes() == (REPO / "resources/model/drawdigit.pt").read_bytes()

    # Without its resources the installed package says where it looked.
    shutil.rmtree(site / "drawdigit" / "resources")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(site)
    result = subprocess.run(
        [sys.executable, "-c", LOOKUP_SCRIPT], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert "resources folder is missing" in result.stderr
    assert str(site / "drawdigit" / "resources") in result.stderr


def test_resources_when_frozen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """PyInstaller sets sys._MEIPASS to the bundle's data folder; it wins over the rest."""
    bundle = tmp_path / "_internal"
    shutil.copytree(REPO / "resources", bundle / "resources")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(bundle), raising=False)
    assert store.resources_dir() == bundle / "resources"
    assert store.bundled_model_path() == bundle / "resources" / "model" / "drawdigit.pt"


# --------------------------------------------------------------------------- build.spec, rules


def test_spec_only_says_what_to_build() -> None:
    """The rules live in bundle_rules; the spec is PyInstaller's build steps reading them."""
    source = SPEC.read_text(encoding="utf-8")
    tree = ast.parse(source, str(SPEC))
    assert len(source.splitlines()) <= 150
    assert not [node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)]
    calls = {
        node.func.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }
    assert {"Analysis", "PYZ", "EXE", "COLLECT", "BUNDLE"} <= calls  # one-folder + macOS app
    assert "rules.bundled_data(ROOT)" in source and "rules.EXCLUDED_MODULES" in source
    assert "a.datas += rules.licence_files(a.pure + a.scripts + a.binaries + a.datas)" in source
    assert 'ROOT / "packaging" / "launcher.py"' in source
    assert (REPO / "packaging" / "launcher.py").is_file()
    assert 'name="drawdigit"' in source


def test_packaging_folder_never_shadows_pypas_packaging() -> None:
    """PyInstaller and pip import PyPA's ``packaging``; our folder must not take its place."""
    assert not (REPO / "packaging" / "__init__.py").exists()
    result = subprocess.run(
        [sys.executable, "-c", "import packaging.version, sys; print(packaging.__file__)"],
        cwd=REPO,  # the checkout first on sys.path, as when the spec runs from here
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert REPO / "packaging" not in Path(result.stdout.strip()).resolve().parents


def test_one_version_reader_for_spec_archive_and_workflow(tmp_path: Path) -> None:
    assert project_version.read_version() == drawdigit.__version__
    script = REPO / "packaging" / "project_version.py"
    printed = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert printed.stdout == f"{drawdigit.__version__}\n"
    source = SPEC.read_text(encoding="utf-8")
    assert "read_version(ROOT)" in source and "__version__" not in source
    assert "__version__" not in (REPO / "packaging" / "make_archive.py").read_text("utf-8")
    tag_check = next(
        step
        for step in load_workflow()["jobs"]["build"]["steps"]
        if step.get("name") == "Check the tag matches the package version"
    )
    assert "version=$(python packaging/project_version.py)" in tag_check["run"]

    # Another checkout's version, and a clear error where there is none.
    (tmp_path / "drawdigit").mkdir()
    init = tmp_path / "drawdigit" / "__init__.py"
    init.write_text('"""x"""\n\n__version__ = "2.0.1rc1"\n', encoding="utf-8")
    assert project_version.read_version(tmp_path) == "2.0.1rc1"
    init.write_text("VERSION = 2\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="no __version__"):
        project_version.read_version(tmp_path)


def test_bundle_ships_the_resources_where_the_frozen_lookup_finds_them(tmp_path: Path) -> None:
    (source, dest), *notices = bundle_rules.bundled_data(REPO)
    assert Path(source) == REPO / "resources" and dest == "resources"
    # the licence and the notices at the top of the bundle's data folder
    assert notices == [(str(REPO / "LICENSE"), "."), (str(REPO / "THIRD-PARTY-NOTICES.md"), ".")]
    (tmp_path / "resources").mkdir()
    with pytest.raises(SystemExit, match="no bundled weights"):
        bundle_rules.bundled_data(tmp_path)
    (tmp_path / "resources" / "model").mkdir()
    (tmp_path / "LICENSE").write_text("MIT\n")
    with pytest.raises(SystemExit, match="THIRD-PARTY-NOTICES.md is missing"):
        bundle_rules.bundled_data(tmp_path)


# --------------------------------------------------------------------------- licences


def test_licence_is_the_mit_text_pyproject_names() -> None:
    text = (REPO / "LICENSE").read_text(encoding="utf-8")
    assert pyproject()["project"]["license"] == "MIT"
    assert text.startswith("MIT License\n\nCopyright (c) 2026 the drawdigit authors\n")
    assert "Permission is hereby granted, free of charge, to any person obtaining a copy" in text
    assert text.rstrip().endswith("OTHER DEALINGS IN THE\nSOFTWARE.")


def test_notices_name_every_runtime_dependency_and_carry_the_lgpl_in_full() -> None:
    notices = (REPO / "THIRD-PARTY-NOTICES.md").read_text(encoding="utf-8")
    lowered = notices.lower()
    for requirement in pyproject()["project"]["dependencies"]:
        name = re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0]
        shown = {"PySide6-Essentials": "PySide6", "torch": "PyTorch"}.get(name, name)
        assert shown.lower() in lowered, f"{name} is not in THIRD-PARTY-NOTICES.md"
    for data_set in ("MNIST", "UNIPEN", "CC BY-SA 3.0", "CC BY 4.0", "LeCun", "Guyon"):
        assert data_set in notices, data_set
    # The full texts the LGPL asks to accompany the libraries: itself and the GPL.
    lgpl = notices.index("GNU LESSER GENERAL PUBLIC LICENSE\n                       Version 3")
    gpl = notices.index("GNU GENERAL PUBLIC LICENSE\n                       Version 3")
    assert "0. Additional Definitions." in notices[lgpl:gpl]
    assert "END OF TERMS AND CONDITIONS" in notices[gpl:]
    assert "How to Apply These Terms to Your New Programs" in notices[gpl:]


def test_licence_files_follow_what_the_bundle_keeps(tmp_path: Path) -> None:
    """A package is licensed in the bundle when one of its installed files is kept; its own
    licence files go to licenses/<name>/, Python's and PyInstaller's always."""
    import numpy
    import PIL
    import PySide6

    pillow_ext = next(Path(PIL.__file__).parent.glob("_imaging.*"))
    stray = tmp_path / "stray.py"
    stray.write_text("")
    entries = [
        ("numpy/__init__.py", numpy.__file__, "PYMODULE"),
        ("PIL/_imaging.so", str(pillow_ext), "EXTENSION"),
        ("PySide6/__init__.py", PySide6.__file__, "PYMODULE"),  # its wheel has no licence file
        ("stray.py", str(stray), "PYMODULE"),  # no package's
    ]
    out = bundle_rules.licence_files(entries, platform="win32")
    dests = {dest: src for dest, src, kind in out if kind == "DATA"}
    assert len(dests) == len(out)
    assert {"licenses/numpy/LICENSE.txt", "licenses/pillow/LICENSE"} <= set(dests)
    assert "licenses/pyinstaller/COPYING.txt" in dests  # the bootloader: in every bundle
    assert (
        Path(dests["licenses/python/LICENSE.txt"])
        .read_text(encoding="utf-8")
        .startswith("A. HISTORY OF THE SOFTWARE")
    )
    assert {dest.split("/")[1] for dest in dests} == {"numpy", "pillow", "pyinstaller", "python"}
    # numpy's licence file covers the libraries its wheel builds in
    assert "libgfortran" in Path(dests["licenses/numpy/LICENSE.txt"]).read_text("utf-8")
    assert all(Path(src).is_file() for src in dests.values())


@pytest.mark.skipif(not shutil.which("dpkg"), reason="dpkg: Debian and Ubuntu build machines")
def test_system_libraries_bring_their_copyright_files() -> None:
    # zlib, on every Debian or Ubuntu machine, where PyInstaller finds it (multiarch folder)
    library = sorted(glob.glob("/lib/*/libz.so.1") + glob.glob("/usr/lib/*/libz.so.1"))[0]
    (package, copyright_file), *_ = bundle_rules.system_copyright_files([library])
    assert package.startswith("zlib") and copyright_file == f"/usr/share/doc/{package}/copyright"
    assert bundle_rules.system_copyright_files([str(SPEC)]) == []  # not a system file
    out = bundle_rules.licence_files([("libz.so.1", library, "BINARY")], platform="linux")
    assert (f"licenses/system/{package}/copyright", copyright_file, "DATA") in out


def test_icon_master_is_the_svg_rendered_at_1024_px() -> None:
    """The committed master is what make_icons renders from app.svg now (not a stale one)."""
    import numpy as np
    from PIL import Image

    fresh = Image.open(io.BytesIO(make_icons.render_svg(make_icons.SVG, 1024)))
    master = Image.open(make_icons.MASTER)
    assert master.size == fresh.size == (1024, 1024) and master.mode == "RGBA"
    a = np.asarray(master, dtype=np.int16)
    b = np.asarray(fresh.convert("RGBA"), dtype=np.int16)
    assert np.abs(a - b).mean() < 1.0  # anti-aliasing may differ by a level between Qt versions
    assert a[0, 0, 3] == 0 and a[512, 512, 3] == 255  # transparent corner, opaque tile


def test_icon_per_os(tmp_path: Path) -> None:
    from PIL import Image

    resources = REPO / "resources"
    assert bundle_rules.app_icon(resources, tmp_path / "linux", "linux") is None  # .desktop's

    ico = bundle_rules.app_icon(resources, tmp_path / "win", "win32")
    assert ico == str(tmp_path / "win" / "drawdigit.ico")
    with Image.open(ico) as image:
        assert {(16, 16), (32, 32), (48, 48), (256, 256)} <= image.info["sizes"]

    icns = bundle_rules.app_icon(resources, tmp_path / "mac", "darwin")
    assert icns == str(tmp_path / "mac" / "drawdigit.icns")
    with Image.open(icns) as image:
        assert image.size == (1024, 1024)  # the Retina 512@2x entry
        assert {(512, 512, 2), (128, 128, 1), (16, 16, 2)} <= set(image.info["sizes"])
        image.load()
        assert image.getpixel((512, 512))[3] == 255  # the tile, not a blank page

    # No master: a build without an icon, said aloud.
    (tmp_path / "bare" / "icons").mkdir(parents=True)
    assert bundle_rules.app_icon(tmp_path / "bare", tmp_path / "x", "win32") is None


def test_macos_app_refuses_systems_older_than_its_wheels() -> None:
    plist = bundle_rules.macos_info_plist("1.2.3")
    assert plist["LSMinimumSystemVersion"] == "14.0"
    assert plist["CFBundleShortVersionString"] == "1.2.3"
    assert "macOS 14" in (REPO / "README.md").read_text(encoding="utf-8")


def test_rules_trim_unused_files_but_keep_the_known_traps() -> None:
    for kept in [
        "torch/bin/torch_shm_manager",
        "torch/lib/libshm.so",
        "torch/lib/libgomp.so.1",
        "torch/lib/libtorch_cpu.so",
        "torch/_dynamo/config.py",
        "PySide6/Qt/plugins/platforms/libqxcb.so",
        "PySide6/Qt/plugins/platforms/libqoffscreen.so",
        "numpy.libs/libscipy_openblas64_-32a4b2a6.so",
        "resources/model/drawdigit.pt",
        "torch-2.13.0+cpu.dist-info/METADATA",
    ]:
        assert not bundle_rules.is_excluded(kept, "linux"), kept
    for dropped in [
        "torch/include/ATen/ATen.h",
        "torch/bin/test_api",
        "torch/lib/libtorchbind_test.so",
        "torch\\test\\cpp_extensions\\x.py",
        "PySide6/Qt/translations/qtbase_de.qm",
        "PySide6/Qt/plugins/platformthemes/libqgtk3.so",
        "numpy/_core/tests/test_api.py",
        "torch-2.13.0+cpu.dist-info/RECORD",
    ]:
        assert bundle_rules.is_excluded(dropped, "linux"), dropped
    # torch's headers go on every OS, whatever the separator.
    assert bundle_rules.is_excluded("torch\\include\\ATen\\ATen.h", "win32")
    entries = [("torch/include/a.h", "/x/a.h", "DATA"), ("torch/lib/libshm.so", "/x/s", "BINARY")]
    assert bundle_rules.drop_excluded(entries, "linux") == entries[1:]


# Real destination names from each OS's PySide6-Essentials 6.11 wheel as PyInstaller lays
# them out: what the app needs (kept) and what each OS's rules drop.
QT_FILES = {
    "linux": {
        "kept": [
            "PySide6/Qt/lib/libQt6Core.so.6",
            "PySide6/Qt/lib/libQt6Widgets.so.6",
            "PySide6/Qt/lib/libQt6Svg.so.6",
            "PySide6/Qt/lib/libQt6XcbQpa.so.6",
            "PySide6/Qt/lib/libQt6DBus.so.6",
            "PySide6/Qt/plugins/platforms/libqxcb.so",
            "PySide6/Qt/plugins/platforms/libqoffscreen.so",
            "PySide6/Qt/plugins/imageformats/libqjpeg.so",
            "PySide6/Qt/plugins/imageformats/libqsvg.so",
            "PySide6/Qt/plugins/iconengines/libqsvgicon.so",
            "PySide6/Qt/plugins/platforminputcontexts/libcomposeplatforminputcontextplugin.so",
        ],
        "dropped": [
            "PySide6/Qt/lib/libQt6Quick.so.6",
            "PySide6/Qt/lib/libQt6QmlModels.so.6",
            "PySide6/Qt/lib/libQt6Network.so.6",
            "PySide6/Qt/lib/libQt6Pdf.so.6",
            "PySide6/Qt/translations/qtbase_de.qm",
            "PySide6/Qt/plugins/platforms/libqwayland-egl.so",
            "PySide6/Qt/plugins/platformthemes/libqgtk3.so",
            "PySide6/Qt/plugins/platforminputcontexts/libqtvirtualkeyboardplugin.so",
            "PySide6/Qt/plugins/imageformats/libqtiff.so",
            "PySide6/Qt/plugins/tls/libqopensslbackend.so",
        ],
    },
    "win32": {
        "kept": [
            "PySide6/Qt6Core.dll",
            "PySide6/Qt6Gui.dll",
            "PySide6/Qt6Widgets.dll",
            "PySide6/Qt6Svg.dll",
            "PySide6/pyside6.abi3.dll",
            "PySide6/QtCore.pyd",
            "PySide6/plugins/platforms/qwindows.dll",
            "PySide6/plugins/platforms/qoffscreen.dll",
            "PySide6/plugins/imageformats/qjpeg.dll",
            "PySide6/plugins/imageformats/qsvg.dll",
            "PySide6/plugins/iconengines/qsvgicon.dll",
            "PySide6/plugins/styles/qmodernwindowsstyle.dll",
            "PySide6/msvcp140.dll",
        ],
        "dropped": [
            "PySide6/Qt6Quick.dll",
            "PySide6/Qt6QmlModels.dll",
            "PySide6/Qt6Network.dll",
            "PySide6/Qt6Pdf.dll",
            "PySide6/Qt6OpenGLWidgets.dll",
            "PySide6/opengl32sw.dll",
            "PySide6/translations/qtbase_de.qm",
            "PySide6/plugins/imageformats/qtiff.dll",
            "PySide6/plugins/tls/qschannelbackend.dll",
            "PySide6/plugins/platforms/qdirect2d.dll",
            "PySide6/plugins/networkinformation/qnetworklistmanager.dll",
            "PySide6/plugins/platforminputcontexts/qtvirtualkeyboardplugin.dll",
            "PySide6/plugins/vectorimageformats/qlottievectorimage.dll",
        ],
    },
    "darwin": {
        "kept": [
            "PySide6/Qt/lib/QtCore.framework/Versions/A/QtCore",
            "PySide6/Qt/lib/QtGui.framework/Versions/A/QtGui",
            "PySide6/Qt/lib/QtWidgets.framework/Resources/Info.plist",
            "PySide6/Qt/lib/QtSvg.framework/Versions/A/QtSvg",
            "PySide6/Qt/lib/QtDBus.framework/Versions/A/QtDBus",
            "PySide6/Qt/plugins/platforms/libqcocoa.dylib",
            "PySide6/Qt/plugins/platforms/libqoffscreen.dylib",
            "PySide6/Qt/plugins/imageformats/libqjpeg.dylib",
            "PySide6/Qt/plugins/styles/libqmacstyle.dylib",
        ],
        "dropped": [
            "PySide6/Qt/lib/QtQuick.framework/Versions/A/QtQuick",
            "PySide6/Qt/lib/QtQmlModels.framework/Versions/A/QtQmlModels",
            "PySide6/Qt/lib/QtNetwork.framework/Resources/Info.plist",
            "PySide6/Qt/lib/QtPdf.framework/Versions/A/QtPdf",
            "PySide6/Qt/translations/qtbase_de.qm",
            "PySide6/Qt/plugins/imageformats/libqtiff.dylib",
            "PySide6/Qt/plugins/tls/libqsecuretransportbackend.dylib",
            "PySide6/Qt/plugins/imageformats/libqmacheif.dylib",
            "PySide6/Qt/plugins/platforminputcontexts/libqtvirtualkeyboardplugin.dylib",
        ],
    },
}


@pytest.mark.parametrize("platform", sorted(QT_FILES))
def test_qt_trimming_in_each_oss_layout(platform: str) -> None:
    for kept in QT_FILES[platform]["kept"]:
        assert not bundle_rules.is_excluded(kept, platform), kept
    for dropped in QT_FILES[platform]["dropped"]:
        assert bundle_rules.is_excluded(dropped, platform), dropped
        windows_form = dropped.replace("/", "\\")  # PyInstaller's separator there
        assert bundle_rules.is_excluded(windows_form, platform), windows_form
    # Each OS's names are trimmed on that OS: a DLL name means nothing on Linux, and the
    # rules are case-sensitive everywhere (as the tests here see them).
    assert not bundle_rules.is_excluded("PySide6/Qt6Quick.dll", "linux")
    assert not bundle_rules.is_excluded("PySide6/qt6quick.DLL", "win32")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ELF files only on Linux")
def test_rules_read_elf_dependencies() -> None:
    import torch

    torch_c = next(Path(torch.__file__).parent.glob("_C.*.so"))
    assert "libtorch_python.so" in bundle_rules.elf_needed(str(torch_c))
    assert bundle_rules.elf_needed(str(REPO / "build.spec")) is None
    if shutil.which("readelf"):
        out = subprocess.run(["readelf", "-d", str(torch_c)], capture_output=True, text=True)
        expected = [
            line.split("[", 1)[1].rstrip("]")
            for line in out.stdout.splitlines()
            if "(NEEDED)" in line
        ]
        assert bundle_rules.elf_needed(str(torch_c)) == expected


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ELF files only on Linux")
def test_rules_drop_top_level_libraries_nothing_links_to() -> None:
    """A library left behind by an excluded plugin goes; one a kept extension needs stays."""
    import torch

    lib = Path(torch.__file__).parent / "lib"
    torch_c = next(Path(torch.__file__).parent.glob("_C.*.so"))
    binaries = [
        ("torch/_C.so", str(torch_c), "EXTENSION"),
        ("libtorch_python.so", str(lib / "libtorch_python.so"), "BINARY"),
        ("libc10.so", str(lib / "libc10.so"), "BINARY"),  # reached through libtorch_python
        ("libleftover.so", str(REPO / "build.spec"), "BINARY"),  # nothing needs it
    ]
    kept = bundle_rules.prune_unreferenced_libraries(binaries, "linux")
    assert [dest for dest, _src, _kind in kept] == [
        "torch/_C.so",
        "libtorch_python.so",
        "libc10.so",
    ]
    assert bundle_rules.prune_unreferenced_libraries(binaries, "win32") == binaries


def test_rules_keep_sources_only_where_torch_reads_them() -> None:
    modes = bundle_rules.collection_modes()
    assert modes["torch"] == "pyz"
    for needs_source in ["torch._dynamo.config", "torch._inductor.config", "torch.nn.functional"]:
        assert modes[needs_source] == "pyz+py", needs_source
    assert modes["drawdigit"] == "pyz+py"
    assert "torch.nn.modules.linear" not in modes


def test_windows_version_numbers() -> None:
    assert bundle_rules.windows_version_numbers("0.1.0") == (0, 1, 0, 0)
    assert bundle_rules.windows_version_numbers("2.10.3-rc1") == (2, 10, 3, 0)
    assert bundle_rules.windows_version_numbers("1.2.3.4.5") == (1, 2, 3, 4)
    assert bundle_rules.windows_version_info("0.1.0", "linux") is None


# --------------------------------------------------------------------------- release workflow


def load_workflow() -> dict:
    yaml = pytest.importorskip("yaml")
    data = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    # YAML 1.1 reads the key `on` as True; GitHub reads it as "on".
    data["on"] = data.pop(True, data.get("on"))
    return data


def test_workflow_builds_self_tests_and_releases_on_tags() -> None:
    workflow = load_workflow()
    assert workflow["on"]["push"]["tags"] == ["v*"]
    build, release = workflow["jobs"]["build"], workflow["jobs"]["release"]
    oses = [entry["os"] for entry in build["strategy"]["matrix"]["include"]]
    assert {os_.split("-")[0] for os_ in oses} == {"ubuntu", "windows", "macos"}
    for entry in build["strategy"]["matrix"]["include"]:
        cpu_index = "download.pytorch.org/whl/cpu" in entry["torch-index"]
        assert cpu_index == (not entry["os"].startswith("macos")), entry
    steps = build["steps"]
    uses = [step.get("uses", "") for step in steps]
    assert any(u.startswith("actions/setup-python") for u in uses)
    setup = next(s for s in steps if s.get("uses", "").startswith("actions/setup-python"))
    assert str(setup["with"]["python-version"]) == "3.11"
    scripts = "\n".join(step.get("run", "") for step in steps)
    assert "pyinstaller --noconfirm build.spec" in scripts
    assert '"torch==${TORCH_VERSION}"' in scripts and workflow["env"]["TORCH_VERSION"] == "2.13.0"
    assert '".[build]"' in scripts
    self_test = next(s for s in steps if s.get("name") == "Self-test (offscreen)")
    assert self_test["env"]["QT_QPA_PLATFORM"] == "offscreen"
    assert "--self-test" in self_test["run"] and "dist/drawdigit/drawdigit" in self_test["run"]
    assert "xvfb-run" in scripts and "packaging/make_archive.py" in scripts
    assert release["needs"] == "build"
    assert "refs/tags/v" in release["if"]
    assert release["permissions"]["contents"] == "write"
    assert any(
        s.get("uses", "").startswith("softprops/action-gh-release") for s in release["steps"]
    )


def test_workflow_installs_reproducibly_and_never_waits_an_hour() -> None:
    """setuptools before torch, PyInstaller pinned, pip cached; every self-test step has a
    short timeout, and Windows runs it through the console launcher (output in the log)."""
    build = load_workflow()["jobs"]["build"]
    steps = build["steps"]
    setup = next(s for s in steps if s.get("uses", "").startswith("actions/setup-python"))
    assert setup["with"]["cache"] == "pip"
    install = next(s for s in steps if "torch==" in s.get("run", ""))["run"]
    assert install.index("--upgrade pip setuptools") < install.index('"torch==')
    (pin,) = [
        d for d in pyproject()["project"]["optional-dependencies"]["build"] if "pyinstaller==" in d
    ]
    assert pin.startswith("pyinstaller==") and pin.split("==")[1].count(".") == 2

    self_tests = [s for s in steps if "--self-test" in s.get("run", "")]
    assert len(self_tests) >= 6
    for step in self_tests:
        assert 0 < step["timeout-minutes"] <= 10, step["name"]
    assert build["timeout-minutes"] <= 60
    offscreen = next(s for s in steps if s.get("name") == "Self-test (offscreen)")
    assert "drawdigit-cli.exe" in offscreen["run"]
    for runner_os in ("Windows", "macOS"):  # the native platform plugin, not only offscreen
        assert any(
            runner_os in s.get("if", "") and "QT_QPA_PLATFORM" not in s.get("env", {})
            for s in self_tests
        ), runner_os


def test_workflow_checks_what_the_user_unpacks() -> None:
    """The archive is unpacked as a user would and self-tested; on macOS with ditto, then
    the ad-hoc signature is verified strictly and the minimum macOS version read back."""
    steps = load_workflow()["jobs"]["build"]["steps"]
    names = [s.get("name", "") for s in steps]
    unpacked = steps[names.index("Self-test of the unpacked archive")]
    assert names.index("Archive") < names.index("Self-test of the unpacked archive")
    script = unpacked["run"]
    assert "tar -xJf release/*.tar.xz" in script
    ditto = script.index("ditto -x -k release/*.zip unpacked")
    assert ditto < script.index("codesign --verify --deep --strict")
    assert "LSMinimumSystemVersion" in script and '"14.0"' in script
    assert script.count("--self-test") == 3  # Linux, Windows (console), macOS
    size = next(s for s in steps if "--size-only" in s.get("run", ""))
    assert "GITHUB_STEP_SUMMARY" in size["run"]


def test_workflow_matches_githubs_schema() -> None:
    pytest.importorskip("check_jsonschema", reason="check-jsonschema is in the test extra")
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows"]
        + [str(WORKFLOW)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --------------------------------------------------------------------------- archive, .desktop


@pytest.mark.parametrize("fmt", ["tar.xz", "tar.gz", "zip"])
def test_archive_keeps_one_folder_links_and_modes(tmp_path: Path, fmt: str) -> None:
    app = tmp_path / "dist" / "drawdigit"
    (app / "_internal" / "lib").mkdir(parents=True)
    (app / "drawdigit").write_bytes(b"\x7fELF launcher")
    (app / "drawdigit").chmod(0o755)
    (app / "_internal" / "lib" / "libreal.so.1").write_bytes(b"library")
    link = app / "_internal" / "libreal.so.1"
    if sys.platform != "win32":
        link.symlink_to("lib/libreal.so.1")
    archive = make_archive.make_archive(tmp_path / "dist", tmp_path / "out", fmt, level=1)
    version = drawdigit.__version__
    assert archive.name == f"drawdigit-{version}-{make_archive.platform_tag()}.{fmt}"
    unpacked = tmp_path / "unpacked"
    if fmt.startswith("tar."):
        with tarfile.open(archive) as tar:
            tar.extractall(unpacked, filter="tar")
    else:
        with zipfile.ZipFile(archive) as zf:
            names = zf.namelist()
            zf.extractall(unpacked)
            assert all(name.startswith("drawdigit/") for name in names)
            if (
                sys.platform != "win32"
            ):  # zipfile does not restore links or modes: check the entries
                info = zf.getinfo("drawdigit/_internal/libreal.so.1")
                assert (info.external_attr >> 16) & 0o170000 == 0o120000
                assert zf.read(info) == b"lib/libreal.so.1"
                assert (zf.getinfo("drawdigit/drawdigit").external_attr >> 16) & 0o111
    assert sorted(p.name for p in unpacked.iterdir()) == ["drawdigit"]
    assert (
        unpacked / "drawdigit" / "_internal" / "lib" / "libreal.so.1"
    ).read_bytes() == b"library"
    if fmt == "tar.xz" and shutil.which("tar") and shutil.which("xz"):
        # what users run: the system's tar and xz read the BCJ-filtered stream too
        by_tar = tmp_path / "by-tar"
        by_tar.mkdir()
        subprocess.run(["tar", "-xJf", str(archive), "-C", str(by_tar)], check=True)
        assert (by_tar / "drawdigit" / "_internal" / "lib" / "libreal.so.1").read_bytes() == (
            b"library"
        )
    if fmt.startswith("tar.") and sys.platform != "win32":
        extracted_link = unpacked / "drawdigit" / "_internal" / "libreal.so.1"
        assert extracted_link.is_symlink() and extracted_link.read_bytes() == b"library"
        assert os.access(unpacked / "drawdigit" / "drawdigit", os.X_OK)


def test_archive_refuses_a_missing_build(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="no built app"):
        make_archive.make_archive(tmp_path / "dist", tmp_path / "out")
    with pytest.raises(SystemExit, match="unknown archive format 'rar'"):
        make_archive.make_archive(tmp_path / "dist", tmp_path / "out", "rar")


def test_xz_uses_the_x86_branch_filter_on_x86_only() -> None:
    import lzma

    ids = [f["id"] for f in make_archive.xz_filters(9, "x86_64")]
    assert ids == [lzma.FILTER_X86, lzma.FILTER_LZMA2]
    assert [f["id"] for f in make_archive.xz_filters(6, "arm64")] == [lzma.FILTER_LZMA2]
    assert make_archive.xz_filters(6, "arm64")[0]["preset"] == 6


def test_archive_format_per_os() -> None:
    """Linux: .tar.xz (every tar opens it, far smaller); Windows and macOS: .zip."""
    expected = "tar.xz" if sys.platform.startswith("linux") else "zip"
    assert make_archive.default_format() == expected


def test_desktop_file() -> None:
    path = REPO / "resources" / "drawdigit.desktop"
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive
    parser.read_string(path.read_text(encoding="utf-8"))
    entry = parser["Desktop Entry"]
    assert entry["Type"] == "Application"
    assert entry["Name"] == "drawdigit" and entry["Exec"].split()[0] == "drawdigit"
    assert entry["Icon"] == "drawdigit" and entry["Terminal"] == "false"


def test_ci_installs_what_the_tests_skip_without() -> None:
    """The tests that skip where a tool or font is missing do run in CI: .ci/run installs
    them (desktop-file-validate here, DejaVu Sans for the not-a-digit checks)."""
    script = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    install = script[script.index("apt-get install") : script.index("\nfi\n")]
    for package in ("desktop-file-utils", "fonts-dejavu-core"):
        assert re.search(rf"\s{re.escape(package)}\s", install), package


@pytest.mark.skipif(
    not shutil.which("desktop-file-validate"),
    reason="desktop-file-validate is not installed (desktop-file-utils; .ci/run installs it)",
)
def test_desktop_file_passes_the_freedesktop_validator(tmp_path: Path) -> None:
    path = REPO / "resources" / "drawdigit.desktop"
    result = subprocess.run(["desktop-file-validate", str(path)], capture_output=True, text=True)
    assert result.returncode == 0 and "error" not in result.stdout, result.stdout
    # the validator does find errors: a Type it does not know
    broken = tmp_path / "broken.desktop"
    broken.write_text(path.read_text(encoding="utf-8").replace("Type=Application", "Type=App"))
    result = subprocess.run(["desktop-file-validate", str(broken)], capture_output=True, text=True)
    assert result.returncode != 0 and "error" in result.stdout


# --------------------------------------------------------------------------- the real bundle


def _start_xvfb() -> tuple[subprocess.Popen, str] | None:
    """A private X server, or None where Xvfb is not installed."""
    if not shutil.which("Xvfb"):
        return None
    for number in range(140, 160):
        if Path(f"/tmp/.X11-unix/X{number}").exists() or Path(f"/tmp/.X{number}-lock").exists():
            continue
        server = subprocess.Popen(
            ["Xvfb", f":{number}", "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and server.poll() is None:
            if Path(f"/tmp/.X11-unix/X{number}").exists():
                return server, f":{number}"
            time.sleep(0.05)
        server.kill()
        server.wait()
    return None


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_bundle_builds_and_passes_its_self_test(tmp_path: Path) -> None:
    if importlib.util.find_spec("PyInstaller") is None:
        pytest.fail("PyInstaller is not installed; it is in the test extra")
    dist, work = tmp_path / "dist", tmp_path / "work"
    build = subprocess.run(
        [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN"]
        + ["--distpath", str(dist), "--workpath", str(work), str(SPEC)],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-6000:]
    exe = dist / "drawdigit" / ("drawdigit.exe" if sys.platform == "win32" else "drawdigit")
    assert exe.is_file()
    internal = dist / "drawdigit" / "_internal"
    kept = ["resources/model/drawdigit.pt", "resources/samples/digit-0.json"]
    kept += ["LICENSE", "THIRD-PARTY-NOTICES.md", "licenses/python/LICENSE.txt"]
    kept += ["licenses/torch/LICENSE", "licenses/numpy/LICENSE.txt", "licenses/pillow/LICENSE"]
    kept += ["licenses/pyinstaller/COPYING.txt"]
    if sys.platform != "win32":
        kept.append("torch/bin/torch_shm_manager")  # torch starts it for shared memory
    for path in kept:
        assert (internal / path).exists(), path
    assert not (internal / "torch" / "include").exists()
    for name in bundle_rules.NOTICE_FILES:
        assert (internal / name).read_bytes() == (REPO / name).read_bytes()
    # every package the bundle carries licence files of is named in the notices
    notices = (REPO / "THIRD-PARTY-NOTICES.md").read_text(encoding="utf-8").lower()
    packages = {p.name for p in (internal / "licenses").iterdir()} - {"python", "system"}
    assert {"torch", "numpy", "scipy", "pillow", "certifi", "pyqtgraph"} <= packages
    assert not [name for name in packages if name not in notices], packages
    if sys.platform.startswith("linux") and shutil.which("dpkg"):
        assert list((internal / "licenses" / "system").glob("*/copyright"))

    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path / "config"))
    env.pop("DRAWDIGIT_MNIST_DIR", None)
    runs = {"offscreen": env}
    xvfb = _start_xvfb() if sys.platform.startswith("linux") else None
    if xvfb is not None:
        runs["xcb (Xvfb)"] = dict(env, QT_QPA_PLATFORM="xcb", DISPLAY=xvfb[1])
    try:
        for platform_name, run_env in runs.items():
            result = subprocess.run(
                [str(exe), "--self-test"],
                cwd=tmp_path,
                env=run_env,
                capture_output=True,
                text=True,
                timeout=600,
            )
            report = result.stdout + result.stderr
            assert result.returncode == 0, f"{platform_name}:\n{report}"
            assert "frozen app" in result.stdout
            assert result.stdout.count("\nOK  ") == len(selftest.CHECKS), report
            assert "self-test passed" in result.stdout
    finally:
        if xvfb is not None:
            xvfb[0].kill()
            xvfb[0].wait()

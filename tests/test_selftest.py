"""``drawdigit --self-test`` from source, and that it fails loudly when something is broken.

The failure cases run against a copy of ``resources/`` that the lookup finds the way it finds
a frozen app's (``sys._MEIPASS``), so the real files are never touched.
"""

from __future__ import annotations

import io
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from drawdigit import selftest
from drawdigit.strokes import load_drawing

REPO = Path(__file__).resolve().parents[1]


def test_bundled_samples_are_pen_drawings_of_each_digit() -> None:
    folder = REPO / "resources" / "samples"
    assert sorted(p.name for p in folder.glob("*.json")) == [f"digit-{d}.json" for d in range(10)]
    for digit in range(10):
        drawing = load_drawing(folder / f"digit-{digit}.json")
        assert (drawing.width, drawing.height) == (280, 280)
        assert 1 <= len(drawing.strokes) <= 3 and drawing.point_count > 50
        for stroke in drawing.strokes:
            gaps = [math.dist(a, b) for a, b in zip(stroke, stroke[1:], strict=False)]
            assert max(gaps) <= 3.0, f"digit-{digit}: pen jumps {max(gaps):.1f} px"
            assert all(0 <= x <= 280 and 0 <= y <= 280 for x, y in stroke)


def test_self_test_command_passes_from_source(tmp_path: Path) -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path / "cfg"))
    env.pop("DRAWDIGIT_MNIST_DIR", None)  # no MNIST: it trains on the bundled samples
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    # The user's settings (Qt keeps them here on Linux) must come out of it unchanged.
    settings = tmp_path / "cfg" / "drawdigit" / "drawdigit.conf"
    settings.parent.mkdir(parents=True)
    settings.write_text("[window]\ngeometry=@ByteArray(kept)\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "drawdigit", "--self-test"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    lines = out.splitlines()
    assert lines[0].startswith("drawdigit ") and "from source" in lines[0]
    names = [name for name, _check in selftest.CHECKS]
    for name, line in zip(names, lines[1 : 1 + len(names)], strict=True):
        assert line.startswith("OK    ") and name in line, line
    assert "10/10 recognised" in out
    assert "6,209 digits, 22,765 letters and symbols, 5,748 made not-digits" in out
    assert "parameters, no torch" in out  # the recognition checks ran before torch loaded
    assert "shows 7 for digit-7.json" in out
    assert "made from the bundled samples" in out
    assert "CA certificates from certifi (offline)" in out
    assert lines[-1].startswith(f"self-test passed: {len(names)}/{len(names)}")
    if sys.platform.startswith("linux"):
        assert "geometry=@ByteArray(kept)" in settings.read_text(encoding="utf-8")
        assert "last_dir" not in settings.read_text(encoding="utf-8")


def test_training_check_uses_mnist_when_found(
    mnist_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRAWDIGIT_MNIST_DIR", str(mnist_dir))
    (result,) = selftest.iter_self_test([("training", selftest.check_training)])
    assert result.ok, result.detail
    assert f"{selftest.TRAIN_IMAGES} MNIST images from {mnist_dir}" in result.detail


@pytest.fixture
def bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of resources/ that the lookup uses, as in a frozen app."""
    root = tmp_path / "_internal"
    shutil.copytree(REPO / "resources", root / "resources")
    monkeypatch.setattr(sys, "_MEIPASS", str(root), raising=False)
    return root / "resources"


QUICK_CHECKS = [c for c in selftest.CHECKS if c[0] not in ("main window", "training")]


def test_a_misread_sample_fails_and_is_named(bundle: Path) -> None:
    shutil.copy(bundle / "samples" / "digit-1.json", bundle / "samples" / "digit-4.json")
    out = io.StringIO()
    assert selftest.run_self_test(out, QUICK_CHECKS) == 1
    report = out.getvalue()
    assert "OK    model" in report
    assert "FAIL  sample drawings" in report and "digit-4.json read as 1" in report
    assert f"self-test FAILED: sample drawings (1/{len(QUICK_CHECKS)})" in report


def test_missing_sample_and_damaged_model_fail_every_dependent_check(bundle: Path) -> None:
    (bundle / "samples" / "digit-9.json").unlink()
    model = bundle / "model" / "drawdigit.pt"
    model.write_bytes(model.read_bytes()[:1000])
    results = {r.name: r for r in selftest.iter_self_test(QUICK_CHECKS)}
    assert not results["resources"].ok and "digit-9.json" in results["resources"].detail
    assert not results["model"].ok and "drawdigit.pt" in results["model"].detail
    assert not results["sample drawings"].ok
    assert results["sample drawings"].detail == "no model to classify with"
    assert not results["MNIST-like image"].ok


def test_damaged_or_missing_pen_ink_fails_its_check_and_says_which(bundle: Path) -> None:
    """The packaged app trains nothing in its self-test, but checks the shipped pen ink
    that every new model's head is fitted on."""
    data = bundle / "data"
    letters = data / "pen-notdigits.npz"
    letters.write_bytes(letters.read_bytes()[:-100] + bytes(100))
    (result,) = selftest.iter_self_test([("pen ink", selftest.check_pen_ink)])
    assert not result.ok and "pen-notdigits.npz" in result.detail
    assert "checksum" in result.detail
    letters.unlink()
    (result,) = selftest.iter_self_test([("pen ink", selftest.check_pen_ink)])
    assert not result.ok and "pen-notdigits.npz" in result.detail


def test_self_test_runs_without_stdout(monkeypatch: pytest.MonkeyPatch) -> None:
    """A windowed app on Windows has sys.stdout None: the exit status must still come."""
    monkeypatch.setattr(sys, "stdout", None)
    assert selftest.run_self_test(checks=[("resources", selftest.check_resources)]) == 0


def test_https_check_fails_without_ca_certificates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bundle whose certifi lost its CA file (a data file PyInstaller must collect)."""
    import certifi

    monkeypatch.setattr(certifi, "where", lambda: str(tmp_path / "missing" / "cacert.pem"))
    (result,) = selftest.iter_self_test([("HTTPS download", selftest.check_https)])
    assert not result.ok
    assert "FileNotFoundError" in result.detail or "No such file" in result.detail

    (tmp_path / "cacert.pem").write_text("", encoding="utf-8")  # readable, but no CAs
    monkeypatch.setattr(certifi, "where", lambda: str(tmp_path / "cacert.pem"))
    (result,) = selftest.iter_self_test([("HTTPS download", selftest.check_https)])
    assert not result.ok, result.detail


def test_a_data_folder_that_is_a_file_fails_the_self_test(user_data: Path) -> None:
    """It passed, though nothing trained or corrected could be kept."""
    (ok,) = selftest.iter_self_test([("data folder", selftest.check_data_folder)])
    assert ok.ok and str(user_data) in ok.detail
    user_data.rmdir()
    user_data.write_text("a file where the data folder should be")
    (failed,) = selftest.iter_self_test([("data folder", selftest.check_data_folder)])
    assert not failed.ok
    assert failed.detail.startswith(f"The data folder {user_data} cannot be used (it is a file)")

"""The command line, run for real: predict, evaluate, train, and the model fallback rules."""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
import sysconfig
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from importlib.metadata import entry_points
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw
from test_decide import DEJAVU  # the font the digit-ness model never saw, where installed

from drawdigit import __version__
from drawdigit.cli import main
from drawdigit.download import ENV_MIRRORS
from drawdigit.mnist import MNIST_FILES, find_data_dir
from drawdigit.store import active_model_path, bundled_model_path, load_checkpoint, resource_path
from drawdigit.strokes import load_drawing, pen_width

SAMPLES = sorted(resource_path("samples").glob("digit-*.json"))


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _png_of(drawing_path: Path, out: Path) -> Path:
    """Our own PNG of a drawing: dark ink on white paper, as a scan or a paint program makes."""
    drawing = load_drawing(drawing_path)
    image = Image.new("L", (int(drawing.width), int(drawing.height)), 255)
    draw = ImageDraw.Draw(image)
    width = int(round(pen_width(drawing.width, drawing.height)))
    for stroke in drawing.strokes:
        draw.line([tuple(p) for p in stroke], fill=0, width=width, joint="curve")
        for x, y in (stroke[0], stroke[-1]):
            r = width / 2
            draw.ellipse((x - r, y - r, x + r, y + r), fill=0)
    image.save(out)
    return out


def test_predict_json_on_strokes_and_png(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert len(SAMPLES) == 10
    pngs = [_png_of(p, tmp_path / f"{p.stem}.png") for p in SAMPLES]
    assert main(["predict", "--json", *map(str, SAMPLES), *map(str, pngs)]) == 0
    rows = _json_lines(capsys.readouterr().out)
    assert len(rows) == 20
    for row in rows:
        expected = int(Path(row["file"]).stem.split("-")[1])
        assert row["digit"] == expected, row["file"]
        assert len(row["probabilities"]) == 10 and 0.0 <= row["not_a_digit"] <= 1.0
        assert sum(row["probabilities"]) + row["not_a_digit"] == pytest.approx(1.0, abs=1e-9)
        assert row["confidence"] == row["probabilities"][expected]  # its bar in the window
        assert row["probabilities"][expected] == max(row["probabilities"])


def test_predict_reports_unreadable_files_and_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{not json")
    code = main(["predict", "--json", str(broken), str(SAMPLES[3]), str(bad_json)])
    assert code == 1
    rows = _json_lines(capsys.readouterr().out)
    assert [r["file"] for r in rows] == [str(broken), str(SAMPLES[3]), str(bad_json)]
    assert "error" in rows[0] and str(broken) in rows[0]["error"]
    assert rows[1]["digit"] == 3
    assert "error" in rows[2]


def test_predict_keeps_the_order_across_chunks(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files are answered a chunk at a time (one forward pass each): answers and errors
    still come out in the order of the files, across chunk boundaries, and every file
    gets the answer it gets on its own."""
    import drawdigit.cli as cli

    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    files = [*map(str, SAMPLES[:4]), str(bad), *map(str, SAMPLES[4:])]
    alone = []
    for f in files:
        main(["predict", "--json", f])
        alone.extend(_json_lines(capsys.readouterr().out))
    monkeypatch.setattr(cli, "PREDICT_CHUNK", 3)  # 11 files: chunks of 3, 3, 3, 2
    assert main(["predict", "--json", *files]) == 1
    rows = _json_lines(capsys.readouterr().out)
    assert [r["file"] for r in rows] == files
    for row, one in zip(rows, alone, strict=True):  # the same answer, to float rounding
        floats = ("confidence", "probabilities", "not_a_digit")
        assert {k: v for k, v in row.items() if k not in floats} == {
            k: v for k, v in one.items() if k not in floats
        }
        for key in floats:
            assert row.get(key) == pytest.approx(one.get(key), abs=1e-6)
    assert "error" in rows[4] and [r["digit"] for r in rows[:4]] == [0, 1, 2, 3]


def test_empty_drawing_is_no_digit(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"width": 280, "height": 280, "strokes": []}))
    assert main(["predict", str(empty)]) == 0
    assert "no digit" in capsys.readouterr().out


def test_bundled_model_reaches_its_mnist_accuracy(
    mnist_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(["evaluate", "--json", "--data-dir", str(mnist_dir)]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["accuracy"] >= 0.993
    confusion = np.array(report["confusion"])
    assert confusion.shape == (10, 10) and confusion.sum() == 10_000


def test_a_damaged_active_model_falls_back_to_the_bundled_one(
    capsys: pytest.CaptureFixture,
) -> None:
    active = active_model_path()
    active.parent.mkdir(parents=True)
    active.write_bytes(b"this is not a model")
    assert main(["predict", "--json", str(SAMPLES[7])]) == 0
    captured = capsys.readouterr()
    assert _json_lines(captured.out)[0]["digit"] == 7
    assert "could not be used" in captured.err


def test_an_explicit_bad_model_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    bad = tmp_path / "foreign.pt"
    bad.write_bytes(b"PK\x03\x04 truncated zip")
    assert main(["predict", "--model", str(bad), str(SAMPLES[0])]) == 2
    assert str(bad) in capsys.readouterr().err


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_model_that_is_a_fifo_or_a_device_is_named_as_such(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """It exists: "no such model file" was wrong. Said at once (a FIFO is not opened for
    reading, /dev/zero not read without end)."""
    os.mkfifo(tmp_path / "pipe.pt")
    odd = [tmp_path / "pipe.pt"] + [Path("/dev/zero")] * Path("/dev/zero").exists()
    for path in odd:
        assert main(["predict", "--model", str(path), str(SAMPLES[0])]) == 2
        err = capsys.readouterr().err
        assert f"{path}: cannot read (not a regular file" in err and "no such" not in err
    assert main(["predict", "--model", str(tmp_path / "absent.pt"), str(SAMPLES[0])]) == 2
    assert "absent.pt: no such model file" in capsys.readouterr().err


def test_a_model_whose_answers_overflow_is_refused_not_answered_with_nan(
    tmp_path: Path, mnist_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    """Weights x1e36: ``predict --json`` printed NaN (invalid JSON), the plain line "(0
    nan%)", ``evaluate`` 9.8%. Now both refuse the model with one line, and print no
    answer."""
    from test_store import _overflowing

    huge = tmp_path / "huge.pt"
    _overflowing(huge)
    for args in (["predict", "--json", "--model", str(huge), str(SAMPLES[3])],
                 ["evaluate", "--model", str(huge), "--data-dir", str(mnist_dir)]):  # fmt: skip
        assert main(args) == 2
        out, err = capsys.readouterr()
        assert out == "" and "nan" not in err.lower()
        assert (
            err == f"drawdigit: error: {huge}: the model's answers are not finite numbers "
            "(its weights are far too large)\n"
        )


def test_an_answer_that_is_not_finite_is_an_error_never_nan(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """The last guard, should a model pass the load check and still overflow on one
    drawing: that file gets an error (valid JSON), never "NaN" or "nan%"."""
    from drawdigit.cli import _print_answer
    from drawdigit.decide import Decision, Part

    nan = np.full(10, np.nan)
    part = Part(0, float("nan"), 1.0, nan, nan, (0, 0, 1, 1), np.zeros((28, 28)))
    decision = Decision("unsure", 0, float("nan"), (0, 1), part)
    assert _print_answer(tmp_path / "x.json", decision, True) is False
    out, _err = capsys.readouterr()
    assert json.loads(out) == {
        "file": str(tmp_path / "x.json"),
        "error": "the model gave no finite answer for this file",
    }
    assert _print_answer(tmp_path / "x.json", decision, False) is False
    out, err = capsys.readouterr()
    assert (
        out == ""
        and err == f"{tmp_path / 'x.json'}: error: the model gave no finite answer for this file\n"
    )


def test_odd_file_names_stay_on_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """A newline (or a tab, an escape) in a file name split the plain output line: such a
    name is shown quoted, its odd characters escaped; plain names as they are."""
    odd = tmp_path / "four\nteen.json"
    odd.write_bytes(SAMPLES[4].read_bytes())
    broken = tmp_path / "bad\x1b[2Jname.json"
    broken.write_text("not a drawing")
    assert main(["predict", str(SAMPLES[4]), str(odd), str(broken)]) == 1
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == 2 and lines[0].startswith(f"{SAMPLES[4]}: 4  ")
    assert lines[1].startswith(f"{str(odd)!r}: 4  ")
    assert err.count("\n") == 1 and err.startswith(f"{str(broken)!r}: error: {str(broken)!r}: ")
    assert "\x1b" not in err


def test_warnings_from_pillow_and_numpy_are_one_plain_line(tmp_path: Path) -> None:
    """A corrupt EXIF block, a picture over Pillow's decompression-bomb size and NaN pixels
    in a float TIFF printed the library's source path and line: one line each now, naming
    the file."""
    nan = np.zeros((60, 60), np.float32)
    nan[20:40, 25:35], nan[0, 0] = 1.0, np.nan
    Image.fromarray(nan, mode="F").save(tmp_path / "nan.tiff")
    exif = b"Exif\x00\x00MM\x00\x2a\x00\x00\x00\x08\x00\x05\x01\x12\x00\x03\x00\x00\x00\x01\x00"
    Image.new("L", (60, 60), 255).save(tmp_path / "exif.jpg", exif=exif + b"\x06garbage")
    Image.new("1", (9500, 9500), 1).save(tmp_path / "huge.png")  # 90 M pixels, 23 kB
    files = [str(tmp_path / name) for name in ("nan.tiff", "exif.jpg", "huge.png")]
    done = subprocess.run(
        [sys.executable, "-m", "drawdigit", "predict", *files],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 3 and all(line.startswith("drawdigit: warning: ") for line in lines)
    assert lines[0].startswith(f"drawdigit: warning: {files[0]}: values that are not numbers")
    assert (
        lines[1] == f"drawdigit: warning: {files[1]}: Corrupt EXIF data. Expecting to "
        "read 12 bytes but only got 5."
    )
    assert lines[2].startswith(f"drawdigit: warning: {files[2]}: Image size (90250000 pixels)")
    assert len(done.stdout.splitlines()) == 3


# Every `train --json` report holds these; runs with personal samples add their figures.
TRAIN_JSON_KEYS = {
    "test_accuracy",
    "seconds",
    "training_seconds",
    "precision",
    "out",
    "sha256",
    "config",
}


def test_train_saves_a_model_that_becomes_active(
    tmp_path: Path, mnist_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "quick.pt"
    args = ["train", "--preset", "fast", "--epochs", "1", "--limit", "4000", "--json"]
    args += ["--data-dir", str(mnist_dir), "--out", str(out), "--activate", "--from-scratch"]
    args += ["--precision", "fp32"]  # the figures below are float32's on every CPU
    assert main(args) == 0
    stdout, err = capsys.readouterr()
    report = json.loads(stdout.strip().splitlines()[-1])
    assert set(report) == TRAIN_JSON_KEYS
    assert 0.8 < report["test_accuracy"] <= 1.0  # 4,000 images, one epoch: far above chance
    assert report["seconds"] > report["training_seconds"] > 0
    assert report["out"] == str(out) and report["config"]["epochs"] == 1
    assert f"test accuracy {report['test_accuracy'] * 100:.2f}%" in err
    assert "now the model in use" in err
    assert load_checkpoint(out).metadata["test_accuracy"] == pytest.approx(report["test_accuracy"])
    assert load_checkpoint(active_model_path()).metadata["test_accuracy"] == pytest.approx(
        report["test_accuracy"]
    )


def test_train_with_my_samples_measures_the_kept_aside_ones(
    tmp_path: Path,
    mnist_dir: Path,
    capsys: pytest.CaptureFixture,
    sideways_writer,
    kept_aside_accuracy,
) -> None:
    from drawdigit.samples import add_sample
    from drawdigit.store import bundled_model_path

    # 3,000 MNIST images in batches of 32 at 2e-3: enough steps to learn a style the bundled
    # model takes for no digit at all (the preset's batch 128 at 5e-4 needs the full MNIST).
    args = ["train", "--with-my-samples", "--limit", "3000", "--json", "--precision", "fp32"]
    args += ["--batch-size", "32", "--lr", "0.002"]
    args += ["--threads", "1", "--data-dir", str(mnist_dir), "--out", str(tmp_path / "mine.pt")]
    assert main(args) == 2  # no samples yet: says how to get some
    assert "Correct" in capsys.readouterr().err

    for digit, drawing in sideways_writer(4, 7):
        add_sample(digit, drawing=drawing)
    assert main(args) == 0
    out, err = capsys.readouterr()
    report = json.loads(out.strip().splitlines()[-1])
    assert set(report) == TRAIN_JSON_KEYS | {
        "personal_samples",
        "personal_heldout",
        "personal_heldout_before",
        "personal_heldout_after",
    }
    assert (report["personal_samples"], report["personal_heldout"]) == (30, 10)
    assert "your samples: trained on 30; the 10 kept aside:" in err
    assert report["config"]["from_scratch"] is False  # from the model in use
    assert report["config"]["epochs"] == 1 and report["config"]["augment"] is True
    before, after = report["personal_heldout_before"], report["personal_heldout_after"]
    # The kept-aside samples (one of each digit) as the model in use (the bundled one) and
    # the saved model read them, by the numpy forward pass: the same counts, out of 10.
    assert before == pytest.approx(kept_aside_accuracy(bundled_model_path()))
    assert after == pytest.approx(kept_aside_accuracy(tmp_path / "mine.pt"))
    assert after > before  # the sideways style is learnt (measured: 10% -> 30%)
    assert f"{before * 100:.1f}% before, {after * 100:.1f}% after" in err
    saved = load_checkpoint(tmp_path / "mine.pt").metadata
    assert saved["personal_heldout_after"] == pytest.approx(after)


def test_missing_data_explains_how_to_get_it(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["train", "--data-dir", str(tmp_path / "nowhere")]) == 2
    assert "nowhere" in capsys.readouterr().err
    assert main(["train"]) == 2  # no data dir anywhere: how to get MNIST
    assert "download-mnist" in capsys.readouterr().err


def test_module_entry_point_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "drawdigit", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    assert __version__ in result.stdout


@pytest.mark.skipif(sys.platform == "win32", reason="Ctrl+C is SIGINT on POSIX only")
def test_ctrl_c_stops_training_with_status_130(tmp_path: Path, mnist_dir: Path) -> None:
    """Ctrl+C in the middle of `drawdigit train`: exit status 130 as shells expect, one
    line instead of a traceback, and no model file left behind."""
    out = tmp_path / "never.pt"
    command = [sys.executable, "-m", "drawdigit", "train", "--preset", "seed"]
    command += ["--limit", "20000", "--threads", "1", "--precision", "fp32"]
    command += ["--data-dir", str(mnist_dir), "--out", str(out)]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        # as from a terminal: a shell without job control starts background jobs (e.g. this
        # test run, with `&`) with Ctrl+C ignored, and the child would inherit that
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert process.stderr is not None
        seen = []
        while not any(line.startswith("training on") for line in seen):
            line = process.stderr.readline()  # the first batch has not been reported yet
            assert line, f"train ended before it began training: {seen}"
            seen.append(line)
        process.send_signal(signal.SIGINT)  # what the terminal sends on Ctrl+C
        _stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, stderr
    assert stderr.rstrip().endswith("interrupted") and "Traceback" not in stderr
    assert not out.exists() and list(tmp_path.iterdir()) == []


# In a child process: `train --activate` with a model in use, run again and again from the
# same start, SIGTERM sent to itself during its 1st, 2nd, ... file write (each fsync: the
# new model's pair, the copy kept of the model replaced, the new active pair) until a run
# saves whole.
SIGTERM_WHILE_SAVING = """
import json, os, shutil, signal, sys
import torch
from drawdigit import cli
from drawdigit.model import DigitNet, ModelConfig
from drawdigit.model_list import list_models
from drawdigit.store import active_model_path, save_checkpoint

torch.manual_seed(0)
before = DigitNet().state_dict()
args = ["train", "--preset", "fast", "--limit", "64", "--activate", "--threads", "1",
        "--precision", "fp32", "--data-dir", sys.argv[1]]
real_fsync, results = os.fsync, []
for moment in range(1, 30):
    shutil.rmtree(active_model_path().parent, ignore_errors=True)
    save_checkpoint(active_model_path(), before, ModelConfig(), {})  # each run alike
    writes = 0
    def fsync(fd):
        global writes
        writes += 1
        if writes == moment:
            os.kill(os.getpid(), signal.SIGTERM)  # while this file is being written
        real_fsync(fd)
    os.fsync = fsync
    code = cli.main(args)
    os.fsync = real_fsync
    folder = active_model_path().parent
    results.append({
        "code": code, "writes": writes,
        "files": {p.name: p.stat().st_size for p in folder.iterdir()},
        "unusable": [str(e.path) + ": " + e.error for e in list_models() if e.error],
    })
    if code == 0:
        break
print(json.dumps(results))
"""


def test_sigterm_while_saving_cleans_up_as_ctrl_c_does(tmp_path: Path, mnist_dir: Path) -> None:
    """SIGTERM at the moment of saving left a 0-byte trained-*.pt (listed in Models… as
    "BadZipFile"), an orphan previous-*.json and a .tmp file. Now, at each of the saves'
    file writes in turn: exit status 143, and every file left whole, with its pair."""
    env = {**os.environ, "DRAWDIGIT_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run(
        [sys.executable, "-c", SIGTERM_WHILE_SAVING, str(mnist_dir)],
        capture_output=True,
        text=True,
        timeout=580,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(done.stdout)
    *stopped, finished = results
    assert finished["code"] == 0 and len(stopped) == finished["writes"] >= 8
    assert done.stderr.count("\nterminated\n") == len(stopped)
    for moment, result in enumerate(stopped, start=1):
        assert result["code"] == 143, moment
        files = result["files"]
        assert all(size > 0 for size in files.values()), (moment, files)
        assert not [name for name in files if name.startswith(".")], (moment, files)
        for name in files:  # every sidecar beside its weights, and the other way round
            stem = name.rsplit(".", 1)[0]
            assert {f"{stem}.pt", f"{stem}.json"} <= set(files), (moment, name, files)
        assert result["unusable"] == [], moment


def installed_script(name: str, group: str) -> Path:
    """The launcher pip made for the entry point ``name``, after checking the installed
    metadata declares it (the project must be installed: ``pip install -e '.[test]'``)."""
    entry = [e for e in entry_points(group=group) if e.name == name]
    assert entry, f"{name} is not a declared {group} entry point: is drawdigit pip-installed?"
    script = Path(sysconfig.get_path("scripts")) / (name + (".exe" if os.name == "nt" else ""))
    assert script.is_file(), f"{script} is missing: is drawdigit pip-installed here?"
    return script


def test_the_installed_drawdigit_command_runs(tmp_path: Path) -> None:
    script = installed_script("drawdigit", "console_scripts")
    version = subprocess.run([str(script), "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.strip() == f"drawdigit {__version__}"
    predicted = subprocess.run(
        [str(script), "predict", "--json", str(SAMPLES[3])],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert predicted.returncode == 0, predicted.stderr
    assert json.loads(predicted.stdout)["digit"] == 3


def test_the_installed_drawdigit_gui_command_opens_the_window_and_answers(
    tmp_path: Path,
) -> None:
    """``drawdigit-gui`` (a GUI script: no console window on Windows) opens the window; the
    app's own start-up check opens a bundled sample as soon as it shows, and quits once the
    answer is on screen (``DRAWDIGIT_EXIT_AFTER_PREDICTION``)."""
    from drawdigit.gui.app import EXIT_AFTER_PREDICTION_ENV

    script = installed_script("drawdigit-gui", "gui_scripts")
    marker = tmp_path / "answered.txt"
    env = {
        **os.environ,
        EXIT_AFTER_PREDICTION_ENV: str(marker),
        "QT_QPA_PLATFORM": "offscreen",
        "XDG_CONFIG_HOME": str(tmp_path / "config"),  # the window's settings, not the user's
    }
    result = subprocess.run(
        [str(script)], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    _shown, _answered, digit = marker.read_text(encoding="utf-8").split()
    assert digit == "7"  # the sample it opened: digit-7.json


# --------------------------------------------------------------------------- download-mnist


class _QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        self.server.requests.append(self.path)  # type: ignore[attr-defined]


@pytest.fixture
def mnist_mirror(mnist_dir: Path) -> Iterator[ThreadingHTTPServer]:
    """A loopback HTTP server whose root holds the four MNIST files (../shared/mnist)."""
    handler = functools.partial(_QuietFiles, directory=str(mnist_dir))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.requests = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_download_mnist_command(
    tmp_path: Path,
    user_data: Path,
    mnist_dir: Path,
    mnist_mirror: ThreadingHTTPServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    url = f"http://127.0.0.1:{mnist_mirror.server_address[1]}/"
    monkeypatch.setenv(ENV_MIRRORS, url)
    dest = tmp_path / "cache"
    assert main(["download-mnist", "--dest", str(dest)]) == 0
    assert capsys.readouterr().err.endswith(f"MNIST is in {dest}\n")
    names = sorted(f"{name}.gz" for name in MNIST_FILES)
    assert sorted(p.name for p in dest.iterdir()) == names  # no temp file left
    for name in names:
        assert (dest / name).read_bytes() == (mnist_dir / name).read_bytes()
    assert sorted(mnist_mirror.requests) == [f"/{name}" for name in names]

    # The second time everything is there and valid: nothing is asked for.
    assert main(["download-mnist", "--dest", str(dest)]) == 0
    assert len(mnist_mirror.requests) == len(names)

    # Without --dest it fills the user cache, where train and evaluate look for MNIST.
    assert find_data_dir() is None
    assert main(["download-mnist"]) == 0
    assert find_data_dir() == user_data / "mnist"


def test_download_mnist_command_failures_are_one_clear_line(
    tmp_path: Path, mnist_mirror: ThreadingHTTPServer, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    url = f"http://127.0.0.1:{mnist_mirror.server_address[1]}/"
    monkeypatch.setenv(ENV_MIRRORS, url + "nothing-here/")  # every file a 404
    assert main(["download-mnist", "--dest", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert "drawdigit: error: " in err and "could not download it from any mirror" in err
    assert f"{url}nothing-here/" in err and "HTTP 404" in err and "Traceback" not in err
    assert list((tmp_path / "a").iterdir()) == []  # no half file left

    monkeypatch.setenv(ENV_MIRRORS, url)
    (tmp_path / "a-file").write_text("mine")
    assert main(["download-mnist", "--dest", str(tmp_path / "a-file")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"drawdigit: error: cannot write to {tmp_path / 'a-file'}")
    assert (tmp_path / "a-file").read_text() == "mine"  # nothing lost


# --------------------------------------------------------------------------- broken pipe


def test_output_cut_short_by_the_reader_ends_quietly() -> None:
    """`drawdigit predict <many files> --json | head -1`: one line read, then the pipe shut.

    Enough output (~100 KB) to overflow Python's buffer and the pipe, so the write that
    finds the reader gone happens while predicting, not at exit.
    """
    files = [str(SAMPLES[3])] * 300
    process = subprocess.Popen(
        [sys.executable, "-m", "drawdigit", "predict", "--json", *files],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    first = process.stdout.readline()
    process.stdout.close()  # what `head -1` does after its line
    stderr = process.stderr.read()
    assert process.wait(timeout=120) == 1
    assert stderr == b""
    assert json.loads(first)["digit"] == 3

    # The reader gone before anything was written (`drawdigit predict x | true`): the last
    # flush, at exit, must not complain either.
    process = subprocess.Popen(
        [sys.executable, "-m", "drawdigit", "predict", str(SAMPLES[3])],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    process.stdout.close()
    stderr = process.stderr.read()
    assert process.wait(timeout=120) in (0, 1)
    assert stderr == b""


# --------------------------------------------------------------------------- honest answers


def test_predict_json_says_the_answer_for_each_kind(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from test_decide import side_by_side

    from drawdigit.strokes import save_drawing

    number = tmp_path / "number.json"
    save_drawing(number, side_by_side("4207"))
    four = tmp_path / "four.txt"  # a strokes file is known by its content, not its name
    four.write_text(SAMPLES[4].read_text())
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"width": 280, "height": 280, "strokes": []}))
    assert main(["predict", "--json", *map(str, [number, four, empty])]) == 0
    rows = {Path(r["file"]).name: r for r in _json_lines(capsys.readouterr().out)}
    old_keys = {"file", "digit", "confidence", "probabilities"}

    n = rows["number.json"]
    assert old_keys | {"answer", "number", "digits"} <= set(n)
    assert (n["answer"], n["number"], n["digit"]) == ("number", "4207", None)
    assert [d["digit"] for d in n["digits"]] == [4, 2, 0, 7]
    boxes = [d["box"] for d in n["digits"]]
    assert all(len(b) == 4 and b[0] < b[2] and b[1] < b[3] for b in boxes)
    assert all(a[2] < b[0] for a, b in zip(boxes, boxes[1:], strict=False))
    assert all(0.0 < d["confidence"] <= 1.0 for d in n["digits"])
    assert n["confidence"] == pytest.approx(np.prod([d["confidence"] for d in n["digits"]]))

    f = rows["four.txt"]
    assert (f["answer"], f["digit"]) == ("digit", 4) and "number" not in f
    assert f["confidence"] == f["probabilities"][4] == max(f["probabilities"])

    e = rows["empty.json"]
    assert (e["answer"], e["digit"], e["empty"]) == ("empty", None, True)
    assert e["confidence"] == e["not_a_digit"] == 0.0 and e["probabilities"] == [0.0] * 10


@pytest.mark.skipif(not DEJAVU, reason="DejaVu Sans is not installed (fonts-dejavu-core)")
def test_predict_json_says_a_letter_is_not_a_digit(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """A printed H in a font the digit-ness head never saw, as a PNG whatever its name says."""
    from test_decide import glyph

    letter = tmp_path / "letter.json"
    Image.fromarray(glyph("H", DEJAVU[0])).save(letter, format="PNG")
    assert main(["predict", "--json", str(letter)]) == 0
    (row,) = _json_lines(capsys.readouterr().out)
    assert (row["answer"], row["digit"]) == ("not-a-digit", None)
    assert row["confidence"] == row["not_a_digit"] > max(row["probabilities"])


def test_predict_says_the_answer_plainly(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from test_decide import side_by_side

    from drawdigit.strokes import save_drawing

    number = tmp_path / "n.json"
    save_drawing(number, side_by_side("42"))
    assert main(["predict", str(number), str(SAMPLES[5])]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{number}: the number 42  (4 ")
    assert lines[1].startswith(f"{SAMPLES[5]}: 5  ")


def test_the_plain_line_gives_the_percentages_of_the_json(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """One story: the plain line says the JSON's numbers, whatever the answer (sure and
    unsure digits, pen letters, a number, nothing)."""
    from test_decide import cut_short, sample, side_by_side

    from drawdigit.decide import outcome_name
    from drawdigit.formatting import percent
    from drawdigit.strokes import save_drawing

    number = tmp_path / "n.json"
    save_drawing(number, side_by_side("42"))
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"width": 280, "height": 280, "strokes": []}))
    unsure = tmp_path / "cut-2.json"
    save_drawing(unsure, cut_short(sample(2), 0.8))
    pen = sorted((Path(__file__).parent / "data").glob("pen-*.json"))
    files = [str(p) for p in (*SAMPLES, *pen, number, empty, unsure)]
    assert main(["predict", "--json", *files]) == 0
    rows = _json_lines(capsys.readouterr().out)
    assert main(["predict", *files]) == 0
    lines = capsys.readouterr().out.splitlines()
    kinds = set()
    for row, line in zip(rows, lines, strict=True):
        kinds.add(row["answer"])
        said = line.removeprefix(f"{row['file']}: ")
        values = [*row["probabilities"], row["not_a_digit"]]
        if row["answer"] == "digit":
            assert said == f"{row['digit']}  {percent(row['confidence'])}"
        elif row["answer"] == "unsure":
            first, second = sorted(range(11), key=lambda k: -values[k])[:2]
            assert row["digit"] in (first, second)
            assert said == (
                f"not sure: {outcome_name(first)} or {outcome_name(second)}?  "
                f"({outcome_name(first)} {percent(values[first])}, "
                f"{outcome_name(second)} {percent(values[second])})"
            )
        elif row["answer"] == "not-a-digit":
            assert said == f"not a digit  ({percent(row['not_a_digit'])})"
        elif row["answer"] == "number":
            each = ", ".join(f"{d['digit']} {percent(d['confidence'])}" for d in row["digits"])
            assert said == f"the number {row['number']}  ({each})"
        else:
            assert said == "no digit (the drawing is empty)"
    assert {"digit", "unsure", "number", "empty"} <= kinds


# --------------------------------------------------------------------------- train options


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--epochs", "0"),
        ("--batch-size", "0"),
        ("--lr", "-1"),
        ("--lr", "0"),
        ("--lr", "nan"),
        ("--lr", "inf"),
        ("--threads", "0"),
        ("--seed", "-1"),
        ("--limit", "0"),
        ("--limit", "-5"),
        ("--epochs", "two"),
        ("--device", "tpu"),
    ],
)
def test_bad_train_options_are_usage_errors_before_any_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, value: str
) -> None:
    # The data folder does not exist: an error about it would mean the option was not
    # checked first (``--limit 0`` used to train on everything).
    with pytest.raises(SystemExit) as exit_info:
        main(["train", option, value, "--data-dir", str(tmp_path / "absent")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}" in err and "absent" not in err and "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("drawdigit train: error:")


def test_far_too_many_threads_are_refused_before_any_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["train", "--threads", "100000", "--data-dir", str(tmp_path / "absent")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "absent" not in err
    assert "threads must be a whole number from 1 to" in err and "not 100000" in err


def _cannot_save_before_any_data(args: list[str], tmp_path: Path, capsys) -> str:
    """The error of a ``train`` that could not save its model, said before any data is read
    (the data folder given does not exist) in one line."""
    code = main(["train", *args, "--data-dir", str(tmp_path / "absent")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "absent" not in err and "File exists" not in err and "Traceback" not in err
    return err


def test_where_a_model_cannot_be_saved_is_said_before_training(
    tmp_path: Path, user_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--out`` in /proc or under a file, ``--activate`` with a data folder that is a file:
    these failed only after the whole run, "File exists" said for "not a folder"."""
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a folder")
    err = _cannot_save_before_any_data(["--out", str(a_file / "m.pt")], tmp_path, capsys)
    assert f"cannot save a model in {a_file} ({a_file} is a file, not a folder)" in err
    err = _cannot_save_before_any_data(["--out", "/proc/m.pt"], tmp_path, capsys)
    assert "cannot save a model in /proc (files cannot be written there: " in err
    err = _cannot_save_before_any_data(["--out", str(tmp_path)], tmp_path, capsys)
    assert f"--out {tmp_path} is a folder; name the model file to write" in err
    user_data.rmdir()
    user_data.write_text("a file where the data folder should be")
    err = _cannot_save_before_any_data(["--activate"], tmp_path, capsys)
    assert f"cannot save a model in {user_data / 'models'} ({user_data} is a file" in err


def test_a_data_folder_that_is_a_file_is_said_once_at_start(
    user_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    user_data.rmdir()
    user_data.write_text("a file where the data folder should be")
    assert main(["predict", str(SAMPLES[2])]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"{SAMPLES[2]}: 2")
    assert err == (
        f"drawdigit: warning: The data folder {user_data} cannot be used (it is a file): "
        "models you train and samples you save cannot be kept. Move the file away, or set "
        "DRAWDIGIT_DATA_DIR to a folder you can write.\n"
    )
    assert main(["predict", "--model", str(bundled_model_path()), str(SAMPLES[2])]) == 0
    assert capsys.readouterr().err == ""  # the data folder plays no part


def test_a_device_that_is_not_there_is_refused_before_any_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    code = main(["train", "--device", "cuda", "--data-dir", str(tmp_path / "absent")])
    err = capsys.readouterr().err
    assert code == 2 and "no CUDA GPU" in err and "absent" not in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("accuracy", ["high", [1]])
def test_evaluate_ignores_metadata_of_the_wrong_type(
    mnist_dir: Path, capsys: pytest.CaptureFixture, accuracy: object
) -> None:
    """A model whose metadata says "test_accuracy": "high" is still evaluated."""
    import torch

    from drawdigit.model import DigitNet, ModelConfig
    from drawdigit.store import save_checkpoint

    torch.manual_seed(0)
    meta = {"test_accuracy": accuracy, "created": ["not", "a", "date"]}
    save_checkpoint(active_model_path(), DigitNet().state_dict(), ModelConfig(), meta)
    assert main(["evaluate", "--data-dir", str(mnist_dir)]) == 0
    out = capsys.readouterr().out
    assert "model: retrained model (" in out and "MNIST test accuracy:" in out

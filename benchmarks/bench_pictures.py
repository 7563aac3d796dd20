"""How well pictures of digits read: real photos and paint drawings, synthetic photos, unipen
drawings saved as PNGs against their strokes, and what a picture costs.

    python benchmarks/bench_pictures.py [--photos 1000] [--seeds report|tune|N,N...]
                                        [--source mnist-test|unipen] [--model PATH]
                                        [--pngs 1000] [--repeat 7]
                                        [--skip-real] [--save DIR] [--json]

Every picture is answered the way the app answers it: ``load_source`` -> ``segment.cut`` ->
``Decider`` (the network with its digit-ness head: digit / unsure / number / not a digit /
empty). "right": the answer's digit is the label (a sure digit or "not sure" between it and
another); "sure": the answer is a sure digit; "wrong answered sure": a sure digit or a number
that is wrong (or given for a picture with no digit), as a share of all pictures.

- real-images-dev (../shared/real-images-dev, 81 pictures): by kind and by source, every
  picture not answered a sure right digit listed;
- synthetic photos (benchmarks/photos.py): ``--photos`` digits per seed, written on ruled,
  squared, graph or plain paper of many colours with many pens, lit, shadowed, seen at an
  angle, cropped tight or not, plus 5% pictures with no digit. ``--seeds report`` (the
  default) are photos never looked at while the cleaning was made; ``--seeds tune`` the ones
  that were. ``--source``: where the digits come from: ``mnist-test`` (the default: MNIST's
  test digits redrawn along their skeleton with each photo's pen; no model the project
  makes is trained on them) or ``unipen`` (unipen-dev's pen drawings: honest only for a
  model that was not trained on unipen-dev's writers);
- unipen PNGs: ``--pngs`` drawings as 280x280 PNGs (18 px round pen, black on white) against
  the same drawings' strokes (unflagged only), both through the decision;
- costs (medians of ``--repeat``, wall and CPU time, with the load average): a 4000x3000
  JPEG photo through ``load_input`` and as an array through ``preprocess``; a 280x280
  drawing (array) through ``preprocess``.

``--model``: the model file to measure, with the digit-ness head inside it (default: the
model in use). ``--save DIR``: each synthetic photo, and what the model saw, as PNGs to look at
(only ever with ``--seeds tune``: the report seeds stay unseen).
The machine these were measured on is shared: compare medians taken in the same conditions.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import photos as synth
from unipen import load_unipen

from drawdigit.decide import Decider, Decision, load_decider
from drawdigit.inference import load_predictor
from drawdigit.preprocess import load_input, load_source, preprocess
from drawdigit.segment import cut
from drawdigit.strokes import Drawing, load_drawing

SHARED = Path(__file__).resolve().parents[2] / "shared"
REAL_DIR = SHARED / "real-images-dev"
MNIST_DIR = SHARED / "mnist"
SURE_KINDS = ("digit", "number")
CHUNK = 64  # pictures decided together (one forward pass), as ``drawdigit predict`` does


def drawing_png(drawing: Drawing, pen: float = 18.0) -> Image.Image:
    """The drawing as a paint program saves it: black round pen on a white 280x280 canvas."""
    scale = 280.0 / max(drawing.width, drawing.height)
    strokes = [np.asarray(s, dtype=np.float64) * scale for s in drawing.strokes if s]
    ink = synth.draw_strokes((280, 280), strokes, pen)
    return Image.eval(ink, lambda v: 255 - v)


def decide_files(decider: Decider, paths: list[Path]) -> list[Decision]:
    """The app's answer for each file, decided CHUNK files at a time."""
    out: list[Decision] = []
    for begin in range(0, len(paths), CHUNK):
        cuts = [cut(load_source(p)) for p in paths[begin : begin + CHUNK]]
        out.extend(decider.decide_pieces(cuts))
    return out


def grade(decision: Decision, label: int | None) -> tuple[bool, bool, bool]:
    """(right, sure and right, wrong and answered sure) for one answer. A picture with no
    digit is right when it is not answered a sure digit or number."""
    sure = decision.kind in SURE_KINDS
    if label is None:
        return not sure, False, sure
    right = decision.kind in ("digit", "unsure") and decision.digit == label
    return right, right and decision.kind == "digit", sure and not right


def describe(decision: Decision) -> str:
    if decision.kind == "number":
        return f"number {decision.number} ({decision.confidence:.2f})"
    if decision.kind in ("digit", "unsure"):
        return f"{decision.kind} {decision.digit} ({decision.confidence:.2f})"
    return decision.kind


def tally(grades: list[tuple[bool, bool, bool]]) -> dict:
    a = np.array(grades, bool).reshape(-1, 3)
    return {
        "count": len(a),
        "right": int(a[:, 0].sum()),
        "sure_right": int(a[:, 1].sum()),
        "wrong_sure": int(a[:, 2].sum()),
    }


def line(name: str, t: dict) -> str:
    n = max(t["count"], 1)
    return (
        f"  {name:28s} {t['right']:4d} of {t['count']:4d} right ({100 * t['right'] / n:5.1f}%),"
        f" sure {t['sure_right']:4d}, wrong answered sure {t['wrong_sure']:3d}"
        f" ({100 * t['wrong_sure'] / n:.1f}%)"
    )


def real_images(decider: Decider) -> dict:
    with open(REAL_DIR / "labels.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    decisions = decide_files(decider, [REAL_DIR / r["file"] for r in rows])
    grades = [grade(d, int(r["label"])) for d, r in zip(decisions, rows, strict=True)]
    result = {"all": tally(grades)}
    print(f"real-images-dev ({len(rows)} pictures):")
    print(line("all", result["all"]))
    for field in ("kind", "source"):
        for value in sorted({r[field] for r in rows}):
            picked = [g for g, r in zip(grades, rows, strict=True) if r[field] == value]
            result[value] = tally(picked)
            print(line(value[:28], result[value]))
    for d, r, g in zip(decisions, rows, grades, strict=True):
        if not g[1]:
            print(f"    {r['file']}: {r['label']} -> {describe(d)}")
    return result


def digit_samples(source: str, count: int, seed: int) -> list[synth.Sample]:
    rng = np.random.default_rng(seed)
    if source == "unipen":
        return synth.unipen_samples(count, rng)
    return synth.mnist_samples(count, rng, MNIST_DIR)


def synthetic(decider: Decider, source: str, count: int, seeds: list[int], save: Path | None):
    tags: list[dict] = []
    grades: list[tuple[bool, bool, bool]] = []
    wrong = Counter()
    for seed in seeds:
        samples = digit_samples(source, count, seed)
        with tempfile.TemporaryDirectory() as tmp:
            paths, labels = [], []
            for n, shot in enumerate(synth.photos(samples, seed)):
                path = Path(tmp) / f"{seed}-{n:04d}.jpg"
                path.write_bytes(shot.jpeg)
                paths.append(path)
                labels.append(shot.label)
                tags.append(shot.tags)
            decisions = decide_files(decider, paths)
            for n, (d, label) in enumerate(zip(decisions, labels, strict=True)):
                g = grade(d, label)
                grades.append(g)
                if not g[0]:
                    wrong[tags[-len(labels) + n]["tool"]] += 1
                if save is not None:
                    _save_look(save, paths[n], d, label, g)
    result = {"all": tally(grades)}
    print(f"synthetic photos ({source}, seeds {seeds}, {len(grades)} pictures):")
    print(line("all", result["all"]))
    papers = [g for g, t in zip(grades, tags, strict=True) if t["ruling"] != "plain"]
    result["squared+ruled"] = tally(papers)
    print(line("squared, ruled, graph", result["squared+ruled"]))
    for field in ("ruling", "tool", "framing", "shadow", "paper"):
        for value in sorted({t[field] for t in tags}):
            picked = [g for g, t in zip(grades, tags, strict=True) if t[field] == value]
            result[f"{field}:{value}"] = tally(picked)
            print(line(f"{field} {value}", result[f"{field}:{value}"]))
    return result


def _save_look(save: Path, path: Path, decision: Decision, label, g) -> None:
    """The photo (small) beside what the model saw, named by the outcome."""
    save.mkdir(parents=True, exist_ok=True)
    from PIL import ImageOps

    shown = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
    shown.thumbnail((240, 240))
    tile = Image.new("RGB", (360, 240), (255, 0, 255))
    tile.paste(shown, (0, 0))
    for k, image in enumerate(decision.images[:2]):
        seen = Image.fromarray((image * 255).astype(np.uint8)).resize((112, 112))
        tile.paste(seen.convert("RGB"), (244, 4 + 118 * k))
    outcome = "ok" if g[1] else ("unsure" if g[0] else "WRONG")
    name = f"{outcome}-{path.stem}-{label}-{describe(decision).replace(' ', '_')}.png"
    tile.save(save / name)


def pngs(decider: Decider, count: int, seed: int) -> dict:
    clean = [s for s in load_unipen() if not s.flagged]
    rng = np.random.default_rng(seed + 1)
    picked = [clean[i] for i in sorted(rng.choice(len(clean), min(count, len(clean)), False))]
    drawings = [load_drawing(s.path) for s in picked]
    labels = [s.label for s in picked]
    strokes = decider.decide_pieces([cut(d) for d in drawings])
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for n, d in enumerate(drawings):
            paths.append(Path(tmp) / f"{n}.png")
            drawing_png(d).save(paths[-1])
        images = decide_files(decider, paths)
    a = tally([grade(d, y) for d, y in zip(strokes, labels, strict=True)])
    b = tally([grade(d, y) for d, y in zip(images, labels, strict=True)])
    print(f"unipen-dev unflagged, {len(picked)} drawings as strokes and as 280x280 PNGs:")
    print(line("strokes", a))
    print(line("PNG", b))
    return {"strokes": a, "png": b}


def costs(repeat: int) -> dict:
    rng = np.random.default_rng(7)
    sample = synth.mnist_samples(1, rng, MNIST_DIR)[0]
    shot = synth.photo(sample, rng, size=(4000, 3000))
    big = np.asarray(Image.open(io.BytesIO(shot.jpeg)).convert("RGB"))
    small = np.asarray(drawing_png(load_drawing(load_unipen()[1].path)))

    def median_ms(function) -> dict[str, float]:
        """Wall and CPU time (this process's): on a shared machine the CPU time is what
        the work costs, the wall time what waiting for the cores added to it."""
        function()  # first call imports what it needs
        wall, cpu = [], []
        for _ in range(repeat):
            start, start_cpu = time.perf_counter(), time.process_time()
            function()
            wall.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        return {"wall": float(np.median(wall) * 1e3), "cpu": float(np.median(cpu) * 1e3)}

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "photo.jpg"
        path.write_bytes(shot.jpeg)
        result = {
            "photo_4000x3000_jpeg_file_ms": median_ms(lambda: load_input(path)),
            "photo_4000x3000_jpeg_cut_ms": median_ms(lambda: cut(load_source(path))),
            "photo_4000x3000_array_ms": median_ms(lambda: preprocess(big)),
            "drawing_280x280_array_ms": median_ms(lambda: preprocess(small)),
            "drawing_280x280_cut_ms": median_ms(lambda: cut(small)),
        }
    load = os.getloadavg()[0]
    for name, ms in result.items():
        print(f"{name:32s} {ms['wall']:8.1f} ms, CPU {ms['cpu']:6.1f} ms (medians of {repeat})")
    print(f"  (load average {load:.1f} on {os.cpu_count()} cores)")
    return result


def seed_list(text: str) -> list[int]:
    if text == "report":
        return list(synth.REPORT_SEEDS)
    if text == "tune":
        return list(synth.TUNE_SEEDS)
    return [int(v) for v in text.split(",")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=1000, help="synthetic photos per seed")
    parser.add_argument("--seeds", default="report", help="report, tune, or seeds: 1,2,3")
    parser.add_argument("--source", choices=("mnist-test", "unipen"), default="mnist-test")
    parser.add_argument("--model", type=Path, help="network (default: the one in use)")
    parser.add_argument("--pngs", type=int, default=1000, help="unipen PNGs (0: none)")
    parser.add_argument("--seed", type=int, default=0, help="which unipen drawings for --pngs")
    parser.add_argument("--repeat", type=int, default=7, help="timing runs (0: no timing)")
    parser.add_argument("--skip-real", action="store_true")
    parser.add_argument("--save", type=Path, help="save each synthetic photo and its 28x28")
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")
    args = parser.parse_args(argv)
    seeds = seed_list(args.seeds)
    if args.save is not None and set(seeds) & set(synth.REPORT_SEEDS):
        parser.error("--save shows the report seeds' pictures: use --seeds tune")
    predictor, _ = load_predictor(args.model)
    decider, warnings = load_decider(predictor)
    for warning in warnings:
        print(f"warning: {warning}")
    print(f"model: {predictor.source.path}")
    summary: dict = {}
    if not args.skip_real:
        summary["real"] = real_images(decider)
    if args.photos:
        summary["synthetic"] = synthetic(decider, args.source, args.photos, seeds, args.save)
    if args.pngs:
        summary["pngs"] = pngs(decider, args.pngs, args.seed)
    if args.repeat:
        summary["costs"] = costs(args.repeat)
    if args.json:
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

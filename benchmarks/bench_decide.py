"""Honest answers, measured (issue 10): every figure of ``decide`` on the three dev sets.

    python benchmarks/bench_decide.py [--model PATH] [--limit N] [--json]
        [--png FILE]

- not-digits (unipen-notdigits-dev): the share shown as a sure ``digit`` or a ``number``;
- numbers (unipen-numbers-dev): read exactly (answer ``number``, every digit right), per length;
- single digits (unipen-dev): the ``digit`` field right (all, unflagged), answered sure but
  wrong, and the share of the wrong answers not shown as a sure digit;
- calibration on unipen-dev: expected calibration error and the reliability diagram as a table
  (``--png`` also draws it);
- cost: median time of one ``decide`` for a single digit and for a 4-digit number, 1 thread;
- real-images-dev (71 pictures): the answers, for information.
The sets are measured on only (never trained on); they live in ../shared (README.md).
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from unipen import load_unipen

from drawdigit.decide import KINDS, Decider, Decision, load_decider
from drawdigit.inference import load_predictor
from drawdigit.preprocess import load_image
from drawdigit.strokes import load_drawing

SHARED = Path(__file__).resolve().parents[2] / "shared"
BINS = 10


def _rows(folder: Path) -> list[dict[str, str]]:
    with open(folder / "labels.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _share(flags: list[bool] | np.ndarray) -> float:
    return float(np.mean(flags)) if len(flags) else float("nan")


def not_digits(decider: Decider, folder: Path, limit: int | None) -> dict:
    rows = _rows(folder)[:limit]
    kinds = [decider.decide(load_drawing(folder / r["file"])).kind for r in rows]
    shown_sure = [k in ("digit", "number") for k in kinds]
    by_category = {
        cat: _share([s for s, r in zip(shown_sure, rows, strict=True) if r["category"] == cat])
        for cat in sorted({r["category"] for r in rows})
    }
    worst = Counter(r["label"] for s, r in zip(shown_sure, rows, strict=True) if s)
    return {
        "count": len(rows),
        "shown_sure_digit_or_number": _share(shown_sure),
        "by_category": by_category,
        "answers": dict(Counter(kinds)),
        "most_shown_sure": worst.most_common(8),
    }


def numbers(decider: Decider, folder: Path, limit: int | None) -> dict:
    rows = _rows(folder)[:limit]
    exact: dict[int, list[bool]] = {}
    answers: Counter = Counter()
    for r in rows:
        d = decider.decide(load_drawing(folder / r["file"]))
        answers[d.kind] += 1
        exact.setdefault(int(r["n_digits"]), []).append(d.number == r["label"])
    return {
        "count": len(rows),
        "exact_by_length": {n: _share(v) for n, v in sorted(exact.items())},
        "exact_all": _share([x for v in exact.values() for x in v]),
        "answers": dict(answers),
    }


def reliability(confidence: np.ndarray, correct: np.ndarray) -> tuple[float, list[dict]]:
    """Expected calibration error over BINS equal-width bins, and the table behind it."""
    edges = np.linspace(0.0, 1.0, BINS + 1)
    table, ece = [], 0.0
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        inside = (confidence >= lo) & ((confidence < hi) if hi < 1.0 else (confidence <= hi))
        if not inside.any():
            continue
        said, right = float(confidence[inside].mean()), float(correct[inside].mean())
        ece += inside.mean() * abs(said - right)
        table.append(
            {"bin": f"{lo:.1f}-{hi:.1f}", "n": int(inside.sum()), "said": said, "right": right}
        )
    return float(ece), table


def singles(decider: Decider, folder: Path | None, limit: int | None) -> tuple[dict, list]:
    samples = load_unipen(folder)[:limit]
    decisions: list[Decision] = [decider.decide(load_drawing(s.path)) for s in samples]
    labels = np.array([s.label for s in samples])
    clean = ~np.array([s.flagged for s in samples])
    digit = np.array([-1 if d.digit is None else d.digit for d in decisions])
    kinds = np.array([d.kind for d in decisions])
    right = digit == labels
    wrong = ~right
    whole_conf = np.array([d.whole.confidence if d.whole else 0.0 for d in decisions])
    whole_right = np.array(
        [d.whole is not None and d.whole.digit == y for d, y in zip(decisions, labels, strict=True)]
    )
    ece, table = reliability(whole_conf, whole_right)
    figures = {
        "count": len(samples),
        "digit_right_all": _share(right),
        "digit_right_unflagged": _share(right[clean]),
        "sure_but_wrong_all": _share((kinds == "digit") & wrong),
        "sure_but_wrong_unflagged": _share(((kinds == "digit") & wrong)[clean]),
        "wrong_shown_unsure": _share(kinds[wrong] == "unsure"),
        "wrong_not_shown_sure": _share(kinds[wrong] != "digit"),
        "answers": dict(Counter(kinds.tolist())),
        "ece": ece,
    }
    return figures, table


def images(decider: Decider, folder: Path) -> dict:
    rows = _rows(folder)
    kinds, right = Counter(), []
    for r in rows:
        d = decider.decide(load_image(folder / r["file"]))
        kinds[d.kind] += 1
        right.append(d.digit == int(r["label"]))
    return {"count": len(rows), "digit_right": _share(right), "answers": dict(kinds)}


def cost(decider: Decider, unipen: Path | None, numbers_dir: Path, n: int = 200) -> dict:
    """Median seconds of one decide (load excluded), single digits and 4-digit numbers."""
    torch.set_num_threads(1)
    drawings = [load_drawing(s.path) for s in load_unipen(unipen)[:n]]
    fours = [
        load_drawing(numbers_dir / r["file"]) for r in _rows(numbers_dir) if r["n_digits"] == "4"
    ][:n]
    out = {}
    for name, items in (("one_digit_ms", drawings), ("four_digits_ms", fours)):
        decider.decide(items[0])  # warm up
        times = []
        for drawing in items:
            start = time.perf_counter()
            decider.decide(drawing)
            times.append(time.perf_counter() - start)
        out[name] = statistics.median(times) * 1000.0
    return out


def save_png(table: list[dict], path: Path) -> None:
    """The reliability diagram: said vs right per bin, the diagonal for reference."""
    from PIL import Image, ImageDraw

    size, pad = 320, 30
    image = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(image)
    span = size - 2 * pad
    draw.rectangle((pad, pad, size - pad, size - pad), outline="gray")
    draw.line((pad, size - pad, size - pad, pad), fill="lightgray")
    for row in table:
        lo = float(row["bin"].split("-")[0])
        x0, x1 = pad + lo * span, pad + (lo + 1 / BINS) * span - 2
        draw.rectangle((x0, size - pad - row["right"] * span, x1, size - pad), fill="steelblue")
        draw.line(
            (x0, size - pad - row["said"] * span, x1, size - pad - row["said"] * span),
            fill="red",
            width=2,
        )
    draw.text((pad, 8), "blue: right, red: said (unipen-dev)", fill="black")
    image.save(path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, help="network (default: the bundled one)")
    parser.add_argument("--shared", type=Path, default=SHARED)
    parser.add_argument("--limit", type=int, help="at most this many drawings per set")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--png", type=Path, help="save the reliability diagram here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    from drawdigit.store import bundled_model_path

    predictor, _ = load_predictor(args.model or bundled_model_path())
    decider, warnings = load_decider(predictor)
    for w in warnings:
        print("warning:", w, file=sys.stderr)
    root = args.shared
    result = {"not_digits": not_digits(decider, root / "unipen-notdigits-dev", args.limit)}
    result["numbers"] = numbers(decider, root / "unipen-numbers-dev", args.limit)
    result["singles"], table = singles(decider, root / "unipen-dev", args.limit)
    result["reliability"] = table
    result["real_images"] = images(decider, root / "real-images-dev")
    result["cost"] = cost(decider, root / "unipen-dev", root / "unipen-numbers-dev")
    if args.png:
        save_png(table, args.png)
    if args.json:
        print(json.dumps(result))
        return 0
    nd, nu, si = result["not_digits"], result["numbers"], result["singles"]
    print(
        f"not-digits shown as a sure digit or number: {nd['shown_sure_digit_or_number']:.2%}"
        f" of {nd['count']} {nd['by_category']} answers {nd['answers']}"
    )
    print(f"  most often: {nd['most_shown_sure']}")
    lengths = ", ".join(f"{n} digits {v:.2%}" for n, v in nu["exact_by_length"].items())
    print(f"numbers read exactly: {lengths} (all {nu['exact_all']:.2%}) answers {nu['answers']}")
    print(
        f"single digits: digit right {si['digit_right_unflagged']:.2%} unflagged,"
        f" {si['digit_right_all']:.2%} all; sure but wrong {si['sure_but_wrong_all']:.2%}"
        f" all ({si['sure_but_wrong_unflagged']:.2%} unflagged); wrong shown unsure"
        f" {si['wrong_shown_unsure']:.1%} (not shown sure {si['wrong_not_shown_sure']:.1%})"
    )
    print(f"  answers {si['answers']}")
    print(f"calibration on unipen-dev: ECE {si['ece']:.2%}")
    print("  confidence  count   said   right")
    for row in table:
        print(f"  {row['bin']:>9} {row['n']:>6} {row['said']:>6.1%} {row['right']:>7.1%}")
    ri = result["real_images"]
    print(
        f"real-images-dev: digit right {ri['digit_right']:.1%} of {ri['count']},"
        f" answers {ri['answers']}"
    )
    c = result["cost"]
    print(
        f"cost (median, 1 thread): one digit {c['one_digit_ms']:.2f} ms,"
        f" 4-digit number {c['four_digits_ms']:.2f} ms"
    )
    assert set(KINDS) >= set(si["answers"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

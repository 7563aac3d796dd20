"""``drawdigit explain FILE``: the "Look inside" pictures as PNGs, the nearest memories as JSON.

Part of the command line (``cli.py`` keeps only the parser and a one-line ``cmd_explain``,
so the file other commands share stays small). Every picture is written atomically; the
colours come from ``explain.colour_map`` (pyqtgraph's colorcet / matplotlib tables), as in
the window's panel.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from drawdigit.explain import (
    HEAT_MAP,
    LAYER_MAP,
    Explanation,
    colourise,
    explain,
    first_layer_filters,
    heat_overlay,
    map_grid,
)
from drawdigit.formatting import percent
from drawdigit.terminal import (
    ProgressBar,
    error,
    load_predictor_or_explain,
    naming,
    shown_path,
    warnings_about,
)

INPUT_SCALE = 10  # the 28x28 pictures are written at 280x280, each pixel a 10x10 block
GRID_WIDTH = 800  # feature-map grids are scaled up by whole pixels to about this width
GAP_COLOUR = (48, 48, 48)


def _png_bytes(rgb: np.ndarray, scale: int) -> bytes:
    from PIL import Image

    big = np.repeat(np.repeat(rgb, scale, axis=0), scale, axis=1)
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(big)).save(buffer, format="PNG")
    return buffer.getvalue()


def _grid_rgb(grid: np.ndarray, name: str, low: float, high: float) -> np.ndarray:
    rgb = colourise(np.nan_to_num(grid, nan=low), name, low, high)
    rgb[np.isnan(grid)] = GAP_COLOUR
    return rgb


def pictures(explanation: Explanation, filters: np.ndarray) -> dict[str, bytes]:
    """File name -> PNG bytes for everything ``drawdigit explain`` draws."""
    gray = np.clip(explanation.image28 * 255.0 + 0.5, 0, 255).astype(np.uint8)
    out = {
        "input.png": _png_bytes(np.repeat(gray[..., None], 3, axis=2), INPUT_SCALE),
        "heat.png": _png_bytes(heat_overlay(explanation.image28, explanation.heat), INPUT_SCALE),
    }
    for k, maps in enumerate(explanation.layers, start=1):
        grid = map_grid(maps)
        out[f"layer{k}.png"] = _png_bytes(
            _grid_rgb(grid, LAYER_MAP, 0.0, 1.0), max(1, GRID_WIDTH // grid.shape[1])
        )
    reach = float(np.abs(filters).max()) or 1.0  # signed weights: white at 0, as the heat
    grid = map_grid(filters / reach, scaled=False)
    out["filters.png"] = _png_bytes(
        _grid_rgb(grid, HEAT_MAP, -1.0, 1.0), max(1, GRID_WIDTH // grid.shape[1])
    )
    return out


def run_explain(args: argparse.Namespace) -> int:
    """The command: exit 0 when the pictures are written (with or without the memories),
    1 when the file cannot be used (as ``predict``), 2 for a model or folder problem."""
    from drawdigit.decide import NOT_A_DIGIT, load_decider
    from drawdigit.memories import MemoriesUnavailable, load_memories
    from drawdigit.preprocess import load_source
    from drawdigit.store import atomic_write_bytes, atomic_write_text

    predictor = load_predictor_or_explain(args.model)
    if predictor is None:
        return 2
    decider, warnings = load_decider(predictor)
    for warning in warnings:
        print(f"drawdigit: warning: {warning}", file=sys.stderr)
    path: Path = args.file
    try:
        with warnings_about(path):
            decision = decider.decide(load_source(path))
    except Exception as exc:  # noqa: BLE001 - every reader error carries a clear message
        message = str(exc) if str(path) in str(exc) else f"{path}: {exc}"
        print(f"drawdigit: error: {naming(message, path)}", file=sys.stderr)
        return 1
    if decision.whole is None:
        print(f"drawdigit: error: {shown_path(path)}: no ink: nothing to explain", file=sys.stderr)
        return 1
    # The whole ink, as the window's Look Inside shows it, with the numbers of
    # ``predict``: the distribution of the answer (``Part.distribution``), not the
    # network's raw softmax.
    distribution = decision.whole.distribution
    target = int(np.argmax(distribution[:NOT_A_DIGIT]))
    explanation = explain(predictor.net, decision.whole.image28, target, versus=args.versus)
    out: Path = args.out if args.out is not None else Path(f"explain-{path.stem}")
    files = pictures(explanation, first_layer_filters(predictor.net))

    memories: list[dict[str, Any]] | None = None
    memories_note = ""
    bar = ProgressBar()
    try:
        index = load_memories(
            predictor.net,
            predictor.source.path,
            args.data_dir,
            progress=lambda done, total: bar.update(
                done / total, f"nearest memories: features of {done:,}/{total:,} MNIST digits"
            ),
        )
    except MemoriesUnavailable as exc:
        memories_note = str(exc)
    else:
        memories = [
            {"index": m.index, "label": m.label, "distance": round(m.distance, 4)}
            for m in index.nearest(explanation.hidden, args.nearest)
        ]
    if bar.active:
        bar.line("nearest memories: ready")
    try:
        for name, data in files.items():
            atomic_write_bytes(out / name, data)
        if memories is not None:
            atomic_write_text(out / "memories.json", json.dumps(memories, indent=1) + "\n")
    except OSError as exc:
        return error(f"cannot write to {out}: {exc.strerror or exc}")
    written = sorted([*files, *(["memories.json"] if memories is not None else [])])
    if memories_note:
        print(f"drawdigit: note: no nearest memories: {memories_note}", file=sys.stderr)
    if args.json:
        summary = {
            "file": str(path),
            "target": explanation.target,
            "versus": explanation.versus,
            "answer": target,
            "probabilities": [float(p) for p in distribution[:NOT_A_DIGIT]],
            "not_a_digit": float(distribution[NOT_A_DIGIT]),
            "method": explanation.method,
            "out": str(out),
            "files": written,
            "memories": memories,
        }
        if memories_note:
            summary["memories_unavailable"] = memories_note
        print(json.dumps(summary))
        return 0
    question = f"why {target} ({percent(distribution[target])})"
    if explanation.versus is not None:
        question += f" and not {explanation.versus} ({percent(distribution[explanation.versus])})"
    print(
        f"{shown_path(path)}: {question}, by {explanation.method}; "
        f"wrote {', '.join(written)} to {shown_path(out)}"
    )
    if memories:
        near = ", ".join(f"{m['label']} (#{m['index']}, {m['distance']:.2f})" for m in memories)
        print(f"nearest memories: {near}")
    return 0

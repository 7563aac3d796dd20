"""Give the bundled network its digit-ness head, temperature and thresholds.

    python -m drawdigit.make_digitness --folds DIR [--model PATH] [--mnist DIR] [--seed N]
                                       [--threads N]

The bundled network was trained on the pen ink of every writer the app ships
(``drawdigit.pendata``), so no writer is left to say how sure it should be on a stranger's
ink. The answer comes from its recipe's fold models instead (``DIR/fold-K.pt``, made by
``benchmarks/bench_pen.py train DIR --all`` with the same recipe, each without one fold of
writers): each fold model gets a head fitted on the other folds' ink, and their answers on
their own left-out writers, pooled, choose the temperature, the digit-ness shift and the
sure threshold
(``headfit.calibrate``). The network's own head is then fitted on all the ink
(``headfit.head_data``: pen digits, MNIST digits, pen letters and symbols, and parts, pairs
and scribbles made from the pen digits) and saved into the model file (``--model``, default
``resources/model/drawdigit.pt``) with how it was made and the held-out figures.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from drawdigit import headfit
from drawdigit.inference import load_predictor
from drawdigit.mnist import find_data_dir, load_mnist
from drawdigit.pendata import (
    FOLDS,
    load_made_not_digits,
    load_pen_digits,
    load_pen_not_digits,
)
from drawdigit.store import bundled_model_path, load_checkpoint, save_checkpoint
from drawdigit.training.config import TrainConfig


def _recipe(metadata: dict) -> dict:
    # A setting added after a model was made reads as its default (which it trained with).
    recipe = {**TrainConfig().to_dict(), **(metadata.get("recipe") or {})}
    for key in ("leave_out_fold", "threads", "quick_eval_seconds", "progress_every"):
        recipe.pop(key, None)  # how it ran, or which writers: not what was learnt
    return recipe


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m drawdigit.make_digitness")
    parser.add_argument("--folds", type=Path, required=True, help="folder of fold-K.pt models")
    parser.add_argument("--model", type=Path, default=bundled_model_path())
    parser.add_argument("--mnist", type=Path, help="MNIST folder (default: the usual places)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    found = find_data_dir(args.mnist)
    if found is None:
        raise SystemExit("MNIST not found: pass --mnist DIR or run `drawdigit download-mnist`")
    mnist = load_mnist(found)
    network, _ = load_predictor(args.model)
    folds = {k: args.folds / f"fold-{k}.pt" for k in range(FOLDS)}
    missing = [str(p) for p in folds.values() if not p.is_file()]
    if missing:
        raise SystemExit(f"fold models missing: {', '.join(missing)}")
    fold_networks = {k: load_predictor(p)[0] for k, p in folds.items()}
    recipe = _recipe(network.source.metadata)
    for k, fold_network in fold_networks.items():
        if _recipe(fold_network.source.metadata) != recipe:
            raise SystemExit(f"{folds[k]} was not trained with the recipe of {args.model}")
    ink = (load_pen_digits(), load_pen_not_digits(), load_made_not_digits())
    digits, letters = ink[0], ink[1]
    sample = headfit.mnist_sample(mnist.train_images, mnist.train_labels, args.seed)
    heads = headfit.fold_heads(
        {k: n.logits_and_features for k, n in fold_networks.items()},
        ink,
        sample,
        args.seed,
    )
    chosen = headfit.calibration([h.held for h in heads.values()])
    data = headfit.head_data(*ink, sample)
    arrays = headfit.fit_arrays(network.logits_and_features, data, args.seed)
    head = headfit.as_digitness(
        arrays,
        chosen,
        {
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "command": " ".join(["python -m drawdigit.make_digitness", *(argv or sys.argv[1:])]),
            "seed": args.seed,
            "data": {
                "digits": f"{len(digits)} pen-drawn digits (resources/data/pen-digits.npz) and"
                f" {len(sample[1])} MNIST training digits",
                "not_digits": f"{len(letters)} pen-drawn letters and symbols"
                " (resources/data/pen-notdigits.npz); parts of digits, pairs of digits and"
                " scribbles made from the pen digits (drawdigit.negatives)",
                "counts": {"digits": len(data.labels), "not_digits": len(data.not_digit_kinds)},
                "credit": "UNIPEN (CC BY 4.0), MNIST (CC BY-SA 3.0)",
            },
            "calibration": "temperature and thresholds chosen on the pooled answers of the"
            f" recipe's {FOLDS} fold models on their own left-out writers",
            "fold_models": {
                str(k): hashlib.sha256(p.read_bytes()).hexdigest() for k, p in folds.items()
            },
            "figures_held_out": chosen.figures,
            "seconds": round(time.perf_counter() - started, 1),
        },
    )
    checkpoint = load_checkpoint(args.model)
    save_checkpoint(
        args.model, checkpoint.state_dict, checkpoint.config, checkpoint.metadata, head.to_head()
    )
    summary = {"temperature": chosen.temperature, "shift": chosen.shift, "sure": chosen.sure}
    print(json.dumps({**summary, **chosen.figures}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

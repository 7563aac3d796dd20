"""Fit a network's digit-ness head, temperature and thresholds (see ``digitness``).

A network reads every ink as some digit; the head beside it (a 64 -> 64 -> 1 MLP on the
network's last hidden layer) says how likely the ink is one digit at all, the temperature
makes "90% sure" right about 90% of the time, and the thresholds turn both into the five
answers (``decide``). All three belong to one network: its hidden layer is its own.

What the head learns from:
- digits: pen-drawn digits (``pendata``: real people on tablets, rendered as the canvas
  renders them) and MNIST training digits;
- not digits: pen-drawn letters and symbols (``pendata``), and ink made here from the pen
  digits: parts of a digit (a third to a half cut away), two digits as one input (a wrong
  split of a number) and scribbles (``negatives``).
The temperature and the thresholds are chosen on drawings by writers the head was not fitted
on (and, for a network trained on pen ink, that the network did not see either): see
``calibrate`` for the rules.

Training side only (torch for the MLP's few hundred steps); the app answers with the head
saved inside the model file (``store.save_checkpoint``), read by ``digitness`` in numpy.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from drawdigit.digitness import Digitness, Thresholds, softmax
from drawdigit.pendata import (
    FOLDS,
    PenSet,
    load_made_not_digits,
    load_pen_digits,
    load_pen_not_digits,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from drawdigit.model import DigitNet
    from drawdigit.training.config import TrainConfig

HIDDEN = 64
# Made not-digits per pen digit the head learns from (parts, pairs, scribbles).
PARTS_SHARE = 0.5
PAIRS_SHARE = 0.5
SCRIBBLES_SHARE = 0.1
# MNIST digits beside the pen digits (MNIST-like ink: pictures, and people who write so).
MNIST_DIGITS = 10_000
# Calibration rules, on held-out writers' pen ink (``calibrate``):
REJECT_DIGITS = 0.004  # share of digits that may be answered "not a digit"
SURE_WRONG = 0.002  # share of digits that may be answered sure and wrong
NUMBER_PART = 0.5  # each digit of a number more likely right than wrong
# The writers whose ink calibrates a network that never saw them (any fold would do; this
# one holds a quarter of the pen digits, 1,616 of 6,209, enough to place the thresholds).
CALIBRATION_FOLD = 1

# What a run or a fine-tune says while it fits the new network's head (after its last step).
FITTING_HEAD = "Teaching it what is not a digit…"

Features = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class HeadData:
    """28x28 float images the head is fitted or measured on.

    ``digits`` with their ``labels``, ``digit_kinds`` ("pen" or "mnist") and ``doubtful``
    (a label UNIPEN's curators doubt: a digit all the same, but no measure of right and
    wrong); ``not_digits`` with their ``not_digit_kinds`` ("pen", "part", "pair",
    "scribble").
    """

    digits: np.ndarray
    labels: np.ndarray
    digit_kinds: np.ndarray
    doubtful: np.ndarray
    not_digits: np.ndarray
    not_digit_kinds: np.ndarray


def made_not_digits(digits: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Parts of digits, pairs of digits and scribbles, made from (N, 28, 28) digits."""
    from drawdigit import negatives

    n = len(digits)
    order = rng.permutation(n)
    parts = negatives.digit_parts(digits[order[: int(PARTS_SHARE * n)]], rng)
    parts = parts[parts.reshape(len(parts), -1).max(axis=1) > 0.2]
    pairs = negatives.digit_pairs(digits[order[-int(PAIRS_SHARE * n) :]], rng)
    scribbles = negatives.scribbles(int(SCRIBBLES_SHARE * n), rng)
    images = np.concatenate([parts, pairs, scribbles]).astype(np.float32)
    kinds = np.repeat(["part", "pair", "scribble"], [len(parts), len(pairs), len(scribbles)])
    return images, kinds


def head_data(
    pen_digits: PenSet,
    pen_not_digits: PenSet,
    made: PenSet,
    mnist: tuple[np.ndarray, np.ndarray] | None = None,
) -> HeadData:
    """The images a head learns from (or is measured on): the pen digits, letters and
    symbols, the not-digits ``made`` from pen digits (``pendata.load_made_not_digits``;
    their ``characters`` name the kind), and ``mnist`` (images, labels) digits when given."""
    digits, labels = [pen_digits.as_float()], [pen_digits.labels]
    kinds = [np.full(len(pen_digits), "pen")]
    doubtful = [pen_digits.flagged]
    if mnist is not None:
        images, mnist_labels = mnist
        images = np.asarray(images)
        digits.append(images.astype(np.float32) / (255.0 if images.dtype == np.uint8 else 1.0))
        labels.append(np.asarray(mnist_labels, dtype=np.int64))
        kinds.append(np.full(len(images), "mnist"))
        doubtful.append(np.zeros(len(images), bool))
    return HeadData(
        np.concatenate(digits),
        np.concatenate(labels).astype(np.int64),
        np.concatenate(kinds),
        np.concatenate(doubtful),
        np.concatenate([pen_not_digits.as_float(), made.as_float()]),
        np.concatenate([np.full(len(pen_not_digits), "pen"), made.characters.astype(str)]),
    )


def mnist_sample(
    images: np.ndarray, labels: np.ndarray, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """``MNIST_DIGITS`` training digits drawn at random (all of them if there are fewer)."""
    n = len(labels)
    pick = np.random.default_rng(seed).permutation(n)[: min(n, MNIST_DIGITS)]
    return np.asarray(images)[pick], np.asarray(labels)[pick]


def outputs(features: Features, images: np.ndarray, chunk: int = 2048) -> tuple:
    """(logits, hidden) of a network for many images, a chunk at a time."""
    logits, hidden = [], []
    for start in range(0, len(images), chunk):
        lo, hi = features(images[start : start + chunk])
        logits.append(np.asarray(lo, dtype=np.float32))
        hidden.append(np.asarray(hi, dtype=np.float32))
    if not logits:
        return np.zeros((0, 10), np.float32), np.zeros((0, 64), np.float32)
    return np.concatenate(logits), np.concatenate(hidden)


def train_head(
    pos: np.ndarray, neg: np.ndarray, seed: int, epochs: int = 30, batch: int = 2048
) -> dict[str, np.ndarray]:
    """A 64 -> HIDDEN -> 1 MLP on hidden features; positives and negatives weigh the same.

    One torch thread: the products are tiny, and with two threads on a busy 2-core machine
    each step waited on the other thread (8x slower, measured). Batches of 2048 at a
    higher rate give the held-out figures of batches of 512 in a quarter of the steps. 64
    hidden units and 30 epochs: on the pooled held-out answers of five fold models, 32 units
    and 12 epochs answered 84.7% of the pen digits sure and right, 64 and 30 epochs 90.4%,
    with as many letters called "not a digit" (91.5%, 91.7%; benchmarks/bench_pen.py).
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        generator = torch.Generator().manual_seed(seed)
        x = torch.from_numpy(np.concatenate([pos, neg]).astype(np.float32))
        y = torch.cat([torch.ones(len(pos)), torch.zeros(len(neg))])
        weight = torch.cat(
            [torch.full((len(pos),), 0.5 / len(pos)), torch.full((len(neg),), 0.5 / len(neg))]
        ) * len(y)
        scale = x.std(dim=0).clamp(min=1e-3)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = torch.nn.Sequential(
                torch.nn.Linear(x.shape[1], HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, 1)
            )
        optimiser = torch.optim.Adam(net.parameters(), lr=6e-3, weight_decay=1e-4)
        xs = x / scale
        for _ in range(epochs):
            order = torch.randperm(len(y), generator=generator)
            for start in range(0, len(y), batch):
                idx = order[start : start + batch]
                loss = torch.nn.functional.binary_cross_entropy_with_logits(
                    net(xs[idx])[:, 0], y[idx], weight=weight[idx]
                )
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
        first, second = net[0], net[2]
        with torch.no_grad():  # fold the feature scaling into the first layer
            return {
                "w1": (first.weight / scale).T.numpy().astype(np.float32).copy(),
                "b1": first.bias.numpy().astype(np.float32).copy(),
                "w2": second.weight[0].numpy().astype(np.float32).copy(),
                "b2": second.bias.numpy().astype(np.float32).copy(),
            }
    finally:
        torch.set_num_threads(threads)


def head_probability(arrays: dict[str, np.ndarray], hidden: np.ndarray) -> np.ndarray:
    """P(one digit) of (N, 64) hidden features, exactly as ``Digitness.probability``."""
    h = np.maximum(np.asarray(hidden, dtype=np.float32) @ arrays["w1"] + arrays["b1"], 0.0)
    z = h @ arrays["w2"] + arrays["b2"].reshape(-1)[0]
    return (1.0 / (1.0 + np.exp(-np.clip(z, -30.0, 30.0)))).astype(np.float64)


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature minimising the negative log-likelihood (a 1-D search in log space)."""

    def nll(t: float) -> float:
        p = softmax(logits.astype(np.float64) / t)
        return float(-np.log(p[np.arange(len(labels)), labels] + 1e-12).mean())

    grid = np.exp(np.linspace(np.log(0.3), np.log(5.0), 60))
    best = float(grid[int(np.argmin([nll(t) for t in grid]))])
    fine = np.linspace(best * 0.93, best * 1.07, 29)
    return float(fine[int(np.argmin([nll(t) for t in fine]))])


@dataclass(frozen=True)
class HeldOut:
    """A network's answers on held-out writers' ink, from which thresholds are chosen.

    Digits: ``logits`` (N, 10), digit-ness ``p`` (N,), ``labels``. Not-digits: ``neg_logits``,
    ``neg_p`` and ``neg_kinds`` ("pen" letters and symbols, or made ink).
    """

    logits: np.ndarray
    p: np.ndarray
    labels: np.ndarray
    neg_logits: np.ndarray
    neg_p: np.ndarray
    neg_kinds: np.ndarray

    @staticmethod
    def pooled(parts: list[HeldOut]) -> HeldOut:
        return HeldOut(*(np.concatenate([getattr(h, f) for h in parts]) for f in HELD_FIELDS))


HELD_FIELDS = ("logits", "p", "labels", "neg_logits", "neg_p", "neg_kinds")


@dataclass(frozen=True)
class Calibration:
    """How a network's answers are turned into the one distribution ``decide`` shows.

    ``temperature`` scales the logits (calibrated class probabilities). ``shift`` is added
    to the head's logit: the head learns digits against as many not-digits, but people draw
    digits far more often, so its raw P(one digit) is too low on real digits. ``sure`` is
    the one threshold of the answers: a digit whose P(digit) reaches it is sure, ink whose
    P(not a digit) reaches it is "not a digit", anything else is "not sure".
    """

    temperature: float
    shift: float
    sure: float
    figures: dict[str, Any]

    @property
    def thresholds(self) -> Thresholds:
        # "not a digit" at P(not a digit) >= sure, i.e. (shifted) digit-ness <= 1 - sure
        return Thresholds(1.0 - self.sure, self.sure, 1.0 - self.sure, NUMBER_PART)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-12, 1.0 - 1e-12)
    return np.log(p / (1.0 - p))


def _shifted(p: np.ndarray, shift: float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(_logit(p) + shift, -30.0, 30.0)))


def calibrate(held: HeldOut) -> Calibration:
    """The temperature, the digit-ness shift and the sure threshold, by these rules on
    held-out writers' pen ink (``held``), and what they give there:

    - temperature: the one minimising the negative log-likelihood of the digits;
    - at most ``REJECT_DIGITS`` of the digits answered "not a digit": the shift puts that
      quantile of their digit-ness exactly at P(not a digit) = ``sure``;
    - ``sure``: the lowest at which at most ``SURE_WRONG`` of the digits are answered sure
      and wrong (P(digit) = shifted digit-ness x calibrated probability).
    The not-digits are not used to choose anything: what they get is measured.
    """
    temperature = fit_temperature(held.logits, held.labels)
    probs = softmax(held.logits.astype(np.float64) / temperature)
    confidence, wrong = probs.max(axis=1), probs.argmax(axis=1) != held.labels
    edge = float(_logit(np.quantile(held.p, REJECT_DIGITS)))
    chosen = 0.999
    for sure in np.linspace(0.5, 0.999, 500):
        shift = float(_logit(1.0 - sure)) - edge
        p = _shifted(held.p, shift)
        answered = (p * confidence >= sure) & (p > 1.0 - sure)
        if (answered & wrong).mean() <= SURE_WRONG:
            chosen = float(sure)
            break
    shift = float(_logit(1.0 - chosen)) - edge
    partial = Calibration(temperature, shift, chosen, {})
    return Calibration(temperature, shift, chosen, held_out_figures(held, partial))


def held_out_figures(held: HeldOut, calibration: Calibration) -> dict[str, Any]:
    """What the single-ink part of ``decide`` answers on held-out ink with this calibration."""
    sure = calibration.sure

    def answers(logits: np.ndarray, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        probs = softmax(logits.astype(np.float64) / calibration.temperature)
        p = _shifted(raw, calibration.shift)
        rejected = 1.0 - p >= sure  # as decide rejects
        return probs.argmax(axis=1), rejected, ~rejected & (probs.max(axis=1) * p >= sure)

    read, rejected, answered_sure = answers(held.logits, held.p)
    right = read == held.labels
    _, neg_rejected, neg_sure = answers(held.neg_logits, held.neg_p)
    kinds = np.unique(held.neg_kinds)
    return {
        "digits": int(len(right)),
        "digits_right": float((right & ~rejected).mean()),
        "digits_sure_right": float((answered_sure & right).mean()),
        "digits_sure_wrong": float((answered_sure & ~right).mean()),
        "digits_called_not_digit": float(rejected.mean()),
        "not_digits": {str(k): int((held.neg_kinds == k).sum()) for k in kinds},
        "not_digits_called_not_digit": {
            str(k): float(neg_rejected[held.neg_kinds == k].mean()) for k in kinds
        },
        "not_digits_shown_sure": {
            str(k): float(neg_sure[held.neg_kinds == k].mean()) for k in kinds
        },
    }


def held_out(
    features: Features, arrays: dict[str, np.ndarray], data: HeadData, pen_only: bool = True
) -> HeldOut:
    """A network's (and its head's) answers on ``data``: its digits whose label is not in
    doubt (only the pen-drawn ones if ``pen_only``), and its not-digits."""
    keep = ~data.doubtful & ((data.digit_kinds == "pen") if pen_only else True)
    logits, hidden = outputs(features, data.digits[keep])
    neg_logits, neg_hidden = outputs(features, data.not_digits)
    return HeldOut(
        logits,
        head_probability(arrays, hidden),
        data.labels[keep],
        neg_logits,
        head_probability(arrays, neg_hidden),
        data.not_digit_kinds,
    )


def fit_arrays(features: Features, data: HeadData, seed: int) -> dict[str, np.ndarray]:
    """The head's weights, fitted on a network's hidden features of ``data``."""
    _, pos = outputs(features, data.digits)
    _, neg = outputs(features, data.not_digits)
    return train_head(pos, neg, seed)


@dataclass(frozen=True)
class FoldHead:
    """One fold's head (fitted on the other folds' ink) and its answers on the fold's ink."""

    arrays: dict[str, np.ndarray]
    held: HeldOut


def fold_heads(
    networks: dict[int, Features],
    ink: tuple[PenSet, PenSet, PenSet],
    mnist: tuple[np.ndarray, np.ndarray] | None,
    seed: int,
) -> dict[int, FoldHead]:
    """Cross-fitting: for each fold's network (trained without that fold's writers), a head
    fitted on the other folds' ``ink`` (pen digits, pen not-digits, made not-digits), and the
    network's and head's answers on the fold's own writers, whom neither saw. Pooled, those
    answers choose a recipe's calibration (``calibrate``)."""
    out = {}
    for fold, features in sorted(networks.items()):
        train = head_data(*(s.without_fold(fold) for s in ink), mnist)
        arrays = fit_arrays(features, train, seed)
        test = head_data(*(s.only_fold(fold) for s in ink))
        out[fold] = FoldHead(arrays, held_out(features, arrays, test))
    return out


def calibration(held: list[HeldOut]) -> Calibration:
    """``calibrate`` on pooled held-out answers (several fold models' own left-out writers)."""
    return calibrate(HeldOut.pooled(held))


def as_digitness(
    arrays: dict[str, np.ndarray],
    calibration: Calibration,
    metadata: dict[str, Any] | None = None,
) -> Digitness:
    """The head as ``decide`` uses it and ``store.save_checkpoint`` saves it."""
    return Digitness(
        np.asarray(arrays["w1"], dtype=np.float32),
        np.asarray(arrays["b1"], dtype=np.float32),
        np.asarray(arrays["w2"], dtype=np.float32),
        float(np.asarray(arrays["b2"]).reshape(-1)[0]),
        float(calibration.temperature),
        calibration.thresholds,
        {
            "head": f"MLP 64 -> {HIDDEN} -> 1 on the network's hidden features (ReLU, sigmoid)",
            "calibration_rules": CALIBRATION_RULES,
            **(metadata or {}),
        },
        shift=float(calibration.shift),
    )


CALIBRATION_RULES = {
    "temperature": "minimises the negative log-likelihood of held-out pen digits",
    "digitness_shift": f"puts the {REJECT_DIGITS:.2%} quantile of held-out pen digits'"
    " digit-ness at P(not a digit) = sure",
    "sure": f"lowest with sure-and-wrong <= {SURE_WRONG:.2%} of held-out pen digits",
    "not a digit": "P(not a digit) >= sure",
    "number_part": "fixed: each digit of a number more likely right than wrong",
}


def dumps(meta: dict[str, Any]) -> str:
    return json.dumps(meta, indent=2) + "\n"


# --------------------------------------------------------------------------- every network


def network_features(model: DigitNet, chunk: int = 2048) -> Features:
    """A torch network as a ``Features`` function (logits and hidden layer, as numpy): what
    the training side fits a head with, a few times faster than the numpy forward pass."""
    import torch

    from drawdigit.model import logits_and_hidden

    model = model.eval()

    def features(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        logits, hidden = [], []
        with torch.inference_mode():
            for start in range(0, len(images), chunk):
                x = torch.from_numpy(np.ascontiguousarray(images[start : start + chunk]))
                x = x.to(torch.float32)[:, None].contiguous(memory_format=torch.channels_last)
                lo, hi = logits_and_hidden(model, x)
                logits.append(lo.numpy())
                hidden.append(hi.numpy())
        return np.concatenate(logits), np.concatenate(hidden)

    return features


def folds_unseen(config: TrainConfig | None, starting: Mapping[str, Any] | None) -> frozenset[int]:
    """The writer folds of the shipped pen ink a network trained with ``config`` (None: a run
    without pen ink, such as a fine-tune) never saw, from ``starting`` (the metadata of the
    model it started from; None: from scratch).

    A run without pen ink sees none of it; one with pen ink sees every fold but
    ``config.leave_out_fold``; a model carries on what its starting model never saw. A model
    file without the record was made before drawdigit trained on pen ink: it saw none.
    """
    every = frozenset(range(FOLDS))
    uses_pen = config is not None and (config.pen_digits > 0 or config.pen_not_digits > 0)
    fold = config.leave_out_fold if config is not None else None
    this_run = every if not uses_pen else frozenset() if fold is None else frozenset({fold})
    if (config is not None and config.from_scratch) or starting is None:
        return this_run
    before = starting.get("pen_folds_unseen")
    if not isinstance(before, list):
        return this_run
    return this_run & frozenset(k for k in before if isinstance(k, int) and k in every)


def fit_for_network(
    features: Features,
    unseen: frozenset[int],
    mnist: tuple[np.ndarray, np.ndarray] | None,
    inherited: Digitness | None,
    seed: int = 0,
) -> Digitness:
    """A head for a newly trained network, with the shipped pen ink (``pendata``).

    If the network never saw some writers (``unseen`` folds), the head is fitted on the
    others' ink and the temperature and thresholds are chosen on theirs
    (``CALIBRATION_FOLD`` where it can): strangers' ink, as a user's is. A network that saw
    every writer (the bundled recipe) gets a head fitted on all the ink and the calibration
    of ``inherited`` (its starting model's, or the bundled model's: made with that recipe's
    fold models, see ``make_digitness``).
    """
    ink = (load_pen_digits(), load_pen_not_digits(), load_made_not_digits())
    about: dict[str, Any] = {"pen_folds_unseen": sorted(unseen)}
    if unseen:
        fold = CALIBRATION_FOLD if CALIBRATION_FOLD in unseen else min(unseen)
        arrays = fit_arrays(features, head_data(*(s.without_fold(fold) for s in ink), mnist), seed)
        held = held_out(features, arrays, head_data(*(s.only_fold(fold) for s in ink)))
        chosen = calibration([held])
        about["figures_held_out"] = chosen.figures
        about["calibration"] = (
            f"temperature and thresholds chosen on the pen ink of writer fold {fold}, which"
            " neither the network nor its head saw"
        )
    else:
        if inherited is None:
            raise ValueError("a network that saw every writer needs a calibration to inherit")
        arrays = fit_arrays(features, head_data(*ink, mnist), seed)
        chosen = Calibration(inherited.temperature, inherited.shift, inherited.thresholds.sure, {})
        about["calibration"] = (
            "temperature and thresholds of the model it started from, or of the bundled model"
            " (the network saw every writer of the shipped pen ink)"
        )
    return as_digitness(arrays, chosen, about)


def head_for_trained(
    network: DigitNet,
    unseen: frozenset[int],
    mnist: tuple[np.ndarray, np.ndarray] | None,
    starting_head: dict[str, Any] | None,
    seed: int = 0,
) -> tuple[Digitness | None, str]:
    """The head of a network a run or a fine-tune has just made (``fit_for_network``), and a
    note: how long it took, or why there is none (the shipped pen ink is missing or
    damaged; no calibration to inherit). ``mnist``: (images, labels) of the MNIST training
    digits the run had, sampled here; ``starting_head``: the starting model's, if any."""
    import time

    from drawdigit.store import ModelFileError, bundled_model_path, load_checkpoint

    started = time.perf_counter()
    try:
        inherited = None
        if not unseen:  # it saw every writer: inherit a calibration
            head = starting_head or load_checkpoint(bundled_model_path()).head
            inherited = Digitness.from_head(head) if head is not None else None
        sample = mnist_sample(*mnist, seed) if mnist is not None else None
        digitness = fit_for_network(network_features(network), unseen, sample, inherited, seed)
    except (ModelFileError, ValueError) as exc:
        return None, f"no 'not a digit' head ({exc})"
    return digitness, f"head fitted in {time.perf_counter() - started:.1f} s"

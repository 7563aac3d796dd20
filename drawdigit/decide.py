"""One honest answer for any ink: a digit, "not sure", a number, "not a digit", or nothing.

The network alone gives every drawing a digit, usually a confident one: an H is a sure 4, "42"
is a 4, a screenshot is a 0. ``decide`` is the one place (window, CLI and tests all call it)
that turns ink into one of five answers:

- ``digit``: one digit, sure (its sureness, digit-ness x calibrated probability, reaches
  ``Thresholds.sure``);
- ``unsure``: one digit, not sure; the two candidates are given;
- ``number``: two or more digits side by side, each read by the network;
- ``not-a-digit``: the digit-ness head says this is not a digit (letters, symbols, scribbles);
- ``empty``: no ink.

Every view (the window's panel, Look Inside, ``predict`` and ``explain``) shows ONE
distribution for a piece of ink, ``Part.distribution``: P(d) = digit-ness x the calibrated
probability of d for the ten digits, and P(not a digit) = 1 - digit-ness, eleven values that
sum to 1. ``Decision.confidence`` is the answer's own value in it, so a percentage next to an
answer is always the height of its bar, and "not sure" never stands beside a bar at or above
the sure threshold.

How: ``segment.cut`` splits the ink into groups (strokes overlapping horizontally; columns of
a picture) and every candidate digit over up to two neighbouring groups; all candidates go
through the network in ONE forward pass (``Predictor.logits_and_features``). Each candidate
gets a calibrated probability for its best digit and a digit-ness (P(one digit), from the
head in ``digitness``); its strength is their product. A dynamic programme over the groups
finds the split whose digits are strongest together; a number is answered when that split
has two or more digits of about one height, each plausible, that beat reading the whole ink
as one digit. Otherwise the whole ink is one candidate digit: a very low digit-ness (or a
P(not a digit) that reaches the sure threshold) says "not a digit"; a high probability AND a
high digit-ness say a sure digit; anything between is "not sure", with the two candidates.

A photo's cut holds several candidate pieces of ink (its cleaning's proposals: the digit,
perhaps a remnant of a grid line, the sheet's edge); each is decided the same way, and
``pick`` answers for the first that the head finds plausibly one digit. A candidate the
cleaning doubts is ink at all (``Pieces.trusted``) is never answered as a sure digit.

Confidences are calibrated: on real pen-drawn digits a "90%" is right about 90% of the time
(benchmarks/bench_decide.py measures it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from drawdigit.digitness import Digitness, Thresholds, softmax
from drawdigit.segment import NEAR_GAP, Box, Pieces, cut

if TYPE_CHECKING:
    from collections.abc import Sequence

    from drawdigit.inference import Prediction, Predictor
    from drawdigit.strokes import Drawing

KINDS = ("digit", "unsure", "number", "not-a-digit", "empty")
# Where "not a digit" sits in a ``Part.distribution``: after the ten digits.
NOT_A_DIGIT = 10
# A digit whose ink lies in several horizontally separate groups is rare (2% of the
# pen-drawn single digits of unipen-dev have two groups, none more), and its pieces nearly
# touch (segment.NEAR_GAP). Reading ink whose groups lie further apart as ONE digit (the
# whole drawing, when it may be a number) multiplies its strength by this prior for each
# such gap. Chosen by looking at the dev sets (docs/benchmarks.md, "Honest answers").
MERGE_PRIOR = 0.1
# The digits of a number are written at about one height: none below this share of the
# tallest (the small rings of a "%" are not two 0s around a 1). Also dev-set chosen.
NUMBER_HEIGHT_SHARE = 0.5


@dataclass(frozen=True)
class Part:
    """One piece of ink read as one digit: the whole drawing, or one digit of a number.

    ``probabilities``: calibrated, (10,); ``network_probabilities``: the network's own softmax
    (what ``predict --json`` reported before calibration existed). ``confidence`` is the
    calibrated P(``digit`` is right | this is a digit); ``digitness`` is P(this is one digit)
    from the head (1.0 without a head). ``box`` is in the input's pixels
    (x0, y0, x1, y1); ``image28`` is exactly what the network saw for this part.
    """

    digit: int
    confidence: float
    digitness: float
    probabilities: np.ndarray
    network_probabilities: np.ndarray
    box: Box
    image28: np.ndarray
    prior: float = 1.0  # MERGE_PRIOR for each far-apart pair of groups it joins

    @property
    def sureness(self) -> float:
        """P(this ink is one digit, and it is ``digit``): digit-ness x confidence, what a
        sure answer needs to reach (``Thresholds.sure``)."""
        return self.digitness * self.confidence

    @property
    def runner_up(self) -> int:
        return int(np.argsort(self.probabilities)[-2])

    @property
    def distribution(self) -> np.ndarray:
        """The one story every view tells, (11,) float64 summing to 1: P(d) = digit-ness x
        the calibrated probability of d for d = 0..9, then P(not a digit) = 1 - digit-ness
        (index ``NOT_A_DIGIT``). ``distribution[digit]`` is ``sureness``. Without a head
        (digit-ness 1.0) it is the calibrated probabilities and a 0 for "not a digit"."""
        return np.append(self.digitness * self.probabilities, 1.0 - self.digitness)


@dataclass(frozen=True)
class Decision:
    """The answer for one drawing; everything the window, the CLI and the tests show.

    ``kind``: one of ``KINDS``. ``digit``: the best single digit for digit and unsure, else
    None. ``confidence``: how likely the answer is right, its value in ``distribution``:
    for digit and unsure the digit's P(d) (``whole.sureness``), for not-a-digit
    P(not a digit) = 1 - digit-ness, for a number the product of its digits' sureness.
    ``candidates``: for unsure, the two digits it hesitates between. ``whole``: the whole ink
    read as one digit (None only when empty; for a number it is what one digit would have
    been). ``parts``: the digits of a number, left to right (empty for the other kinds).
    """

    kind: str
    digit: int | None = None
    confidence: float = 0.0
    candidates: tuple[int, int] | None = None
    whole: Part | None = None
    parts: tuple[Part, ...] = field(default_factory=tuple)

    @property
    def number(self) -> str | None:
        """The digits of a number as text ("4207"); None for the other kinds."""
        return "".join(str(p.digit) for p in self.parts) if self.kind == "number" else None

    @property
    def distribution(self) -> np.ndarray | None:
        """The whole ink's ``Part.distribution`` (11 values: P(0)..P(9), P(not a digit));
        None when empty. For a number it is the whole ink read as ONE digit."""
        return None if self.whole is None else self.whole.distribution

    def likeliest(self, count: int = 2) -> list[tuple[int, float]]:
        """The ``count`` most likely outcomes of ``distribution``, most likely first, as
        (index, probability); index ``NOT_A_DIGIT`` is "not a digit" (see ``outcome_name``).
        What "not sure" names: e.g. [(7, 0.62), (10, 0.31)], "7 or not a digit"."""
        distribution = self.distribution
        return [] if distribution is None else likeliest(distribution, count)

    @property
    def images(self) -> list[np.ndarray]:
        """What the model sees: every digit of a number, else the whole ink (none if empty)."""
        if self.parts:
            return [p.image28 for p in self.parts]
        return [] if self.whole is None else [self.whole.image28]

    def prediction(self) -> Prediction | None:
        """The whole ink as the older single-digit ``Prediction`` (calibrated), or None."""
        from drawdigit.inference import Prediction

        if self.whole is None:
            return None
        return Prediction.from_probabilities(self.whole.probabilities)


class Decider:
    """The network plus the digit-ness head: ``decide(ink) -> Decision``.

    Thread-safe as far as the predictor is (no state changes after construction).
    """

    def __init__(self, predictor: Predictor, digitness: Digitness | None) -> None:
        self.predictor = predictor
        self.digitness = digitness
        self.thresholds = digitness.thresholds if digitness is not None else Thresholds()

    def decide(self, source: Drawing | np.ndarray | None) -> Decision:
        """The answer for a ``Drawing`` or a grayscale picture (None: empty)."""
        return self.decide_pieces([None if source is None else cut(source)])[0]

    def decide_pieces(self, cuts: Sequence[Pieces | None]) -> list[Decision]:
        """The answers for many drawings already ``segment.cut`` (None: empty), in order.

        Every candidate of every drawing goes through the network in ONE forward pass (in
        passes of ``numpy_net.CHUNK`` images): ``drawdigit predict`` with many files pays the
        per-call costs once per chunk of files, not once per file. Each answer is the one
        ``decide`` gives for that drawing alone.
        """
        options = [[] if p is None else [p, *p.alternatives] for p in cuts]
        images = [c.image28 for each in options for p in each for c in p.candidates]
        if not images:
            return [Decision("empty") for _ in cuts]
        logits, hidden = self.predictor.logits_and_features(np.stack(images))
        raw = softmax(logits.astype(np.float64))
        if self.digitness is not None:
            probs = self.digitness.calibrate(logits)
            digitness = self.digitness.probability(hidden)
        else:
            probs = raw
            digitness = np.ones(len(images))
        out = []
        start = 0
        for each in options:
            if not each:
                out.append(Decision("empty"))
                continue
            decisions = []
            for pieces in each:
                end = start + len(pieces.candidates)
                parts = _parts(pieces, probs[start:end], raw[start:end], digitness[start:end])
                decision = self._decision(pieces, parts)
                decisions.append(decision if pieces.trusted else _doubtful(decision))
                start = end
            out.append(pick(decisions, self.thresholds.sure_digitness))
        return out

    def _decision(self, pieces: Pieces, parts: dict[tuple[int, int], Part]) -> Decision:
        whole = parts[(pieces.whole.first, pieces.whole.last)]
        number = self._best_split(pieces, parts)
        t = self.thresholds
        if self._is_number(number, whole):
            assert number is not None
            confidence = math.prod(p.sureness for p in number)
            return Decision("number", confidence=confidence, whole=whole, parts=number)
        not_digit = whole.distribution[NOT_A_DIGIT]
        # P(not a digit) at the sure level is a sure "not a digit", whatever the head's own
        # threshold: "not sure" must never stand beside a bar the app would call sure.
        if whole.digitness < t.not_digit or not_digit >= t.sure:
            return Decision("not-a-digit", confidence=float(not_digit), whole=whole)
        if whole.sureness >= t.sure and whole.digitness >= t.sure_digitness:
            return Decision("digit", whole.digit, whole.sureness, whole=whole)
        return Decision(
            "unsure", whole.digit, whole.sureness, (whole.digit, whole.runner_up), whole
        )

    def _is_number(self, split: tuple[Part, ...] | None, whole: Part) -> bool:
        """Two or more digits, each plausible, that together beat one digit for the whole."""
        t = self.thresholds
        if split is None or len(split) < 2:
            return False
        if any(p.confidence < t.number_part or p.digitness < t.not_digit for p in split):
            return False
        heights = [p.box[3] - p.box[1] for p in split]
        if min(heights) < NUMBER_HEIGHT_SHARE * max(heights):
            return False
        return math.prod(_strength(p) for p in split) > _strength(whole)

    @staticmethod
    def _best_split(pieces: Pieces, parts: dict[tuple[int, int], Part]) -> tuple[Part, ...] | None:
        """The split of groups 0..G-1 into consecutive parts with the highest product of
        confidences (dynamic programme), or None with a single group."""
        n = pieces.groups
        if n < 2:
            return None
        best = [0.0] + [-math.inf] * n  # best[j]: log-score of groups 0..j-1
        back = [0] * (n + 1)
        for j in range(1, n + 1):
            for i in range(j):
                part = parts.get((i, j - 1))
                if part is None or best[i] == -math.inf:
                    continue
                score = best[i] + math.log(max(_strength(part), 1e-12))
                if score > best[j]:
                    best[j], back[j] = score, i
        if best[n] == -math.inf:
            return None
        split, j = [], n
        while j > 0:
            i = back[j]
            split.append(parts[(i, j - 1)])
            j = i
        return tuple(split[::-1])


def pick(decisions: Sequence[Decision], sure_digitness: float) -> Decision:
    """The answer among a picture's candidate pieces of ink, in the cleaning's order (its
    own choice first): the first that the network finds plausibly one digit (digit-ness
    at least ``sure_digitness``); when none is, the most digit-like (digit-ness x
    confidence), which is then answered "not sure" or "not a digit", never a sure digit."""
    for decision in decisions:
        if decision.whole is not None and decision.whole.digitness >= sure_digitness:
            return decision
    return max(decisions, key=_answer_strength)


def _doubtful(decision: Decision) -> Decision:
    """A sure answer for ink the cleaning doubts (``Pieces.trusted``) as "not sure"."""
    whole = decision.whole
    if decision.kind not in ("digit", "number") or whole is None:
        return decision
    return Decision("unsure", whole.digit, whole.confidence, (whole.digit, whole.runner_up), whole)


def _answer_strength(decision: Decision) -> float:
    if decision.parts:
        return math.prod(_strength(p) for p in decision.parts)
    return 0.0 if decision.whole is None else _strength(decision.whole)


def _parts(
    pieces: Pieces, probs: np.ndarray, raw: np.ndarray, digitness: np.ndarray
) -> dict[tuple[int, int], Part]:
    """The candidates of one drawing as ``Part``s, from their rows of the forward pass:
    calibrated and raw probabilities, digit-ness."""
    out = {}
    for k, c in enumerate(pieces.candidates):
        digit = int(np.argmax(probs[k]))
        out[(c.first, c.last)] = Part(
            digit=digit,
            confidence=float(probs[k, digit]),
            digitness=float(digitness[k]),
            probabilities=probs[k],
            network_probabilities=raw[k],
            box=c.box,
            image28=c.image28,
            prior=math.prod(
                MERGE_PRIOR if gap > NEAR_GAP else 1.0 for gap in pieces.gaps[c.first : c.last]
            ),
        )
    return out


def _strength(part: Part) -> float:
    """How surely a piece of ink is this one digit: P(a digit) x P(this digit | a digit),
    times the prior against joining far-apart groups into one digit."""
    return part.digitness * part.confidence * part.prior


def load_decider(predictor: Predictor) -> tuple[Decider, list[str]]:
    """A decider for ``predictor`` with its own digit-ness head, and any warnings.

    A model file without a head (made before every network had one, or with a damaged one)
    still answers: calibrating nothing, with only digit / unsure / number, and says why.
    """
    if predictor.digitness is None:
        return Decider(predictor, None), [
            f"This model cannot say 'not a digit': {predictor.head_problem}. It answers only"
            " digits, numbers and 'not sure'; train or fine-tune it again to give it one."
        ]
    return Decider(predictor, predictor.digitness), []


def likeliest(distribution: np.ndarray, count: int = 2) -> list[tuple[int, float]]:
    """The ``count`` largest values of a distribution as (index, probability), largest
    first (ties: the lower index first)."""
    values = np.asarray(distribution, dtype=np.float64)
    order = np.argsort(-values, kind="stable")[:count]
    return [(int(k), float(values[k])) for k in order]


def outcome_name(index: int) -> str:
    """How an index of a ``Part.distribution`` reads: "7", or "not a digit"."""
    return "not a digit" if index == NOT_A_DIGIT else str(index)


def part_drawing(drawing: Drawing, part: Part) -> Drawing:
    """The strokes of ``drawing`` that make up ``part`` (one digit of a number).

    A stroke belongs to the part whose box holds the centre of the stroke's own extent:
    the parts were cut from whole strokes, so each stroke falls in exactly one box. Used to
    keep each digit of a corrected number as a sample of its own.
    """
    from drawdigit.strokes import Drawing

    x0, y0, x1, y1 = part.box
    strokes = []
    for stroke in drawing.strokes:
        if not stroke:
            continue
        xs = [x for x, _ in stroke]
        ys = [y for _, y in stroke]
        cx, cy = (min(xs) + max(xs)) / 2.0, (min(ys) + max(ys)) / 2.0
        if x0 <= cx <= x1 and y0 <= cy <= y1:
            strokes.append(list(stroke))
    return Drawing(drawing.width, drawing.height, strokes)

"""Training evaluation numbers: normalised gain and classical item analysis.

Pure: no Flask, no database. Scores are percentages (0–100). Labels shown to trainers are in
Indonesian; everything else is in English.
"""

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# --- Normalised gain --------------------------------------------------------------------------
# Hake, R. R. (1998). Interactive-engagement versus traditional methods: a six-thousand-student
# survey of mechanics test data for introductory physics courses. Am. J. Phys. 66(1), 64–74.
# "high-g": g >= 0.7, "medium-g": 0.3 <= g < 0.7, "low-g": g < 0.3.
MAX_SCORE = 100.0
HIGH_GAIN = 0.7
MEDIUM_GAIN = 0.3

# --- Item difficulty (p = share correct) ------------------------------------------------------
# Bands from Arikunto, S., *Dasar-dasar Evaluasi Pendidikan* (Jakarta: Bumi Aksara; several
# editions), whose table reads P 0.00–0.30 sukar, 0.31–0.70 sedang, 0.71–1.00 mudah. One
# deliberate difference: Arikunto puts exactly 0.30 in "sukar"; here 0.30 and 0.70 are "sedang".
EASY_ABOVE = 0.70
HARD_BELOW = 0.30
# Warning flags: a project rule of thumb (not Arikunto) for items that tell the trainer little.
TOO_EASY_ABOVE = 0.90
TOO_HARD_BELOW = 0.20

# --- Item discrimination ------------------------------------------------------------------------
# Upper/lower 27 % groups: Kelley, T. L. (1939). The selection of upper and lower groups for the
# validation of test items. J. Educ. Psychol. 30(1), 17–24.
GROUP_FRACTION = 0.27
# Below this many responses D and the point-biserial are too noisy to show.
MIN_RESPONSES = 10
# Arikunto (same book): D negative = "tidak baik" (discard), 0.00–0.20 = "jelek". We flag D < 0.20;
# exactly 0.20 is not flagged.
LOW_DISCRIMINATION_BELOW = 0.20

FLAG_TOO_EASY = "terlalu mudah"
FLAG_TOO_HARD = "terlalu sulit"
FLAG_NEGATIVE_DISCRIMINATION = "daya beda negatif"
FLAG_LOW_DISCRIMINATION = "daya beda rendah"

UNANSWERED = ""


def mean_or_none(values: Iterable[float | None]) -> float | None:
    """Arithmetic mean of the values that are not None; None when there are none."""
    present = [v for v in values if v is not None]
    return statistics.fmean(present) if present else None


SCORE_EPSILON = 1e-6  # far below one question in a thousand


def n_gain(pre: float | None, post: float | None) -> float | None:
    """Hake's normalised gain g = (post − pre) / (100 − pre); negative when the score dropped.

    None when a score is missing or pre is 100 (no room left to gain). Scores are percentages
    computed in floating point: 99.99999999999999 is 100, not a gain of 10^15.
    """
    if pre is None or post is None or pre >= MAX_SCORE - SCORE_EPSILON:
        return None
    return (post - pre) / (MAX_SCORE - pre)


def n_gain_category(g: float | None) -> str | None:
    """Hake's band in Indonesian: "tinggi", "sedang" or "rendah" (negative gains included)."""
    if g is None:
        return None
    if g >= HIGH_GAIN:
        return "tinggi"
    if g >= MEDIUM_GAIN:
        return "sedang"
    return "rendah"


@dataclass(frozen=True)
class GainSummary:
    """Pre-test/post-test results of one training, over PAIRED participants.

    with_both (n) counts the rows with both a pre and a post score. mean_pre, mean_post,
    mean_gain and gain_of_means are taken over those rows only: a mean pre over everyone who
    took the pre-test beside a mean post over everyone who took the post-test compares
    different people ("10,0 → 50,0" where the 50 came from others) and says nothing about gain.
    mean_gain is the mean of the individual gains (pairs whose g is defined, i.e. pre < 100);
    gain_of_means is Hake's class-level <g> = n_gain(mean_pre, mean_post). The two usually
    differ; category uses mean_gain, although Hake drew his bands for the class-level <g>.
    passed counts rows with a post score whose passed flag is True; pass_rate = passed / rows
    with a post score (paired or not: passing does not need a pre-test).
    """

    participants: int
    with_both: int
    mean_pre: float | None
    mean_post: float | None
    mean_gain: float | None
    gain_of_means: float | None
    category: str | None
    passed: int
    pass_rate: float | None


def summarise_gains(rows: Iterable[tuple[float | None, float | None, bool | None]]) -> GainSummary:
    """Summarise (pre, post, passed_post) rows, one per participant."""
    rows = list(rows)
    both = [(pre, post) for pre, post, _ in rows if pre is not None and post is not None]
    with_post = [passed for _, post, passed in rows if post is not None]
    mean_gain = mean_or_none(n_gain(pre, post) for pre, post in both)
    mean_pre = mean_or_none(pre for pre, _ in both)
    mean_post = mean_or_none(post for _, post in both)
    passed = sum(1 for p in with_post if p)
    return GainSummary(
        participants=len(rows),
        with_both=len(both),
        mean_pre=mean_pre,
        mean_post=mean_post,
        mean_gain=mean_gain,
        gain_of_means=n_gain(mean_pre, mean_post),
        category=n_gain_category(mean_gain),
        passed=passed,
        pass_rate=passed / len(with_post) if with_post else None,
    )


# --- Item analysis (classical test theory) ------------------------------------------------------


@dataclass(frozen=True)
class ItemResponse:
    """One attempt's answer to one item."""

    total_correct: int  # correct answers in the whole attempt, this item included
    correct: bool
    selected: tuple[str, ...]  # option keys chosen; empty = unanswered


@dataclass(frozen=True)
class ItemStats:
    n: int
    difficulty: float | None
    difficulty_label: str | None
    discrimination: float | None
    point_biserial: float | None
    option_counts: dict[str, int]
    flags: tuple[str, ...]


def difficulty_label(p: float | None) -> str | None:
    """Arikunto's band for a difficulty index: "mudah", "sedang" or "sukar"."""
    if p is None:
        return None
    if p > EASY_ABOVE:
        return "mudah"
    if p < HARD_BELOW:
        return "sukar"
    return "sedang"


def _rest_score(response: ItemResponse) -> int:
    """Total score without this item, so the item is not correlated with itself."""
    return response.total_correct - int(response.correct)


def _discrimination(responses: Sequence[ItemResponse]) -> float | None:
    """D = p_upper − p_lower over the top and bottom 27 % by rest score.

    Ties keep the input order (a stable sort): among equal rest scores the earlier response
    ranks higher, so callers should pass responses in a fixed order (e.g. by attempt id).
    """
    n = len(responses)
    if n < MIN_RESPONSES:
        return None
    size = max(1, round(GROUP_FRACTION * n))
    ranked = sorted(responses, key=_rest_score, reverse=True)
    upper = sum(r.correct for r in ranked[:size])
    lower = sum(r.correct for r in ranked[-size:])
    # One division of the integer difference: 3/5 − 2/5 would give 0.19999…, not 0.2.
    return (upper - lower) / size


def _point_biserial(responses: Sequence[ItemResponse]) -> float | None:
    """Pearson correlation between correct (0/1) and the rest score."""
    if len(responses) < MIN_RESPONSES:
        return None
    item = [float(r.correct) for r in responses]
    rest = [float(_rest_score(r)) for r in responses]
    if len(set(item)) < 2 or len(set(rest)) < 2:
        return None  # zero variance: the correlation is undefined
    # Clamp: rounding can land a hair outside [-1, 1] for a perfect (anti-)correlation.
    return max(-1.0, min(1.0, statistics.correlation(item, rest)))


def _option_counts(responses: Sequence[ItemResponse], option_keys: Sequence[str]) -> dict[str, int]:
    """Choices per option key (multi-answer items count every key chosen) plus "" = unanswered.

    A key that is not in option_keys (e.g. an option removed later) is still counted.
    """
    counts = dict.fromkeys(option_keys, 0)
    counts[UNANSWERED] = 0
    for response in responses:
        if not response.selected:
            counts[UNANSWERED] += 1
        for key in dict.fromkeys(response.selected):
            counts[key] = counts.get(key, 0) + 1
    return counts


def _flags(p: float | None, d: float | None, r_pbis: float | None) -> tuple[str, ...]:
    flags = []
    if p is not None and p > TOO_EASY_ABOVE:
        flags.append(FLAG_TOO_EASY)
    if p is not None and p < TOO_HARD_BELOW:
        flags.append(FLAG_TOO_HARD)
    if (d is not None and d < 0) or (r_pbis is not None and r_pbis < 0):
        flags.append(FLAG_NEGATIVE_DISCRIMINATION)
    if d is not None and 0 <= d < LOW_DISCRIMINATION_BELOW:
        flags.append(FLAG_LOW_DISCRIMINATION)
    return tuple(flags)


def item_statistics(responses: Sequence[ItemResponse], option_keys: Sequence[str]) -> ItemStats:
    """Difficulty, discrimination, point-biserial, option counts and flags for one item."""
    n = len(responses)
    p = sum(r.correct for r in responses) / n if n else None
    d = _discrimination(responses)
    r_pbis = _point_biserial(responses)
    return ItemStats(
        n=n,
        difficulty=p,
        difficulty_label=difficulty_label(p),
        discrimination=d,
        point_biserial=r_pbis,
        option_counts=_option_counts(responses, option_keys),
        # A handful of answers says little about an item: no flag before MIN_RESPONSES.
        flags=_flags(p, d, r_pbis) if n >= MIN_RESPONSES else (),
    )

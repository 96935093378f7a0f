"""N-gain and item analysis: the numbers trainers read on the evaluation pages."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bimtek.quiz.stats import (
    GainSummary,
    ItemResponse,
    item_statistics,
    mean_or_none,
    n_gain,
    n_gain_category,
    summarise_gains,
)

KEYS = ("a", "b", "c", "d")


def responses(
    rows: list[tuple[int, bool]], selected: tuple[str, ...] = ("a",)
) -> list[ItemResponse]:
    """Responses from (rest score, correct) pairs; total_correct = rest + this item."""
    return [ItemResponse(rest + int(ok), ok, selected) for rest, ok in rows]


# --- mean_or_none -------------------------------------------------------------------------------


def test_mean_or_none_ignores_none_but_not_zero():
    assert mean_or_none([0.0, None, 10.0]) == 5.0
    assert mean_or_none([None, None]) is None
    assert mean_or_none([]) is None
    assert mean_or_none(iter([3.0])) == 3.0


# --- n_gain -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pre", "post", "expected"),
    [
        (40, 70, 0.5),  # 30 / 60
        (0, 100, 1.0),
        (50, 50, 0.0),
        (80, 60, -1.0),  # −20 / 20: a drop is reported, not hidden
        (100, 100, None),  # no room to gain: never divide by zero
        (100, 90, None),
        (None, 80, None),
        (80, None, None),
        (None, None, None),
    ],
)
def test_n_gain_examples(pre, post, expected):
    assert n_gain(pre, post) == expected


@pytest.mark.parametrize(
    ("g", "category"),
    [
        (1.0, "tinggi"),
        (0.7, "tinggi"),
        (0.6999, "sedang"),
        (0.3, "sedang"),
        (0.2999, "rendah"),
        (0.0, "rendah"),
        (-1.0, "rendah"),
        (None, None),
    ],
)
def test_n_gain_category_boundaries(g, category):
    assert n_gain_category(g) == category


def test_category_of_computed_gains_on_the_boundary():
    # 42 / 60 and 15 / 50 are exactly 0.7 and 0.3: the trainer must not see them drop a band.
    assert n_gain_category(n_gain(40, 82)) == "tinggi"
    assert n_gain_category(n_gain(50, 65)) == "sedang"


# Scores as stored: correct answers out of a test length as a percentage, or two decimals.
# (Raw floats would bring subnormal differences that underflow to g == 0: not a real score.)
recorded = st.one_of(
    st.integers(1, 60).flatmap(lambda m: st.integers(0, m).map(lambda k: k * 100 / m)),
    st.floats(min_value=0, max_value=100).map(lambda x: round(x, 2)),
)


@given(recorded.filter(lambda s: s < 100), recorded)
def test_gain_is_at_most_one_and_has_the_sign_of_the_change(pre, post):
    g = n_gain(pre, post)
    assert g is not None
    assert g <= 1
    assert (g > 0, g == 0, g < 0) == (post > pre, post == pre, post < pre)


@given(recorded.filter(lambda s: s < 100), recorded)
def test_gain_is_one_exactly_when_post_is_full_marks(pre, post):
    assert (n_gain(pre, post) == 1) == (post == 100)


# --- summarise_gains ----------------------------------------------------------------------------


def test_summarise_gains_with_missing_scores():
    rows = [
        (40, 70, True),  # g = 30/60 = 0.5
        (60, 90, True),  # g = 30/40 = 0.75
        (80, 60, False),  # g = −20/20 = −1.0
        (None, 85, True),  # skipped the pre-test: no g
        (50, None, None),  # skipped the post-test: no g, not in the pass rate
        (100, 100, True),  # pre = 100: g undefined, but it has both scores
    ]
    summary = summarise_gains(rows)
    # Paired only (the 4 rows with both scores):
    # mean_pre  = (40 + 60 + 80 + 100) / 4 = 70
    # mean_post = (70 + 90 + 60 + 100) / 4 = 80
    # mean_gain = (0.5 + 0.75 − 1.0) / 3 = 0.0833…  → "rendah"
    # gain_of_means: (80 − 70) / (100 − 70) = 0.333…
    # passed: 4 of the 5 rows with a post score (passing needs no pre-test)
    assert summary == GainSummary(
        participants=6,
        with_both=4,
        mean_pre=70.0,
        mean_post=80.0,
        mean_gain=pytest.approx(0.25 / 3),
        gain_of_means=pytest.approx(1 / 3),
        category="rendah",
        passed=4,
        pass_rate=0.8,
    )


def test_mean_of_gains_differs_from_gain_of_means():
    summary = summarise_gains([(0, 50, False), (90, 100, True)])
    # individual: 50/100 = 0.5 and 10/10 = 1.0 → mean_gain = 0.75 ("tinggi")
    # class:      pre 45, post 75 → (75 − 45) / (100 − 45) = 30/55 = 0.5454… ("sedang")
    assert summary.mean_gain == pytest.approx(0.75)
    assert summary.gain_of_means == pytest.approx(30 / 55)
    assert summary.category == "tinggi"
    assert n_gain_category(summary.gain_of_means) == "sedang"
    assert summary.pass_rate == 0.5


def test_means_compare_the_same_people():
    # One participant took only the pre-test (10), another only the post-test (90), a third
    # both (40 → 70). Unpaired means would read 25 → 80; paired, the one complete row counts.
    summary = summarise_gains(iter([(10, None, None), (None, 90, True), (40, 70, True)]))
    assert (summary.with_both, summary.mean_pre, summary.mean_post) == (1, 40.0, 70.0)
    assert summary.gain_of_means == pytest.approx(0.5)  # (70 − 40) / 60
    assert summary.mean_gain == pytest.approx(0.5)
    assert summary.pass_rate == 1.0  # both post-test takers passed


def test_summarise_gains_of_nobody():
    assert summarise_gains([]) == GainSummary(0, 0, None, None, None, None, None, 0, None)
    only_pre = summarise_gains([(30, None, None)])
    assert (only_pre.with_both, only_pre.mean_pre, only_pre.mean_post) == (0, None, None)
    assert only_pre.pass_rate is None


# --- item_statistics ----------------------------------------------------------------------------


def test_perfect_item():
    # Ten people; those who got it right are 2 points ahead on the rest of the test.
    stats = item_statistics(responses([(2, True)] * 5 + [(0, False)] * 5), KEYS)
    assert stats.difficulty == 0.5
    assert stats.difficulty_label == "sedang"
    assert stats.discrimination == 1.0  # groups of round(2.7) = 3: 3/3 − 0/3
    assert stats.point_biserial == pytest.approx(1.0)
    assert stats.flags == ()


def test_point_biserial_by_hand_and_stable_ties():
    rows = [(6, True), (5, True), (4, True), (3, True), (2, True)]
    rows += [(4, False), (3, False), (2, False), (1, False), (0, False)]
    stats = item_statistics(responses(rows), KEYS)
    # rest mean 3, population variance 30/10 = 3; means 4 (right) and 2 (wrong), p = q = 0.5:
    # r = (4 − 2) / √3 · √(0.5 · 0.5) = 1/√3
    assert stats.point_biserial == pytest.approx(1 / math.sqrt(3))
    # Top 3 by rest score: 6, 5 and the first-listed 4 (right); bottom 3: 0, 1 and the
    # later-listed 2 (wrong): D = 3/3 − 0/3.
    assert stats.discrimination == 1.0
    # Listing the wrong answers first swaps who wins the ties: upper 2/3, lower 1/3.
    swapped = item_statistics(responses(rows[5:] + rows[:5]), KEYS)
    assert swapped.discrimination == pytest.approx(1 / 3)
    assert swapped.point_biserial == stats.point_biserial


def test_point_biserial_never_exceeds_one():
    # One of 11 got it right and is 3 ahead: a perfect correlation that the float arithmetic
    # of statistics.correlation puts at 1.0000000000000002.
    stats = item_statistics(responses([(3, True)] + [(0, False)] * 10), KEYS)
    assert stats.point_biserial == 1.0


def test_item_only_weak_participants_get_right():
    rows = [(rest, rest <= 4) for rest in range(9, -1, -1)]
    stats = item_statistics(responses(rows), KEYS)
    assert stats.discrimination == -1.0
    assert stats.point_biserial is not None and stats.point_biserial < 0
    assert "daya beda negatif" in stats.flags
    assert "daya beda rendah" not in stats.flags


def test_negative_point_biserial_alone_raises_the_flag():
    # D = 0 (one right in each group), but the middle group reverses the trend.
    rows = [(9, True), (8, False), (7, False)]
    rows += [(6, False), (5, False), (4, True), (3, True)]
    rows += [(2, False), (1, False), (0, True)]
    stats = item_statistics(responses(rows), KEYS)
    assert stats.discrimination == 0.0
    assert stats.point_biserial is not None and stats.point_biserial < 0
    assert stats.flags == ("daya beda negatif", "daya beda rendah")


def test_item_everyone_gets_right():
    stats = item_statistics(responses([(rest, True) for rest in range(12)]), KEYS)
    assert stats.difficulty == 1.0
    assert stats.difficulty_label == "mudah"
    assert stats.point_biserial is None  # no variance in the item: undefined, not 0
    assert stats.discrimination == 0.0
    assert stats.flags == ("terlalu mudah", "daya beda rendah")


def test_item_nobody_gets_right():
    stats = item_statistics(responses([(rest, False) for rest in range(10)]), KEYS)
    assert (stats.difficulty, stats.difficulty_label) == (0.0, "sukar")
    assert stats.point_biserial is None
    assert stats.flags == ("terlalu sulit", "daya beda rendah")


def test_everyone_with_the_same_rest_score_has_no_point_biserial():
    stats = item_statistics(responses([(3, i % 2 == 0) for i in range(10)]), KEYS)
    assert stats.point_biserial is None


@pytest.mark.parametrize(
    ("right", "label", "flag"),
    [
        (0, "sukar", "terlalu sulit"),
        (1, "sukar", "terlalu sulit"),  # p = 0.10
        (2, "sukar", None),  # p = 0.20: "terlalu sulit" only below 0.20
        (3, "sedang", None),  # p = 0.30
        (7, "sedang", None),  # p = 0.70
        (8, "mudah", None),
        (9, "mudah", None),  # p = 0.90: "terlalu mudah" only above 0.90
        (10, "mudah", "terlalu mudah"),
    ],
)
def test_difficulty_bands_and_flags(right, label, flag):
    # Everyone has the same rest score, so only difficulty flags can appear.
    stats = item_statistics(responses([(5, i < right) for i in range(10)]), KEYS)
    assert stats.difficulty == right / 10
    assert stats.difficulty_label == label
    assert [f for f in stats.flags if f.startswith("terlalu")] == ([flag] if flag else [])


def test_discrimination_of_exactly_point_two_is_not_low():
    # 20 people → groups of round(5.4) = 5; upper 3 right, lower 2 right: D = 1/5.
    pattern = [True, True, True, False, False] + [True] * 10 + [True, True, False, False, False]
    stats = item_statistics(responses(list(zip(range(19, -1, -1), pattern, strict=True))), KEYS)
    assert stats.discrimination == 0.2
    assert "daya beda rendah" not in stats.flags


def test_low_discrimination_is_flagged():
    # 22 people → groups of round(5.94) = 6; upper 4 right, lower 3 right: D = 1/6.
    pattern = [True] * 4 + [False] * 2 + [True] * 10 + [True] * 3 + [False] * 3
    stats = item_statistics(responses(list(zip(range(21, -1, -1), pattern, strict=True))), KEYS)
    assert stats.discrimination == pytest.approx(1 / 6)
    assert stats.point_biserial is not None and stats.point_biserial > 0
    assert stats.flags == ("daya beda rendah",)


def test_fewer_than_ten_responses_have_no_discrimination():
    nine = responses([(2, True)] * 5 + [(0, False)] * 4)
    stats = item_statistics(nine, KEYS)
    assert stats.discrimination is None
    assert stats.point_biserial is None
    assert stats.difficulty == pytest.approx(5 / 9)
    assert not any(f.startswith("daya beda") for f in stats.flags)
    assert item_statistics(nine + responses([(0, False)]), KEYS).discrimination == 1.0


def test_option_counts_include_unchosen_and_unanswered():
    answers = [("a",), ("a",), ("b",), (), ("a",), (), ("a", "c"), ("z",)]
    stats = item_statistics([ItemResponse(1, key == ("a",), key) for key in answers], KEYS)
    assert stats.option_counts == {"a": 4, "b": 1, "c": 1, "d": 0, "": 2, "z": 1}
    assert list(stats.option_counts)[:5] == ["a", "b", "c", "d", ""]


def test_no_responses_at_all():
    stats = item_statistics([], KEYS)
    assert stats.n == 0
    assert stats.difficulty is None and stats.difficulty_label is None
    assert stats.discrimination is None and stats.point_biserial is None
    assert stats.option_counts == {"a": 0, "b": 0, "c": 0, "d": 0, "": 0}
    assert stats.flags == ()


single_answers = st.lists(
    st.builds(
        lambda rest, ok, key: ItemResponse(rest + int(ok), ok, (key,) if key else ()),
        st.integers(0, 30),
        st.booleans(),
        st.sampled_from((*KEYS, "")),
    ),
    max_size=60,
)


@given(single_answers)
def test_item_statistics_stay_in_range(rs):
    stats = item_statistics(rs, KEYS)
    assert stats.n == len(rs)
    assert sum(stats.option_counts.values()) == stats.n
    if rs:
        assert stats.difficulty is not None and 0 <= stats.difficulty <= 1
    assert (stats.discrimination is None) == (len(rs) < 10)
    if stats.discrimination is not None:
        assert -1 <= stats.discrimination <= 1
    if stats.point_biserial is not None:
        assert -1 <= stats.point_biserial <= 1


def test_no_flags_before_enough_answers():
    stats = item_statistics(responses([(rest, False) for rest in range(9)]), KEYS)
    assert stats.difficulty == 0.0
    assert stats.flags == ()

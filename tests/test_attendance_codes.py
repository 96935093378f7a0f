"""The rotating check-in code (pure: no app, no database)."""

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from bimtek.attendance import codes

SECRET = "a" * 64
T0 = datetime(2026, 11, 29, 8, 0, 0, tzinfo=UTC)
PERIOD = 45


def test_current_and_previous_window_are_accepted_older_are_not():
    now = T0 + timedelta(seconds=100)
    current = codes.code_for(SECRET, 7, codes.window_of(now, PERIOD))
    previous = codes.code_for(SECRET, 7, codes.window_of(now, PERIOD) - 1)
    older = codes.code_for(SECRET, 7, codes.window_of(now, PERIOD) - 2)
    assert codes.matching_window(SECRET, 7, current, now, PERIOD) == codes.window_of(now, PERIOD)
    assert codes.matching_window(SECRET, 7, previous, now, PERIOD) is not None
    assert codes.matching_window(SECRET, 7, older, now, PERIOD) is None


def test_a_code_belongs_to_one_session_and_one_secret():
    now = T0
    code = codes.code_for(SECRET, 7, codes.window_of(now, PERIOD))
    assert codes.matching_window(SECRET, 8, code, now, PERIOD) is None
    assert codes.matching_window("b" * 64, 7, code, now, PERIOD) is None


def test_typed_codes_are_normalised_and_junk_refused():
    now = T0
    code = codes.code_for(SECRET, 1, codes.window_of(now, PERIOD))
    spaced = f" {code[:3]} {code[3:]} "
    assert codes.matching_window(SECRET, 1, spaced, now, PERIOD) is not None
    for junk in (None, "", "12345", "1234567", "١٢٣٤٥٦", "abcdef", "123 45x"):
        assert codes.normalise(junk) is None


def test_code_changes_with_the_window_and_the_countdown_fits_the_period():
    assert codes.seconds_left(T0, PERIOD) in range(1, PERIOD + 1)
    seen = {codes.code_for(SECRET, 1, w) for w in range(200)}
    assert len(seen) > 190  # six digits: collisions are rare


@given(st.integers(min_value=0, max_value=2**40), st.integers(min_value=1, max_value=10**6))
def test_codes_are_always_six_ascii_digits(window, session_id):
    code = codes.code_for(SECRET, session_id, window)
    assert len(code) == 6 and code.isascii() and code.isdigit()

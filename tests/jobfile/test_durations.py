import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from copilot_batch.jobfile import parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [(90, 90.0), (0.5, 0.5), ("90s", 90.0), ("10m", 600.0), ("1h30m", 5400.0),
     ("500ms", 0.5), ("1.5h", 5400.0), ("2m30s", 150.0)],
)  # fmt: skip
def test_durations(text: str | float, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "10", "10 minutes", "m", "1d", "-5s", "1h 30m"])
def test_invalid_durations(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


def test_zero_is_invalid() -> None:
    with pytest.raises(ValueError, match="greater than zero"):
        parse_duration("0s")


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ([1, 2], "use seconds (90) or number+unit parts"),
        (None, "use seconds (90) or number+unit parts"),
        (True, "use seconds (90) or number+unit parts"),
        ({"s": 1}, "use seconds (90) or number+unit parts"),
        (float("nan"), "use seconds (90) or number+unit parts"),
        (-5, "must be greater than zero"),
        (-0.5, "must be greater than zero"),
        (float("inf"), "must be at most 7 days (168h)"),
        (10**400, "must be at most 7 days (168h)"),
        (7 * 24 * 3600 + 1, "must be at most 7 days (168h)"),
        ("169h", "must be at most 7 days (168h)"),
        ("9" * 5000 + "s", "must be at most 7 days (168h)"),
    ],
)
def test_durations_of_other_types_or_absurd_sizes_are_refused(value: object, problem: str) -> None:
    with pytest.raises(ValueError, match=r"^invalid duration .*: " + re.escape(problem)):
        parse_duration(value)


def test_a_week_is_the_longest_duration() -> None:
    assert parse_duration(7 * 24 * 3600) == parse_duration("168h") == 604800.0


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(), st.lists))
def test_any_value_gives_a_duration_in_range_or_a_value_error(value: object) -> None:
    try:
        seconds = parse_duration(value)
    except ValueError as refused:
        assert str(refused).startswith("invalid duration ")
    else:
        assert 0 < seconds <= 7 * 24 * 3600

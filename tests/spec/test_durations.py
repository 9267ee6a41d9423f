import pytest

from copilot_batch.spec import parse_duration


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

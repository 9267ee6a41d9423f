"""Durations as job files write them: ``90``, ``90s``, ``10m``, ``1h30m``, ``500ms``."""

from __future__ import annotations

import re

_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)")
_WHOLE = re.compile(rf"(?:{_PART.pattern})+")


def parse_duration(value: str | float) -> float:
    """Seconds in ``value``: a positive number of seconds or a string of number+unit parts.

    Raises ``ValueError`` with a message fit to show the user.
    """
    if isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif _WHOLE.fullmatch(value.strip()):
        seconds = sum(float(number) * _UNIT_SECONDS[unit] for number, unit in _PART.findall(value))
    else:
        raise ValueError(
            f"invalid duration {value!r}: use seconds (90) or number+unit parts "
            "(500ms, 90s, 10m, 1h30m)"
        )
    if seconds <= 0:
        raise ValueError(f"invalid duration {value!r}: must be greater than zero")
    return seconds

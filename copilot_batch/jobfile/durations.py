"""Durations as job files write them: ``90``, ``90s``, ``10m``, ``1h30m``, ``500ms``."""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

from .located_yaml import shown

if TYPE_CHECKING:
    from .problems import Problems, Where

MAX_SECONDS = 7 * 24 * 3600  # a week: longer is a mistake (or 10**400)

_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)")
_WHOLE = re.compile(rf"(?:{_PART.pattern})+")


def parse_duration(value: Any) -> float:
    """Seconds in ``value``: a number of seconds or a string of number+unit parts, more than
    zero and at most ``MAX_SECONDS``.

    Raises ``ValueError`` with a message fit to show the user.
    """
    if isinstance(value, str) and _WHOLE.fullmatch(value.strip()):
        seconds = sum(float(number) * _UNIT_SECONDS[unit] for number, unit in _PART.findall(value))
    elif isinstance(value, int) and not isinstance(value, bool):
        seconds = float(min(value, MAX_SECONDS + 1))  # 10**400 is too long, not an OverflowError
    elif isinstance(value, float) and not math.isnan(value):
        seconds = value
    else:
        raise ValueError(
            f"invalid duration {shown(value)}: use seconds (90) or number+unit parts "
            "(500ms, 90s, 10m, 1h30m)"
        )
    if seconds <= 0:
        raise ValueError(f"invalid duration {shown(value)}: must be greater than zero")
    if seconds > MAX_SECONDS:
        raise ValueError(f"invalid duration {shown(value)}: must be at most 7 days (168h)")
    return seconds


def duration_option(value: str | float | None, where: Where, problems: Problems) -> float | None:
    """Seconds, or ``None`` when the job file gives no value (or a bad one, reported)."""
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        problems.add(where, str(exc))
        return None

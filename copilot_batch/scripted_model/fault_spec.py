"""Faults written as text, for ``copilot-batch model-server --fault``.

``KIND[:KEY=VALUE,…]`` builds one :class:`~.server.Fault`: ``KIND`` is a fault kind and
the keys are its fields (``times``, ``after``, ``retry-after``, ``prompt``). ``prompt``
comes last and takes the rest of the text, so a prompt may hold commas and ``=``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, cast, get_args

if TYPE_CHECKING:
    from .server import Fault

FaultKind = Literal["rate_limit", "server_error", "hang", "disconnect", "malformed"]
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)
_MAX_COUNT = 1_000_000_000  # more requests than a server ever sees
_MAX_RETRY_AFTER = 86_400  # a day, as a recording's retryAfterSeconds
FAULT_SYNTAX = "KIND[:times=N|all,after=N,retry-after=SECONDS,prompt=TEXT]"


def _count(key: str, value: str, least: int) -> int:
    if not value.isascii() or not value.isdigit() or len(value) > 10:
        raise ValueError(f"{key}={value!r} is not a whole number")
    number = int(value)
    if not least <= number <= _MAX_COUNT:
        raise ValueError(f"{key}={number} is out of range ({least} to {_MAX_COUNT})")
    return number


def _fields(options: str) -> dict[str, str]:
    """``KEY=VALUE,…`` as a mapping; ``prompt=`` takes everything after it."""
    found: dict[str, str] = {}
    rest = options
    while rest:
        if rest.startswith("prompt="):
            key, value, rest = "prompt", rest.removeprefix("prompt="), ""
        else:
            item, comma, rest = rest.partition(",")
            key, equals, value = item.partition("=")
            if comma and not rest:
                raise ValueError(f"{options!r} ends in a comma")
            if not equals:
                raise ValueError(f"{item!r} is not KEY=VALUE")
        if key in found:
            raise ValueError(f"{key} is given twice")
        found[key] = value
    return found


def parse_fault(text: str) -> Fault:
    """The fault ``text`` describes (see :data:`FAULT_SYNTAX`); ValueError says what is wrong."""
    kind, _, options = text.partition(":")
    if kind not in FAULT_KINDS:
        raise ValueError(f"unknown fault kind {kind!r}; one of {', '.join(FAULT_KINDS)}")
    fields = _fields(options)
    unknown = sorted(set(fields) - {"times", "after", "retry-after", "prompt"})
    if unknown:
        raise ValueError(
            f"unknown key {unknown[0]!r}; the keys are times, after, retry-after, prompt"
        )
    times_text = fields.get("times", "1")
    times = None if times_text == "all" else _count("times", times_text, 1)
    after = _count("after", fields.get("after", "0"), 0)
    if "retry-after" in fields and kind != "rate_limit":
        raise ValueError("retry-after is for rate_limit faults only")
    retry_after = _count("retry-after", fields.get("retry-after", "1"), 0)
    if retry_after > _MAX_RETRY_AFTER:
        raise ValueError(f"retry-after={retry_after} is more than a day ({_MAX_RETRY_AFTER} s)")
    prompt = fields.get("prompt")
    if prompt == "":
        raise ValueError("prompt= needs the text a prompt contains")
    # The server (aiohttp) only when a fault is given: FAULT_SYNTAX is needed without it.
    from .server import Fault

    return Fault(cast(FaultKind, kind), prompt, times, retry_after, after)

"""What a task's attempt and a whole run may spend: the task's ``limits``, checked as its
session's events arrive, and the run's token budget (``--max-tokens``, ``budget:``).

Both count the tokens the provider reported and, for a model call it reported none for,
an estimate (:func:`estimate_tokens`), so a server that sends no usage cannot run past them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..errors import LimitExceeded
from ..jobfile import JobSpec, TaskLimits

# assistant.usage reports AI credits in billionths (copilotUsage.totalNanoAiu).
NANO = 1_000_000_000
# The estimate of a call whose usage went unreported: a token per four characters (bytes
# of the request body the CLI sent; characters of the reply), OpenAI's rule of thumb.
CHARACTERS_PER_TOKEN = 4


def estimate_tokens(characters: int) -> int:
    """The tokens ``characters`` of text are estimated as (rounded up)."""
    return math.ceil(characters / CHARACTERS_PER_TOKEN)


def crossed(
    limits: TaskLimits,
    *,
    tokens: int,
    tool_calls: int,
    turns: int,
    ai_credits: float | None,
    estimated_tokens: int = 0,
) -> LimitExceeded | None:
    """The first of ``limits`` the attempt has gone past (a limit of N allows N), or None.
    ``tokens`` counts the ``estimated_tokens`` of calls whose usage went unreported."""
    spent: tuple[tuple[str, float | None, float | None], ...] = (
        ("tokens", tokens, limits.tokens),
        ("tool_calls", tool_calls, limits.tool_calls),
        ("turns", turns, limits.turns),
        ("ai_credits", ai_credits, limits.ai_credits),
    )
    for name, value, maximum in spent:
        if maximum is not None and value is not None and value > maximum:
            estimated = estimated_tokens if name == "tokens" else 0
            return LimitExceeded(name, value, maximum, estimated)
    return None


def run_budget(max_tokens: int | None, jobs: Sequence[JobSpec]) -> int | None:
    """The tokens a run may spend: ``--max-tokens``, else the smallest ``budget.tokens`` of
    its job files (each job file's budget is then kept), else no budget."""
    if max_tokens is not None:
        return max_tokens
    return min((job.budget_tokens for job in jobs if job.budget_tokens is not None), default=None)


class TokenBudget:
    """The tokens a run has spent against its budget (``maximum``; None: no budget), and
    how many of them were estimated for calls whose usage went unreported."""

    def __init__(self, maximum: int | None) -> None:
        self.maximum = maximum
        self.spent = 0
        self.estimated = 0

    def spend(self, tokens: int, estimated: int = 0) -> None:
        """Count ``tokens``, of which ``estimated`` were estimated."""
        self.spent += tokens
        self.estimated += estimated

    @property
    def exhausted(self) -> bool:
        return self.maximum is not None and self.spent >= self.maximum

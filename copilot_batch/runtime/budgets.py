"""What a task's attempt and a whole run may spend: the task's ``limits``, checked as its
session's events arrive, and the run's token budget (``--max-tokens``, ``budget:``)."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import LimitExceeded
from ..jobfile import JobSpec, TaskLimits

# assistant.usage reports AI credits in billionths (copilotUsage.totalNanoAiu).
NANO = 1_000_000_000


def crossed(
    limits: TaskLimits, *, tokens: int, tool_calls: int, turns: int, ai_credits: float | None
) -> LimitExceeded | None:
    """The first of ``limits`` the attempt has gone past (a limit of N allows N), or None."""
    spent: tuple[tuple[str, float | None, float | None], ...] = (
        ("tokens", tokens, limits.tokens),
        ("tool_calls", tool_calls, limits.tool_calls),
        ("turns", turns, limits.turns),
        ("ai_credits", ai_credits, limits.ai_credits),
    )
    for name, value, maximum in spent:
        if maximum is not None and value is not None and value > maximum:
            return LimitExceeded(name, value, maximum)
    return None


def run_budget(max_tokens: int | None, jobs: Sequence[JobSpec]) -> int | None:
    """The tokens a run may spend: ``--max-tokens``, else the smallest ``budget.tokens`` of
    its job files (each job file's budget is then kept), else no budget."""
    if max_tokens is not None:
        return max_tokens
    return min((job.budget_tokens for job in jobs if job.budget_tokens is not None), default=None)


class TokenBudget:
    """The tokens a run has spent against its budget (``maximum``; None: no budget)."""

    def __init__(self, maximum: int | None) -> None:
        self.maximum = maximum
        self.spent = 0

    def spend(self, tokens: int) -> None:
        self.spent += tokens

    @property
    def exhausted(self) -> bool:
        return self.maximum is not None and self.spent >= self.maximum

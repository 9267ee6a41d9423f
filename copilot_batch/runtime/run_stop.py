"""Why a run stops before every task has ended (a signal, its run_timeout, a failure, its
token budget), and the state run.json gives it at the end."""

from __future__ import annotations

import math

import anyio

from ..records import RunStatus
from .budgets import TokenBudget


class RunStop:
    """How the run is stopping, told as it happens; ``reason`` and ``status`` read it."""

    def __init__(self, run_timeout: float | None, max_tokens: int | None = None) -> None:
        self.run_timeout = run_timeout
        self.budget = TokenBudget(max_tokens)
        self.held_back = False  # the spent budget kept an attempt from starting
        self.deadline = math.inf  # anyio.current_time() when run_timeout expires
        self.interrupted = False  # SIGINT, SIGTERM or a cancellation from outside
        self.timed_out = False  # run_timeout cancelled tasks
        self.failure: str | None = None  # why the run failed (it could not go on)

    def start_clock(self) -> None:
        """The run's tasks start now: run_timeout counts from here."""
        if self.run_timeout is not None:
            self.deadline = anyio.current_time() + self.run_timeout

    def interrupt(self) -> None:
        self.interrupted = True

    def time_out(self) -> None:
        self.timed_out = True

    def fail(self, why: str) -> None:
        self.failure = why

    def holds_back(self) -> bool:
        """Whether a new attempt must not start because the token budget is spent (noted:
        the run then ends ``budget_exhausted``)."""
        if self.budget.exhausted:
            self.held_back = True
        return self.held_back

    @property
    def stopped_early(self) -> bool:
        return self.interrupted or self.timed_out or self.failure is not None or self.held_back

    def reason(self) -> str:
        """Why tasks are being cancelled. Asked while the cancellation is under way, before
        the run knows how it ended, so a passed deadline is what tells run_timeout."""
        if self.failure:
            return f"the run stopped ({self.failure})"
        if anyio.current_time() >= self.deadline and not self.interrupted:
            return f"the run's run_timeout of {self.run_timeout:g}s expired"
        if self.held_back and not self.interrupted:
            return f"the run's token budget of {self.budget.maximum} was spent{self._estimate()}"
        return "the run was interrupted"

    def _estimate(self) -> str:
        estimated = self.budget.estimated
        if not estimated:
            return ""
        return f" (counting ~{estimated} tokens estimated for model calls without usage)"

    @property
    def status(self) -> RunStatus:
        """The run's final state: an interruption first, then a failure, then run_timeout,
        then the budget."""
        if self.interrupted:
            return RunStatus.INTERRUPTED
        if self.failure:
            return RunStatus.FAILED
        if self.timed_out:
            return RunStatus.TIMED_OUT
        if self.held_back:
            return RunStatus.BUDGET_EXHAUSTED
        return RunStatus.FINISHED

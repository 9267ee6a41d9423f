"""Adaptive concurrency: fewer sessions at once while the model rate-limits, more again
once it has been quiet, never more than ``--concurrency``."""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from structlog.typing import FilteringBoundLogger

# A burst of 429s seen by several sessions is one signal: lower at most this often.
LOWER_AT_MOST_EVERY_SECONDS = 5.0
# After this long without a 429, allow one more session; then wait as long again.
QUIET_SECONDS = 30.0


class AdaptiveLimit:
    """A CapacityLimiter whose size halves on rate limiting and grows by one per quiet
    period, between 1 and ``maximum``. Run ``raise_when_quiet`` beside the tasks.

    ``now`` and ``sleep`` are its clock (seconds), so a test can move time by hand."""

    def __init__(
        self,
        maximum: int,
        log: FilteringBoundLogger,
        quiet_seconds: float = QUIET_SECONDS,
        *,
        now: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        self.limiter = anyio.CapacityLimiter(maximum)
        self.maximum = maximum
        self.lowest = maximum
        self._log = log
        self._quiet_seconds = quiet_seconds
        self._now = now
        self._sleep = sleep
        self._last_limited = -math.inf
        self._last_lowered = -math.inf

    @property
    def current(self) -> int:
        return int(self.limiter.total_tokens)

    def rate_limited(self) -> None:
        """The model answered 429 to some session (safe to call from event callbacks)."""
        now = self._now()
        self._last_limited = now
        if now - self._last_lowered < LOWER_AT_MOST_EVERY_SECONDS or self.current == 1:
            return
        self._last_lowered = now
        self._set(max(1, self.current // 2), "lowered after a rate limit")

    async def raise_when_quiet(self) -> None:
        """Forever: one more session each time a quiet period passes without a 429."""
        while True:
            await self._sleep(max(self._quiet_until() - self._now(), self._quiet_seconds / 10))
            # Asked again after the sleep: a 429 during it starts the quiet period afresh.
            if self.current < self.maximum and self._now() >= self._quiet_until():
                self._last_lowered = self._now()  # the next step waits a period again
                self._set(self.current + 1, "raised after a quiet period")

    def _quiet_until(self) -> float:
        return max(self._last_limited, self._last_lowered) + self._quiet_seconds

    def to_record(self) -> dict[str, Any]:
        return {"maximum": self.maximum, "lowest": self.lowest, "final": self.current}

    def _set(self, value: int, why: str) -> None:
        previous = self.current
        self.limiter.total_tokens = value
        self.lowest = min(self.lowest, value)
        self._log.warning("concurrency changed", previous=previous, now=value, reason=why)

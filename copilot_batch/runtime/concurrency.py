"""Adaptive concurrency: fewer sessions at once while the model rate-limits, more again
once it has been quiet, never more than ``--concurrency``."""

from __future__ import annotations

import math
import time
from typing import Any

import anyio
from structlog.typing import FilteringBoundLogger

# A burst of 429s seen by several sessions is one signal: lower at most this often.
LOWER_AT_MOST_EVERY_SECONDS = 5.0
# After this long without a 429, allow one more session; then wait as long again.
QUIET_SECONDS = 30.0


class AdaptiveLimit:
    """A CapacityLimiter whose size halves on rate limiting and grows by one per quiet
    period, between 1 and ``maximum``. Run ``raise_when_quiet`` beside the tasks."""

    def __init__(
        self, maximum: int, log: FilteringBoundLogger, quiet_seconds: float = QUIET_SECONDS
    ) -> None:
        self.limiter = anyio.CapacityLimiter(maximum)
        self.maximum = maximum
        self.lowest = maximum
        self._log = log
        self._quiet_seconds = quiet_seconds
        self._last_limited = -math.inf
        self._last_lowered = -math.inf

    @property
    def current(self) -> int:
        return int(self.limiter.total_tokens)

    def rate_limited(self) -> None:
        """The model answered 429 to some session (safe to call from event callbacks)."""
        now = time.monotonic()
        self._last_limited = now
        if now - self._last_lowered < LOWER_AT_MOST_EVERY_SECONDS or self.current == 1:
            return
        self._last_lowered = now
        self._set(max(1, self.current // 2), "lowered after a rate limit")

    async def raise_when_quiet(self) -> None:
        """Forever: one more session each time a quiet period passes without a 429."""
        while True:
            quiet_until = max(self._last_limited, self._last_lowered) + self._quiet_seconds
            await anyio.sleep(max(quiet_until - time.monotonic(), self._quiet_seconds / 10))
            if self.current < self.maximum and time.monotonic() >= quiet_until:
                self._last_lowered = time.monotonic()  # the next step waits a period again
                self._set(self.current + 1, "raised after a quiet period")

    def to_record(self) -> dict[str, Any]:
        return {"maximum": self.maximum, "lowest": self.lowest, "final": self.current}

    def _set(self, value: int, why: str) -> None:
        previous = self.current
        self.limiter.total_tokens = value
        self.lowest = min(self.lowest, value)
        self._log.warning("concurrency changed", previous=previous, now=value, reason=why)

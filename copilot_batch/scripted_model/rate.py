"""A provider's rate limit for the scripted model: a token bucket of requests a second."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

# A token due this close counts as there: (t + w) - t is not always w in floating point, so
# a client that waited exactly retry-after seconds could find 0.9999999999 tokens.
_DUE = 1 - 1e-9


class TokenBucket:
    """Admits ``rate`` requests a second on average, bursts up to one second's worth.

    The bucket starts full and holds at most ``max(1, rate)`` tokens; a request admitted
    takes one, a refused one takes none. ``now`` is its clock (seconds), so a test can move
    time by hand."""

    def __init__(self, rate: float, *, now: Callable[[], float] = time.monotonic) -> None:
        if not rate > 0 or math.isinf(rate):
            raise ValueError("a rate limit admits a finite number of requests a second (> 0)")
        self.rate = rate
        self.capacity = max(1.0, rate)
        self._now = now
        self._tokens = self.capacity
        self._filled_at = now()

    def take(self) -> int | None:
        """Admit a request (``None``), or refuse it: the whole seconds until a token is due,
        at least 1, as a 429's ``retry-after`` says them."""
        now = self._now()
        self._tokens = min(self.capacity, self._tokens + (now - self._filled_at) * self.rate)
        self._filled_at = now
        if self._tokens >= _DUE:
            self._tokens = max(0.0, self._tokens - 1)
            return None
        return max(1, math.ceil((1 - self._tokens) / self.rate))

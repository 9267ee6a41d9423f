"""Adaptive concurrency on a clock the test moves by hand."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest
import structlog
from structlog.testing import capture_logs

from copilot_batch.runtime.concurrency import AdaptiveLimit

pytestmark = pytest.mark.anyio


class ManualClock:
    """Time that moves only when the test says; a sleeper wakes once its moment has come."""

    def __init__(self) -> None:
        self.now = 0.0
        self._alarms: list[tuple[float, anyio.Event]] = []
        self._asleep = anyio.Event()

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        alarm = anyio.Event()
        self._alarms.append((self.now + seconds, alarm))
        self._asleep.set()
        await alarm.wait()

    async def sleeping(self) -> None:
        """Until someone sleeps."""
        while not self._alarms:
            await self._asleep.wait()

    async def move_to(self, moment: float) -> None:
        """Move time on; wait until every sleeper it woke is asleep again."""
        self.now = moment
        due = [alarm for alarm in self._alarms if alarm[0] <= moment]
        self._asleep = anyio.Event()
        for alarm in due:
            self._alarms.remove(alarm)
            alarm[1].set()
        if due:
            await self._asleep.wait()


@pytest.fixture
async def clock() -> AsyncIterator[ManualClock]:
    yield ManualClock()


async def test_rate_limits_halve_once_per_burst_and_quiet_periods_raise_by_one(
    clock: ManualClock,
) -> None:
    with capture_logs() as logs:
        limit = AdaptiveLimit(8, structlog.get_logger(), 30, now=clock.time, sleep=clock.sleep)
        limit.rate_limited()
        limit.rate_limited()  # the same burst: lowered once
        assert (limit.current, limit.lowest) == (4, 4)
        async with anyio.create_task_group() as group:
            group.start_soon(limit.raise_when_quiet)
            await clock.sleeping()
            await clock.move_to(29.9)
            assert limit.current == 4
            await clock.move_to(30)
            assert limit.current == 5
            await clock.move_to(59.9)
            assert limit.current == 5  # each step waits a whole period again
            await clock.move_to(60)
            assert limit.current == 6
            group.cancel_scope.cancel()
    assert limit.to_record() == {"maximum": 8, "lowest": 4, "final": 6}
    changes = [(entry["previous"], entry["now"], entry["reason"]) for entry in logs]
    assert changes == [
        (8, 4, "lowered after a rate limit"),
        (4, 5, "raised after a quiet period"),
        (5, 6, "raised after a quiet period"),
    ]


async def test_a_rate_limit_while_the_limiter_sleeps_starts_the_quiet_period_afresh(
    clock: ManualClock,
) -> None:
    limit = AdaptiveLimit(8, structlog.get_logger(), 30, now=clock.time, sleep=clock.sleep)
    limit.rate_limited()  # at 0: lowered to 4, quiet until 30
    async with anyio.create_task_group() as group:
        group.start_soon(limit.raise_when_quiet)
        await clock.sleeping()
        await clock.move_to(4)
        limit.rate_limited()  # the same burst (not lowered again), but not quiet until 34
        await clock.move_to(30)
        assert limit.current == 4
        await clock.move_to(34)
        assert limit.current == 5
        group.cancel_scope.cancel()


async def test_never_above_the_maximum_nor_below_one(clock: ManualClock) -> None:
    limit = AdaptiveLimit(2, structlog.get_logger(), 30, now=clock.time, sleep=clock.sleep)
    for moment in (0, 10, 20):
        clock.now = moment
        limit.rate_limited()
    assert (limit.current, limit.lowest) == (1, 1)
    async with anyio.create_task_group() as group:
        group.start_soon(limit.raise_when_quiet)
        await clock.sleeping()
        for moment in (50, 80, 110, 140):
            await clock.move_to(moment)
        assert limit.current == 2
        group.cancel_scope.cancel()

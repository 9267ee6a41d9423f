"""The scripted model's rate limit, a token bucket, on a clock the test moves by hand."""

from __future__ import annotations

import math

import aiohttp
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from copilot_batch.scripted_model import ScriptedModel
from copilot_batch.scripted_model.rate import TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_full_bucket_admits_one_seconds_worth_then_says_when_to_come_back() -> None:
    clock = Clock()
    bucket = TokenBucket(4, now=clock)
    assert [bucket.take() for _ in range(4)] == [None] * 4
    assert bucket.take() == 1  # the next token is due in 0.25 s: rounded up
    clock.now = 0.25
    assert (bucket.take(), bucket.take()) == (None, 1)


def test_a_slow_rate_says_the_whole_seconds_until_its_next_token() -> None:
    clock = Clock()
    bucket = TokenBucket(0.25, now=clock)
    assert (bucket.take(), bucket.take()) == (None, 4)
    clock.now = 2.5
    assert bucket.take() == 2
    clock.now = 4.0
    assert bucket.take() is None


def test_refused_requests_take_no_token() -> None:
    clock = Clock()
    bucket = TokenBucket(1, now=clock)
    assert bucket.take() is None
    assert [bucket.take() for _ in range(5)] == [1] * 5
    clock.now = 1.0
    assert bucket.take() is None


@pytest.mark.parametrize("rate", [0, -1, math.inf, math.nan])
def test_a_rate_admits_a_finite_number_of_requests(rate: float) -> None:
    with pytest.raises(ValueError, match="finite number of requests"):
        TokenBucket(rate)


@given(
    rate=st.floats(0.1, 50),
    gaps=st.lists(st.floats(0, 3), min_size=1, max_size=200),
)
def test_admits_no_more_than_the_rate_allows_and_retry_after_is_honest(
    rate: float, gaps: list[float]
) -> None:
    clock = Clock()
    bucket = TokenBucket(rate, now=clock)
    admitted = 0
    for gap in gaps:
        clock.now += gap
        wait = bucket.take()
        if wait is None:
            admitted += 1
            continue
        assert wait >= 1
    # A token within 1e-9 of due counts as there (rate.py): at most that much per request.
    assert admitted <= max(1.0, rate) + clock.now * rate + 1e-9 * (len(gaps) + 1)


@given(rate=st.floats(0.1, 50), start=st.floats(0, 100))
@example(rate=0.5, start=62.029949718585165)  # (start + 2) - start < 2 in floating point
def test_a_client_that_waits_retry_after_is_admitted(rate: float, start: float) -> None:
    clock = Clock()
    clock.now = start
    bucket = TokenBucket(rate, now=clock)
    while (wait := bucket.take()) is None:
        pass
    clock.now += wait
    assert bucket.take() is None


@pytest.mark.anyio
async def test_the_model_answers_429_with_retry_after_beyond_its_rate() -> None:
    clock = Clock()
    body = {"model": "gpt-4.1", "messages": [{"role": "user", "content": "Say hello."}]}
    async with (
        ScriptedModel([], rate=1, now=clock) as model,
        aiohttp.ClientSession() as client,
    ):
        url = f"{model.base_url}/chat/completions"
        statuses = []
        for moment in (0.0, 0.5, 1.0):
            clock.now = moment
            async with client.post(url, json=body) as response:
                statuses.append((response.status, response.headers.get("retry-after")))
    # No script answers the first and the last: a 400, but the bucket let them through.
    assert statuses == [(400, None), (429, "1"), (400, None)]
    assert model.requests[1].error == "over the rate limit of 1/s"

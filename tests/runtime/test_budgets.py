"""The pure parts of budgets: limit checks, the run's token budget and how the run ends by
it, the cost drivers, and the job-file keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from copilot_batch.errors import JobFilesInvalid, LimitExceeded
from copilot_batch.jobfile import TaskLimits, load_jobs
from copilot_batch.records import RunStatus
from copilot_batch.run_folder.run_record import cost
from copilot_batch.runtime.budgets import TokenBudget, crossed, estimate_tokens, run_budget
from copilot_batch.runtime.run_stop import RunStop
from copilot_batch.testing import write_job


def _crossed(limits: TaskLimits, **spent: Any) -> LimitExceeded | None:
    used = {"tokens": 0, "tool_calls": 0, "turns": 0, "ai_credits": None, **spent}
    return crossed(limits, **used)


def test_a_limit_of_n_allows_n_and_is_crossed_past_it() -> None:
    limits = TaskLimits(tokens=100, tool_calls=2, turns=3, ai_credits=30.0)
    assert _crossed(limits, tokens=100, tool_calls=2, turns=3, ai_credits=30.0) is None
    for spent, name in (
        ({"tokens": 101}, "tokens"),
        ({"tool_calls": 3}, "tool_calls"),
        ({"turns": 4}, "turns"),
        ({"ai_credits": 30.5}, "ai_credits"),
    ):
        exceeded = _crossed(limits, **spent)
        assert exceeded is not None and exceeded.limit == name, spent
        assert not exceeded.transient
    assert _crossed(TaskLimits(), tokens=10**9, tool_calls=10**6, turns=10**6) is None
    assert _crossed(TaskLimits(ai_credits=30.0), ai_credits=None) is None  # none reported


def test_the_error_names_the_limit_with_counts_as_written() -> None:
    assert str(LimitExceeded("tokens", 1_500_001, 1_500_000)) == (
        "limits.tokens of 1500000 crossed (1500001); the session was aborted"
    )
    assert str(LimitExceeded("ai_credits", 30.25, 30.0)) == (
        "limits.ai_credits of 30 crossed (30.25); the session was aborted"
    )


def test_the_budget_is_spent_once_it_is_reached() -> None:
    budget = TokenBudget(100)
    budget.spend(99)
    assert not budget.exhausted
    budget.spend(1)
    assert budget.exhausted
    unlimited = TokenBudget(None)
    unlimited.spend(10**12)
    assert not unlimited.exhausted


def test_unreported_usage_is_estimated_at_a_token_per_four_characters_rounded_up() -> None:
    assert [estimate_tokens(n) for n in (0, 1, 4, 5, 38947)] == [0, 1, 1, 2, 9737]


def test_a_token_limit_crossed_by_an_estimate_says_how_much_was_estimated() -> None:
    exceeded = _crossed(TaskLimits(tokens=100), tokens=9800, estimated_tokens=9737)
    assert exceeded is not None
    assert str(exceeded) == (
        "limits.tokens of 100 crossed (9800, 9737 of them estimated); the session was aborted"
    )
    turns = _crossed(TaskLimits(turns=1), turns=2, estimated_tokens=9737)
    assert turns is not None and "estimated" not in str(turns)  # only tokens are estimated


def test_the_budget_counts_estimates_and_its_reason_says_so() -> None:
    async def main() -> None:
        stop = RunStop(run_timeout=None, max_tokens=100)
        stop.budget.spend(60)
        stop.budget.spend(9737, estimated=9737)
        assert (stop.budget.spent, stop.budget.estimated) == (9797, 9737)
        assert stop.holds_back()
        assert stop.reason() == (
            "the run's token budget of 100 was spent (counting ~9737 tokens estimated for "
            "model calls without usage)"
        )

    anyio.run(main)


def test_max_tokens_wins_over_the_job_files_and_the_smallest_job_budget_counts(
    tmp_path: Path,
) -> None:
    def job(name: str, budget: str) -> Path:
        return write_job(
            tmp_path, f"version: 1\n{budget}tasks: [{{id: {name}, prompt: Hi.}}]\n", f"{name}.yaml"
        )

    jobs = load_jobs(
        [job("a", "budget: {tokens: 5000}\n"), job("b", "budget: {tokens: 300}\n"), job("c", "")],
        environ={},
    )
    assert [j.budget_tokens for j in jobs] == [5000, 300, None]
    assert run_budget(None, jobs) == 300
    assert run_budget(10_000, jobs) == 10_000
    assert run_budget(None, jobs[2:]) is None


def test_a_run_that_held_a_task_back_ends_budget_exhausted_with_the_reason() -> None:
    async def main() -> None:
        stop = RunStop(run_timeout=None, max_tokens=100)
        assert not stop.holds_back()
        stop.budget.spend(150)
        assert stop.status is RunStatus.FINISHED  # spent, but nothing held back yet
        assert stop.holds_back()
        assert stop.status is RunStatus.BUDGET_EXHAUSTED
        assert stop.reason() == "the run's token budget of 100 was spent"
        stop.interrupt()  # an interruption is the worse news
        assert stop.status is RunStatus.INTERRUPTED
        assert stop.reason() == "the run was interrupted"

    anyio.run(main)


def _task(task_id: str, by_model: dict[str, int], **more: Any) -> dict[str, Any]:
    def usage(tokens: int) -> dict[str, int]:
        return {
            "input_tokens": tokens - 1,
            "output_tokens": 1,
            "cache_read_tokens": 0,
            "cache_write_tokens": 0,
            "total_tokens": tokens,
        }

    return {
        "id": task_id,
        "usage": usage(sum(by_model.values())),
        "usage_by_model": {model: usage(tokens) for model, tokens in by_model.items()},
        **more,
    }


def test_the_cost_drivers_rank_tasks_and_sum_by_model() -> None:
    tasks = [
        _task(f"t{index}", {"gpt-4.1": tokens})
        for index, tokens in enumerate([10, 70, 30, 50, 60, 20])
    ]
    tasks.append(_task("mixed", {"gpt-4.1": 40, "claude": 45}, premium_requests=2.0))
    tasks.append({"id": "old", "usage": _task("", {"x": 0})["usage"]})  # an older record
    drivers = cost(tasks)
    assert [task["id"] for task in drivers["most_expensive"]] == ["mixed", "t1", "t4", "t3", "t2"]
    assert drivers["most_expensive"][0]["total_tokens"] == 85
    assert drivers["tokens_by_model"]["gpt-4.1"]["total_tokens"] == 280
    assert drivers["tokens_by_model"]["claude"]["total_tokens"] == 45
    assert (drivers["premium_requests"], drivers["ai_credits"]) == (2.0, None)
    assert cost([])["most_expensive"] == []


def test_limits_and_budget_are_read_from_job_files(tmp_path: Path) -> None:
    path = write_job(
        tmp_path,
        """
        version: 1
        budget: {tokens: 20000}
        defaults: {limits: {tokens: 5000, turns: 4}}
        tasks:
          - {id: a, prompt: Hi.}
          - {id: b, prompt: Hi., limits: {tool_calls: 3.0, ai_credits: 30}}
        """,
    )
    [job] = load_jobs([path], environ={})
    a, b = job.tasks
    assert a.limits == TaskLimits(tokens=5000, turns=4)
    assert b.limits == TaskLimits(tool_calls=3, ai_credits=30.0)  # replaces the default whole
    assert b.describe()["limits"] == {"tool_calls": 3, "ai_credits": 30.0}
    assert job.budget_tokens == 20000


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("limits: {tokens: 0}", "$.tasks[0].limits.tokens"),
        ("limits: {ai_credits: 5}", "$.tasks[0].limits.ai_credits"),
        ("limits: {dollars: 5}", "$.tasks[0].limits.dollars: unknown key 'dollars'"),
    ],
)
def test_bad_limits_are_reported_at_their_key(tmp_path: Path, text: str, message: str) -> None:
    path = write_job(tmp_path, f"version: 1\ntasks: [{{id: a, prompt: Hi., {text}}}]\n")
    with pytest.raises(JobFilesInvalid) as caught:
        load_jobs([path], environ={})
    assert message in str(caught.value)

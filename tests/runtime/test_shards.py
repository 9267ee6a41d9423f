"""Shards: disjoint, complete, stable slices of a run; merged back into one run."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from copilot_batch.cli import main
from copilot_batch.runtime.shards import Shard, parse_shard, resolve_shard, shard_from_environment

SCRIPTS = Path(__file__).resolve().parents[1] / "data" / "scripts"
IDS = [f"task-{n}" for n in range(200)]
UNSET: dict[str, str | None] = {"JOB_COMPLETION_INDEX": None, "COPILOT_BATCH_SHARDS": None}


def test_shards_partition_every_task_exactly_once() -> None:
    for count in (1, 2, 3, 7):
        slices = [
            [i for i in IDS if Shard(index, count).selects(i)] for index in range(1, count + 1)
        ]
        assert sorted(i for piece in slices for i in piece) == sorted(IDS)
        # Roughly balanced: no slice is more than twice its fair share.
        assert max(len(piece) for piece in slices) <= 2 * len(IDS) / count


def test_a_tasks_shard_does_not_depend_on_order_or_on_other_tasks() -> None:
    shuffled = random.Random(7).sample(IDS, len(IDS))
    shard = Shard(2, 4)
    assert {i for i in IDS if shard.selects(i)} == {i for i in shuffled if shard.selects(i)}
    assert [shard.selects(i) for i in IDS[:5]] == [Shard(2, 4).selects(i) for i in IDS[:5]]


@pytest.mark.parametrize("text", ["0/4", "5/4", "x", "1/0", "2-4"])
def test_bad_shards_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_shard(text)
    result = CliRunner().invoke(main, ["run", "job.yaml", "--shard", text])
    assert result.exit_code == 2
    assert "--shard" in result.output


@given(st.integers(1, 1000).flatmap(lambda n: st.tuples(st.integers(0, n - 1), st.just(n))))
def test_auto_takes_the_indexed_jobs_pod_number_from_zero(index_and_count: tuple[int, int]) -> None:
    index, count = index_and_count
    environ = {"JOB_COMPLETION_INDEX": str(index), "COPILOT_BATCH_SHARDS": str(count)}
    assert shard_from_environment(environ) == Shard(index + 1, count)
    assert resolve_shard("auto", environ) == Shard(index + 1, count)
    assert resolve_shard("1/2", environ) == Shard(1, 2)


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"COPILOT_BATCH_SHARDS": "4"}, "JOB_COMPLETION_INDEX is not set"),
        ({"JOB_COMPLETION_INDEX": "0"}, "COPILOT_BATCH_SHARDS is not set"),
        ({"JOB_COMPLETION_INDEX": "4", "COPILOT_BATCH_SHARDS": "4"}, "JOB_COMPLETION_INDEX=4"),
        ({"JOB_COMPLETION_INDEX": "0", "COPILOT_BATCH_SHARDS": "0"}, "COPILOT_BATCH_SHARDS=0"),
        ({"JOB_COMPLETION_INDEX": "-1", "COPILOT_BATCH_SHARDS": "4"}, "JOB_COMPLETION_INDEX="),
        ({"JOB_COMPLETION_INDEX": "0", "COPILOT_BATCH_SHARDS": "four"}, "COPILOT_BATCH_SHARDS="),
    ],
)
def test_auto_names_the_variable_that_is_missing_or_wrong(
    environ: dict[str, str], named: str
) -> None:
    with pytest.raises(ValueError, match=named):
        shard_from_environment(environ)
    result = CliRunner().invoke(
        main, ["run", "job.yaml", "--shard", "auto"], env={**UNSET, **environ}
    )
    assert result.exit_code == 2
    assert named in result.output
    assert "Traceback" not in result.output


@given(
    st.dictionaries(st.sampled_from(["JOB_COMPLETION_INDEX", "COPILOT_BATCH_SHARDS"]), st.text())
)
def test_auto_refuses_malformed_variables_with_a_value_error(environ: dict[str, str]) -> None:
    try:
        shard = shard_from_environment(environ)
    except ValueError:
        return
    assert 1 <= shard.index <= shard.count


@pytest.mark.cli
def test_shards_run_apart_and_merge_into_one_run(tmp_path: Path) -> None:
    job = tmp_path / "job.yaml"
    job.write_text(
        "version: 1\nmatrix: {n: [1, 2, 3, 4, 5, 6]}\n"
        "tasks: [{id: 'hello-{{ n }}', prompt: Say hello.}]\n"
    )
    runs = tmp_path / "runs"
    for index in (1, 2):
        ran = CliRunner().invoke(
            main,
            ["run", str(job), "--shard", f"{index}/2", "--replay", str(SCRIPTS / "greetings.yaml"),
             "--out", str(runs), "--run-id", f"shard-{index}", "-q"],
        )  # fmt: skip
        assert ran.exit_code == 0, ran.output
    shard_ids = [
        [task["id"] for task in json.loads((runs / f"shard-{i}" / "run.json").read_text())["tasks"]]
        for i in (1, 2)
    ]
    assert sorted(shard_ids[0] + shard_ids[1]) == [f"hello-{n}" for n in range(1, 7)]
    assert shard_ids[0] and shard_ids[1]

    merged = CliRunner().invoke(
        main, ["merge", str(runs / "shard-1"), str(runs / "shard-2"), "--out", str(runs),
               "--run-id", "all"],
    )  # fmt: skip
    assert merged.exit_code == 0, merged.output
    run = json.loads((runs / "all" / "run.json").read_text())
    assert sorted(task["id"] for task in run["tasks"]) == [f"hello-{n}" for n in range(1, 7)]
    assert (run["state"], run["totals"]["ok"], run["merged_from"]) == (
        "finished",
        6,
        ["shard-1", "shard-2"],
    )
    assert len((runs / "all" / "results.jsonl").read_text().splitlines()) == 6
    for task_id in shard_ids[1]:
        assert (runs / "all" / "tasks" / task_id / "result.json").is_file()

    # The same shard twice overlaps; a shard of another job file does not belong.
    again = CliRunner().invoke(main, ["merge", str(runs / "shard-1"), str(runs / "shard-1")])
    assert again.exit_code == 2
    assert "is in more than one shard" in again.output
    other = runs / "other"
    shutil.copytree(runs / "shard-2", other)
    record = json.loads((other / "run.json").read_text())
    record["job_files"][0]["sha256"] = "0" * 64
    (other / "run.json").write_text(json.dumps(record))
    refused = CliRunner().invoke(main, ["merge", str(runs / "shard-1"), str(other)])
    assert refused.exit_code == 2
    assert "the shards ran different job files" in refused.output

"""merge: every run state merges, and a merge that fails leaves nothing in --out."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from run_records import task_record, write_run

from copilot_batch.cli import main


def shards(tmp_path: Path, state_a: str = "finished", state_b: str = "finished") -> list[Path]:
    return [
        write_run(tmp_path / "shards" / "a", [task_record("one")], state=state_a),
        write_run(tmp_path / "shards" / "b", [task_record("two", "cancelled")], state=state_b),
    ]


def merge(folders: list[Path], out: Path, *more: str) -> Result:
    arguments = ["merge", *map(str, folders), "--out", str(out), "--run-id", "m", *more]
    return CliRunner().invoke(main, arguments)


@pytest.mark.parametrize(
    ("states", "merged"),
    [
        (("finished", "timed_out"), "timed_out"),
        (("timed_out", "interrupted"), "interrupted"),
        (("failed", "timed_out"), "failed"),
        (("finished", "running"), "running"),
    ],
)
def test_shards_merge_whatever_state_they_ended_in(
    tmp_path: Path, states: tuple[str, str], merged: str
) -> None:
    result = merge(shards(tmp_path, *states), tmp_path / "out")
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "out" / "m" / "run.json").read_text())
    assert record["state"] == merged
    assert [task["id"] for task in record["tasks"]] == ["one", "two"]
    assert os.listdir(tmp_path / "out") == ["m"]


Damage = Callable[[list[Path], Path, pytest.MonkeyPatch], str]


def break_result(folders: list[Path], _out: Path, _env: pytest.MonkeyPatch) -> str:
    (folders[1] / "tasks" / "two" / "result.json").write_text('{"id": "two", "status": 5}')
    return f"{folders[1] / 'tasks' / 'two' / 'result.json'}: $: misses the key 'job'"


def fifo_in_a_task_folder(folders: list[Path], _out: Path, _env: pytest.MonkeyPatch) -> str:
    os.mkfifo(folders[1] / "tasks" / "two" / "events.jsonl")
    return f"{folders[1] / 'tasks' / 'two'} cannot be copied: "


def step_summary_is_a_folder(folders: list[Path], out: Path, env: pytest.MonkeyPatch) -> str:
    env.setenv("GITHUB_STEP_SUMMARY", str(out.parent))
    return f"cannot merge {folders[0]}, {folders[1]}: writing {out / 'm'} failed: Is a directory"


def destination_exists(_folders: list[Path], out: Path, _env: pytest.MonkeyPatch) -> str:
    (out / "m").mkdir(parents=True)
    (out / "m" / "keep.txt").write_text("mine")
    return f"--run-id m: {out / 'm'} already exists; give a new run id"


@pytest.mark.parametrize(
    "damage", [break_result, fifo_in_a_task_folder, step_summary_is_a_folder, destination_exists]
)
def test_a_merge_that_fails_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: Damage
) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    folders, out = shards(tmp_path), tmp_path / "out"
    out.mkdir()
    message = damage(folders, out, monkeypatch)
    before = sorted(path.name for path in out.iterdir())
    result = merge(folders, out)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith(f"error: {message}"), result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert sorted(path.name for path in out.iterdir()) == before
    if before:  # the folder that was there is untouched
        assert os.listdir(out / "m") == ["keep.txt"]


@pytest.mark.parametrize("run_id", [".", "..", "../x", "a/b", "a\0b", "x" * 129, ""])
def test_a_merged_run_id_that_is_no_folder_name_is_refused(tmp_path: Path, run_id: str) -> None:
    folders, out = shards(tmp_path), tmp_path / "out" / "deeper"
    result = CliRunner().invoke(
        main, ["merge", *map(str, folders), "--out", str(out), "--run-id", run_id]
    )
    assert result.exit_code == 2
    assert "Invalid value for '--run-id'" in result.stderr
    assert not (tmp_path / "out").exists()

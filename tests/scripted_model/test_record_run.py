"""``run --record``: the example jobs recorded against a scripted model standing in for
the real provider, then replayed with that upstream stopped: the two run folders agree."""

from __future__ import annotations

import json
import os
import sys
import textwrap
from pathlib import Path
from typing import Any

import anyio
import pytest
from example_jobs import copy_example_jobs, demo_jobs

from copilot_batch.scripted_model import ScriptedModel, load_scripts

COPILOT_BATCH = [sys.executable, "-m", "copilot_batch"]
CANARY = "canary-key-5f3a9c21d7"
PROVIDER = '  provider: {type: openai, base_url: "${MODEL_URL}", api_key: "${CANARY_KEY}"}\n'
CANARY_JOB = """
    version: 1
    defaults:
      model: gpt-4.1
    tasks:
      - {id: say-key, prompt: "What is the key?"}
    """
CANARY_SCRIPT = f"""
    models: [gpt-4.1]
    conversations:
      - messages:
          - {{role: system, content: "${{system}}"}}
          - {{role: user, content: "What is the key?"}}
          - {{role: assistant, content: "The key is {CANARY}."}}
      - messages:
          - {{role: system, content: "${{system}}"}}
          - {{role: user, content: "Remember {CANARY}."}}
          - {{role: assistant, content: Remembered.}}
    """


def _with_provider(jobs: Path) -> list[Path]:
    """Every demo job file of ``jobs`` sent to the provider at MODEL_URL, keyed with the canary."""
    paths = demo_jobs(jobs)
    for path in paths:
        text = path.read_text(encoding="utf-8")
        assert "\ndefaults:\n" in text and "provider:" not in text, path
        path.write_text(text.replace("\ndefaults:\n", "\ndefaults:\n" + PROVIDER), "utf-8")
    return paths


def _upstream_scripts(tmp_path: Path, jobs: Path) -> list[Path]:
    script = tmp_path / "canary-script.yaml"
    script.write_text(textwrap.dedent(CANARY_SCRIPT), encoding="utf-8")
    return [jobs / "scripts", script]


async def _run(args: list[str], cwd: Path, **env: str) -> tuple[int, str]:
    done = await anyio.run_process(
        [*COPILOT_BATCH, "run", *args, "-q"], cwd=cwd, env={**os.environ, **env}, check=False
    )
    return done.returncode, done.stderr.decode()


def _tool_calls(task_dir: Path) -> list[tuple[str, Any]]:
    events = [json.loads(line) for line in (task_dir / "events.jsonl").read_text().splitlines()]
    return [
        (e["event"]["data"]["toolName"], e["event"]["data"].get("arguments"))
        for e in events
        if e["event"]["type"] == "tool.execution_start"
    ]


def _task_view(run: Path, task_dir: Path) -> dict[str, Any]:
    """What a replay must reproduce of one task, the run folder's path set aside."""
    result = json.loads((task_dir / "result.json").read_text())
    patch = task_dir / "changes.patch"
    view = {
        "status": result["status"],
        "final_message": result["final_message"],
        "output": result["output"],
        "tool_calls": _tool_calls(task_dir),
        "patch": patch.read_text() if patch.exists() else None,
    }
    return json.loads(json.dumps(view).replace(json.dumps(str(run))[1:-1], "<run>"))


def _run_view(run: Path) -> dict[str, Any]:
    record = json.loads((run / "run.json").read_text())
    return {task["id"]: _task_view(run, run / "tasks" / task["id"]) for task in record["tasks"]}


@pytest.mark.cli
@pytest.mark.anyio
async def test_a_recorded_run_replays_offline_to_the_same_run_folder(tmp_path: Path) -> None:
    jobs = copy_example_jobs(tmp_path)
    (jobs / "canary.yaml").write_text(textwrap.dedent(CANARY_JOB), encoding="utf-8")
    paths = [str(path) for path in _with_provider(jobs)]
    recording = tmp_path / "recording"
    async with ScriptedModel(load_scripts(_upstream_scripts(tmp_path, jobs))) as upstream:
        live = await _run(
            [*paths, "--out", "runs", "--run-id", "live", "--record", str(recording)],
            tmp_path,
            MODEL_URL=upstream.base_url,
            CANARY_KEY=CANARY,
        )
    replayed = await _run(
        [*paths, "--out", "runs", "--run-id", "replayed", "--replay", str(recording)],
        tmp_path,
        MODEL_URL="http://127.0.0.1:9/stopped",
        CANARY_KEY="replay-key-unused",
    )

    assert live[0] == replayed[0] == 0, (live, replayed)
    view = _run_view(tmp_path / "runs" / "live")
    assert view == _run_view(tmp_path / "runs" / "replayed")
    assert view["say-key"]["final_message"] == "The key is ***."
    assert any(task["patch"] for task in view.values())
    assert any(task["tool_calls"] for task in view.values())
    files = sorted(recording.iterdir())
    assert [f.stem for f in files] == sorted(view)
    for file in files:
        assert CANARY not in file.read_text(encoding="utf-8"), file
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".recording")] == []


@pytest.mark.cli
@pytest.mark.anyio
async def test_a_recording_holding_a_secret_is_refused_and_nothing_is_written(
    tmp_path: Path,
) -> None:
    job = tmp_path / "job.yaml"
    job.write_text(
        textwrap.dedent(
            f"""
            version: 1
            defaults:
              model: gpt-4.1
              {PROVIDER.strip()}
            tasks:
              - {{id: fine, prompt: "What is the key?"}}
              - {{id: leaky, prompt: "Remember {CANARY}."}}
            """
        ),
        encoding="utf-8",
    )
    async with ScriptedModel(load_scripts(_upstream_scripts(tmp_path, tmp_path)[1:])) as model:
        code, stderr = await _run(
            [str(job), "--out", "runs", "--record", "recording"],
            tmp_path,
            MODEL_URL=model.base_url,
            CANARY_KEY=CANARY,
        )
    assert code == 2, stderr
    assert "task leaky sent its model a secret" in stderr
    assert CANARY not in stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["canary-script.yaml", "job.yaml", "runs"]

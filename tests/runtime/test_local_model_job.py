"""jobs/local-model.yaml, the example job for a local OpenAI-compatible server: valid, left
out of `make demo`, and what the real CLI sends the server it names (the scripted model
stands in for llama.cpp's server, behind a proxy that keeps each request)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from example_jobs import LOCAL_MODEL_JOB, demo_jobs
from request_capture import capturing

from copilot_batch import TaskStatus
from copilot_batch.cli import main
from copilot_batch.scripted_model import ScriptedModel, load_scripts
from copilot_batch.testing import run_job, run_job_files

REPOSITORY = Path(__file__).resolve().parents[2]
JOBS = REPOSITORY / "jobs"
LOCAL_JOB = JOBS / LOCAL_MODEL_JOB
# The replies summarize-samples.yaml replays: the same prompts, files and tool calls.
SCRIPT = JOBS / "scripts" / "summarize-samples.yaml"
SPEC = yaml.safe_load(LOCAL_JOB.read_text(encoding="utf-8"))
PROVIDER = SPEC["defaults"]["provider"]


def test_the_local_model_job_is_valid() -> None:
    result = CliRunner().invoke(main, ["validate", str(LOCAL_JOB)])
    assert result.exit_code == 0, result.output
    assert result.output == "ok: 1 job file(s), 2 task(s)\n"


def test_make_demo_leaves_the_local_model_job_out() -> None:
    # -n prints the recipe's commands without running them (or the set-up before them).
    dry = subprocess.run(
        ["make", "-n", "-C", str(REPOSITORY), "demo", "BIN=bin", "VENV=venv"],
        capture_output=True,
        text=True,
        check=True,
    )
    [run_line] = [line for line in dry.stdout.splitlines() if " run " in line]
    replayed = [REPOSITORY / word for word in run_line.split() if word.endswith(".yaml")]
    assert replayed == demo_jobs(JOBS)
    assert LOCAL_JOB not in replayed


async def run_local_job(folder: Path, text: str) -> list[dict[str, Any]]:
    """Run ``text``, a version of the local model job, with its base_url pointed at the
    scripted model; the bodies of the requests the server got."""
    shutil.copytree(JOBS / "samples", folder / "samples")
    async with (
        ScriptedModel(load_scripts([SCRIPT])) as model,
        capturing(model.base_url) as (url, bodies),
    ):
        job = folder / LOCAL_JOB.name
        job.write_text(text.replace(PROVIDER["base_url"], url), encoding="utf-8")
        result = await run_job_files([job], folder / "runs")
    for task in result.results:
        assert task.status is TaskStatus.OK, (task.task.id, task.error)
        assert task.tool_calls == 1
    # Each task: the prompt, then the view tool's result.
    assert len(bodies) == 4
    return bodies


@pytest.mark.cli
@pytest.mark.anyio
async def test_the_local_model_job_caps_every_reply_and_offers_only_view(tmp_path: Path) -> None:
    bodies = await run_local_job(tmp_path, LOCAL_JOB.read_text(encoding="utf-8"))
    for body in bodies:
        assert body["model"] == SPEC["defaults"]["model"]
        assert body["max_tokens"] == PROVIDER["max_output_tokens"]
        assert [tool["function"]["name"] for tool in body["tools"]] == ["view"]
        assert "stream" not in body
        assert "tool_choice" not in body


@pytest.mark.cli
@pytest.mark.anyio
async def test_without_max_output_tokens_the_cli_sends_no_cap(tmp_path: Path) -> None:
    # Why the job sets it: docs/providers.md, "What the CLI sends".
    line = f"    max_output_tokens: {PROVIDER['max_output_tokens']}\n"
    text = LOCAL_JOB.read_text(encoding="utf-8")
    assert line in text
    bodies = await run_local_job(tmp_path, text.replace(line, ""))
    assert all("max_tokens" not in body for body in bodies)


@pytest.mark.cli
@pytest.mark.anyio
async def test_a_context_smaller_than_the_clis_prompt_fails_with_the_clis_reason(
    tmp_path: Path,
) -> None:
    # The CLI sends no request: its system prompt and tools alone are over 1,000 tokens.
    # Its error says only "No response was returned"; the warning before it says why.
    async with ScriptedModel(load_scripts([SCRIPT])) as model:
        result = await run_job(
            tmp_path,
            """
            version: 1
            tasks:
              - id: small
                prompt: Say hi
                model: local
                provider:
                  type: openai
                  base_url: ${MODEL_URL}
                  max_prompt_tokens: 1000
            """,
            {"MODEL_URL": model.base_url},
        )
    [task] = result.results
    assert task.status is TaskStatus.FAILED
    assert task.error is not None
    assert "No response was returned" in task.error
    assert "the CLI warned: Static system messages and tool definitions exceed" in task.error
    assert model.requests == []

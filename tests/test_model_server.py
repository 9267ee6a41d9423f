"""`copilot-batch model-server` in a real subprocess, with a fault a real run has to survive."""

from __future__ import annotations

import json
import os
import sys
import textwrap
from pathlib import Path

import anyio
import pytest
from anyio.streams.text import TextReceiveStream

REPOSITORY = Path(__file__).resolve().parents[1]
COPILOT_BATCH = [sys.executable, "-m", "copilot_batch"]
GREETINGS = REPOSITORY / "tests" / "data" / "scripts" / "greetings.yaml"
JOB = """
version: 1
defaults:
  model: gpt-4.1
  provider: {type: openai, base_url: "${MODEL_URL}"}
tasks:
  - {id: hello, prompt: Say hello.}
"""


async def read_url(process: anyio.abc.Process) -> str:
    """The base URL model-server prints, on its first line, once it listens."""
    assert process.stdout is not None
    text = ""
    async for piece in TextReceiveStream(process.stdout):
        text += piece
        if "\n" in text:
            return text.split("\n", 1)[0]
    raise AssertionError(f"model-server ended without printing its URL: {text!r}")


async def run_at_model_server(
    folder: Path, job_text: str, *server_options: str
) -> anyio.abc.CompletedProcess[bytes]:
    """``copilot-batch model-server`` of greetings.yaml with ``server_options``, and
    ``copilot-batch run`` of ``job_text`` at it, results in ``folder/r``."""
    server = [*COPILOT_BATCH, "model-server", "--script", str(GREETINGS), *server_options]
    job = folder / "job.yaml"
    job.write_text(textwrap.dedent(job_text), encoding="utf-8")
    async with await anyio.open_process(server) as process:
        try:
            with anyio.fail_after(60):
                url = await read_url(process)
            command = [*COPILOT_BATCH, "run", str(job), "--out", str(folder), "--run-id", "r"]
            env = {**os.environ, "MODEL_URL": url}
            finished = await anyio.run_process(command, env=env, check=False)
        finally:
            process.terminate()
    assert finished.returncode == 0, finished.stderr.decode()
    return finished


@pytest.mark.cli
@pytest.mark.anyio
async def test_a_run_retries_past_a_rate_limit_the_model_server_was_told_to_send(
    tmp_path: Path,
) -> None:
    fault = "rate_limit:times=1,retry-after=1,prompt=Say hello"
    await run_at_model_server(tmp_path, JOB, "--fault", fault)
    task = tmp_path / "r" / "tasks" / "hello"
    result = json.loads((task / "result.json").read_text())
    assert (result["status"], result["final_message"]) == ("ok", "Hello!")
    events = [
        json.loads(line)["event"] for line in (task / "events.jsonl").read_text().splitlines()
    ]
    retries = [e["data"].get("reason") for e in events if e["type"] == "assistant.turn_retry"]
    assert retries == ["rate_limit"]


@pytest.mark.cli
@pytest.mark.anyio
async def test_a_model_server_without_stream_usage_leaves_a_streamed_task_without_usage(
    tmp_path: Path,
) -> None:
    streamed = JOB.replace("Say hello.}", "Say hello., streaming: true}")
    finished = await run_at_model_server(tmp_path, streamed, "--no-stream-usage")
    result = json.loads((tmp_path / "r" / "tasks" / "hello" / "result.json").read_text())
    usage = result["usage"]
    assert (usage["reported"], usage["unreported_calls"], usage["total_tokens"]) == (False, 1, 0)
    assert usage["estimated_tokens"] > 0
    assert "1 task(s) without usage" in finished.stdout.decode()

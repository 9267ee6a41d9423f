"""Running job files written by a test, and reading what the run left on disk."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

from copilot_batch import RunOptions, RunResult, load_jobs, run_batch
from copilot_batch.scripted_model import ScriptedModel

SCRIPTS = Path(__file__).resolve().parents[1] / "data" / "scripts"


def write_job(folder: Path, text: str, name: str = "job.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


async def run_job(
    tmp_path: Path, text: str, environ: dict[str, str] | None = None, **options: Any
) -> RunResult:
    jobs = load_jobs([write_job(tmp_path, text)], environ=environ or {})
    return await run_batch(jobs, RunOptions(**{"out_dir": tmp_path / "runs", **options}))


async def run_at_model(
    tmp_path: Path, model: ScriptedModel, body: str, **options: Any
) -> RunResult:
    """Run a job whose tasks reach ``model``, a scripted model the test started itself."""
    head = (
        "version: 1\ndefaults:\n  model: gpt-4.1\n"
        '  provider: {type: openai, base_url: "${MODEL_URL}", api_key: not-a-secret}\n'
    )
    body = textwrap.dedent(body).lstrip("\n")
    return await run_job(tmp_path, head + body, {"MODEL_URL": model.base_url}, **options)


def read_events(result: RunResult, task_id: str) -> list[dict[str, Any]]:
    path = result.folder / "tasks" / task_id / "events.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())


def one_tool_conversation(
    prompt: str, tool: str, arguments: dict[str, Any], result: str, answer: str
) -> dict[str, Any]:
    """A scripted conversation: the prompt, one tool call, the result the CLI must send
    back for the script to go on, and the final answer."""
    call = {"name": tool, "arguments": json.dumps(arguments, separators=(",", ":"))}
    return {
        "messages": [
            {"role": "system", "content": "${system}"},
            {"role": "user", "content": prompt},
            {
                "role": "assistant",
                "tool_calls": [{"id": "toolcall_0", "type": "function", "function": call}],
            },
            {"role": "tool", "tool_call_id": "toolcall_0", "content": result},
            {"role": "assistant", "content": answer},
        ]
    }

"""Testing job files and custom tools offline: write a job file and a scripted
conversation, run the job through the real Copilot CLI at the scripted model, and read what
the run left on disk.

A job file's tasks reach the scripted model either through ``replay`` (as ``copilot-batch
run --replay`` does: the run starts the model) or through ``run_at_scripted_model`` (the
test starts a ``ScriptedModel`` itself, to inject faults or watch its requests)::

    async def test_the_shout_tool(tmp_path):
        script = write_script(tmp_path, [one_tool_conversation(
            "Shout hi.", "shout", {"text": "hi"}, "HI", "It said HI.")])
        result = await run_job(tmp_path, JOB, replay=(script,))
        assert result.results[0].final_message == "It said HI."

The pytest plugin (``copilot_batch.testing.plugin``) adds fixtures and the ``cli`` marker.
Importing this module does not import the Copilot SDK; running a job does.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from .processes import children_running, executable_of, process_parents

if TYPE_CHECKING:
    from .. import RunResult
    from ..scripted_model import ScriptedModel

__all__ = [
    "answer_conversation",
    "children_running",
    "executable_of",
    "one_tool_conversation",
    "process_parents",
    "read_events",
    "read_json",
    "read_task_result",
    "run_at_scripted_model",
    "run_job",
    "run_job_files",
    "scripted_job_head",
    "write_job",
    "write_script",
]


def write_job(folder: Path, text: str, name: str = "job.yaml") -> Path:
    """Write ``text`` (dedented, so it may be an indented triple-quoted string) as a job
    file in ``folder``; its path."""
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def write_script(
    folder: Path,
    conversations: Iterable[Mapping[str, Any]],
    models: Sequence[str] = ("gpt-4.1",),
    name: str = "script.yaml",
) -> Path:
    """Write a script of the scripted model (for ``replay`` or ``load_scripts``); its path."""
    script = {"models": list(models), "conversations": [dict(c) for c in conversations]}
    path = folder / name
    path.write_text(yaml.safe_dump(script, sort_keys=False), encoding="utf-8")
    return path


def answer_conversation(prompt: str, answer: str) -> dict[str, Any]:
    """A scripted conversation: the prompt, and the ``answer`` with no tool call."""
    return {
        "messages": [
            {"role": "system", "content": "${system}"},
            {"role": "user", "content": prompt},
            {"role": "assistant", "content": answer},
        ]
    }


def one_tool_conversation(
    prompt: str, tool: str, arguments: Mapping[str, Any], result: str, answer: str
) -> dict[str, Any]:
    """A scripted conversation: the prompt, one call of ``tool``, the ``result`` the CLI
    must send back for the script to go on, and the final ``answer``."""
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


async def run_job_files(
    paths: Sequence[Path],
    out_dir: Path,
    environ: Mapping[str, str] | None = None,
    **options: Any,
) -> RunResult:
    """Run the job files as ``copilot-batch run`` would, results under ``out_dir``.
    ``environ`` is what ``${VAR}`` in them reads (default: nothing); ``options`` are
    ``RunOptions`` fields, e.g. ``replay=(script,)``, ``concurrency=4``."""
    from .. import RunOptions, load_jobs, run_batch

    jobs = load_jobs(list(paths), environ=dict(environ or {}))
    return await run_batch(jobs, RunOptions(out_dir=out_dir, **options))


async def run_job(
    folder: Path, text: str, environ: Mapping[str, str] | None = None, **options: Any
) -> RunResult:
    """Write ``text`` as ``folder/job.yaml`` and run it, results under ``folder/runs``
    unless ``out_dir`` is given."""
    out_dir = options.pop("out_dir", folder / "runs")
    return await run_job_files([write_job(folder, text)], out_dir, environ, **options)


def scripted_job_head(model: str = "gpt-4.1") -> str:
    """The start of a job file whose tasks reach the model at ``${MODEL_URL}``."""
    return (
        f"version: 1\ndefaults:\n  model: {model}\n"
        '  provider: {type: openai, base_url: "${MODEL_URL}", api_key: not-a-secret}\n'
    )


async def run_at_scripted_model(
    folder: Path, model: ScriptedModel, body: str, **options: Any
) -> RunResult:
    """Run a job whose ``body`` (its ``tasks``, ``matrix``…, but no ``defaults``) reaches
    ``model``, a scripted model the test started itself."""
    text = scripted_job_head() + textwrap.dedent(body).lstrip("\n")
    return await run_job(folder, text, {"MODEL_URL": model.base_url}, **options)


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def read_task_result(result: RunResult, task_id: str) -> dict[str, Any]:
    """The task's ``result.json`` in the run folder, checked as copilot-batch reads it."""
    from ..run_folder import read_task

    return read_task(result.folder, task_id).record


def read_events(result: RunResult, task_id: str) -> list[dict[str, Any]]:
    """The task's ``events.jsonl``, one dict a line: ``{"event": {"type": …, "data": …}}``."""
    from ..run_folder import RunFolder

    path = RunFolder.ended(result.folder).events_path(task_id)
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]

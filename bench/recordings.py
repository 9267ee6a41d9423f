"""A census of the Copilot SDK's recordings: which replay through a copilot-batch job file.

For every recording (``*.yaml`` under the folder given, its category the top-level folder)
it decides whether the recording carries model traffic, builds a job file from what the
recording shows (the first user message as ``prompt``; later ones as ``steps`` when the
package's schema has that key; the custom tools it calls, answering with the recorded
results through :mod:`bench.recording_tools`; ``permissions: approve-all``; a
``<tagged_files>`` block as ``attachments`` when the schema has that key), runs it with
``copilot-batch run JOB --replay RECORDING`` in a temporary folder (a timeout each, at most
``--parallel`` at once) and counts it as replayed when every task ends ok. A recording whose
session used a feature no job-file key of the package expresses is not run: its reason is
that feature. Otherwise a recording that does not replay gets the task's failure, grouped.
Writes JSON and Markdown to ``bench/results/``.

    python -m bench.recordings /work/sdk/test/snapshots --label before
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import click
import yaml

from .recording_tools import custom_tools, mcp_tools, messages_of, read_recording
from .results import out_option

HERE = Path(__file__).resolve().parent
_TAGGED_FILES = re.compile(r"<tagged_files>.*?</tagged_files>", re.DOTALL)
_TAGGED_PATH = re.compile(r"^\s*\*\s*(\S+)", re.MULTILINE)
# User messages the CLI writes itself, not the session's prompts.
_CLI_USER_MESSAGES = re.compile(
    r'^(?:\$\{compaction_prompt\}|Agent "[^"]+" \([^)]+\) has|<skill-context)'
)
_TEMPLATE_MARKS = ("{{", "{%", "{#")


@dataclass(frozen=True)
class Outcome:
    """One recording's census line."""

    path: str
    category: str
    traffic: bool
    replayed: bool = False
    reason: str | None = None
    detail: str | None = None


def job_keys() -> frozenset[str]:
    """The task keys of the installed package's job-file schema."""
    text = resources.files("copilot_batch.jobfile").joinpath("job.schema.json").read_text()
    schema = json.loads(text)
    return frozenset(schema["$defs"]["task"]["properties"])


def has_traffic(data: Mapping[str, Any]) -> bool:
    """Whether the recording holds a model exchange (a conversation or a recorded error)."""
    return any(messages_of(data)) or bool(data.get("errors"))


def user_turns(data: Mapping[str, Any]) -> list[str]:
    """The session's prompts in the longest conversation: each user message the CLI did not
    write itself, adjacent ones as one."""
    conversations = messages_of(data)
    longest = max(conversations, key=len, default=[])
    turns: list[str] = []
    previous = ""
    for message in longest:
        role, text = message.get("role"), str(message.get("content") or "")
        if role == "user" and not _CLI_USER_MESSAGES.match(text) and previous != "user":
            turns.append(text)
        previous = str(role)
    return turns


def needs(data: Mapping[str, Any], category: str) -> list[str]:
    """The features the recording's session used, as the census names its reasons."""
    text = json.dumps(data)
    turns = user_turns(data)
    found = {
        "needs follow-ups": len(turns) > 1,
        "needs attachments": "<tagged_files>" in text or "[image]" in text,
        "needs ask_user": '"ask_user"' in text,
        "needs hooks": "hook" in category or "Denied by preToolUse hook" in text,
        "model switch": len({str(m) for m in data.get("models") or ()} - {"auto"}) > 1,
        "agent mode": "[[PLAN]]" in text or "exit_plan_mode" in text,
        "needs MCP servers": bool(mcp_tools(data)),
    }
    return [reason for reason, used in found.items() if used]


# The job-file key that makes each need expressible; None: no key makes it so.
_KEYS: Mapping[str, str | None] = {
    "needs follow-ups": "steps",
    "needs attachments": "attachments",
    "needs ask_user": "ask_user",
    "needs hooks": "hooks",
    "model switch": "steps",
    "agent mode": "steps",
    "needs MCP servers": None,
}


def missing(needed: Iterable[str], keys: frozenset[str]) -> str | None:
    """The first needed feature the schema has no key for."""
    return next((need for need in needed if (_KEYS.get(need) or "") not in keys), None)


def _template(text: str) -> str:
    """Text a template renders unchanged."""
    if any(mark in text for mark in _TEMPLATE_MARKS):
        return "{% raw %}" + text + "{% endraw %}"
    return text


def _attachments(prompt: str) -> list[dict[str, str]]:
    block = _TAGGED_FILES.search(prompt)
    paths = _TAGGED_PATH.findall(block.group(0)) if block else []
    return [{"path": path.replace("${workdir}/", "")} for path in paths]


def job_document(
    data: Mapping[str, Any], recording: Path, workdir: Path, keys: frozenset[str]
) -> dict[str, Any]:
    """The job file that replays ``recording`` as far as the schema allows."""
    turns = [t.replace("${workdir}", str(workdir)) for t in user_turns(data)] or [""]
    first = turns[0]
    task: dict[str, Any] = {"id": "replay", "prompt": "", "timeout": "60s"}
    if "attachments" in keys and _attachments(first):
        task["attachments"] = _attachments(first)
        first = _TAGGED_FILES.sub("", first).strip()
    task["prompt"] = _template(first)
    if "steps" in keys and len(turns) > 1:
        task["steps"] = [{"prompt": _template(turn)} for turn in turns[1:]]
    defaults: dict[str, Any] = {"permissions": "approve-all"}
    if custom_tools(data):
        use = {"use": "bench.recording_tools:recorded_tools", "with": {"recording": str(recording)}}
        defaults["tools"] = {"custom": [use]}
    return {"version": 1, "defaults": defaults, "tasks": [task]}


def _task_results(runs: Path) -> list[dict[str, Any]]:
    results = []
    for path in sorted(runs.glob("*/tasks/*/result.json")):
        loaded = json.loads(path.read_text(encoding="utf-8"))
        results.append(loaded if isinstance(loaded, dict) else {})
    return results


def failure_reason(error: str) -> str:
    """A task's failure grouped into a census reason."""
    groups = (
        ("no scripted reply", "scripted model: no match"),
        ("cannot load", "script does not load"),
        ("ScriptError", "script does not load"),
        ("timed out", "timed out"),
        ("timeout", "timed out"),
        ("rate limit", "recorded HTTP error"),
        ("429", "recorded HTTP error"),
    )
    return next((reason for key, reason in groups if key in error), "task failed")


def _run_job(recording: Path, folder: Path, keys: frozenset[str], timeout: float) -> Outcome:
    data = read_recording(recording)
    job = folder / "job.yaml"
    job.write_text(yaml.safe_dump(job_document(data, recording, folder, keys), sort_keys=False))
    command = [sys.executable, "-m", "copilot_batch", "run", str(job), "--replay"]
    command += [str(recording), "--out", str(folder / "runs")]
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE.parent), *sys.path])}
    try:
        done = subprocess.run(
            command, cwd=folder, capture_output=True, text=True, timeout=timeout, env=environment
        )
    except subprocess.TimeoutExpired:
        return Outcome(str(recording), "", True, reason="timed out")
    results = _task_results(folder / "runs")
    if done.returncode == 0 and results and all(r.get("status") == "ok" for r in results):
        return Outcome(str(recording), "", True, replayed=True)
    error = next((str(r.get("error")) for r in results if r.get("status") != "ok"), None)
    error = error or (done.stderr.strip() or done.stdout.strip())[-600:]
    return Outcome(str(recording), "", True, reason=failure_reason(error), detail=error[:600])


def census_one(recording: Path, root: Path, keys: frozenset[str], timeout: float) -> Outcome:
    """One recording's outcome: no traffic, replayed, or the reason it is not."""
    category = recording.relative_to(root).parts[0]
    name = str(recording.relative_to(root))
    try:
        data = read_recording(recording)
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        return Outcome(name, category, False, reason="not YAML", detail=str(error)[:300])
    if not has_traffic(data):
        return Outcome(name, category, False)
    # A session that used a feature no job-file key expresses is not run: it cannot replay.
    lacking = missing(needs(data, category), keys)
    if lacking is not None:
        return Outcome(name, category, True, False, lacking)
    with tempfile.TemporaryDirectory(prefix="census-") as folder:
        outcome = _run_job(recording, Path(folder).resolve(), keys, timeout)
    return dataclasses.replace(outcome, path=name, category=category)


def tally(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """Counts by category and by reason."""
    by_category: dict[str, Counter[str]] = {}
    for outcome in outcomes:
        counts = by_category.setdefault(outcome.category, Counter())
        counts["recordings"] += 1
        counts["traffic"] += outcome.traffic
        counts["replayed"] += outcome.replayed
    reasons = Counter(o.reason for o in outcomes if o.traffic and not o.replayed)
    return {
        "recordings": len(outcomes),
        "traffic": sum(o.traffic for o in outcomes),
        "replayed": sum(o.replayed for o in outcomes),
        "by_category": {name: dict(counts) for name, counts in sorted(by_category.items())},
        "by_reason": dict(reasons.most_common()),
    }


def markdown(totals: Mapping[str, Any]) -> str:
    """The census as two Markdown tables."""
    lines = [
        f"{totals['recordings']} recordings, {totals['traffic']} with model traffic, "
        f"{totals['replayed']} replay through a job file.",
        "",
        "| Category | Recordings | With traffic | Replay |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, counts in totals["by_category"].items():
        row = (counts.get(key, 0) for key in ("recordings", "traffic", "replayed"))
        lines.append(f"| {name} | " + " | ".join(map(str, row)) + " |")
    lines += ["", "| Why it does not replay | Recordings |", "| --- | ---: |"]
    lines += [f"| {reason} | {count} |" for reason, count in totals["by_reason"].items()]
    return "\n".join(lines) + "\n"


def census(
    root: Path, timeout: float, parallel: int, progress: Callable[[Outcome], None]
) -> list[Outcome]:
    """Every recording under ``root``, at most ``parallel`` replays at once."""
    keys = job_keys()
    recordings = sorted(root.rglob("*.yaml"))

    def one(recording: Path) -> Outcome:
        outcome = census_one(recording, root, keys, timeout)
        progress(outcome)
        return outcome

    with ThreadPoolExecutor(max_workers=parallel) as pool:
        return list(pool.map(one, recordings))


def _print_outcome(outcome: Outcome) -> None:
    state = "replays" if outcome.replayed else (outcome.reason or "no traffic")
    click.echo(f"{outcome.path}: {state}", err=True)


@click.command()
@click.argument("root", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--timeout", default=120.0, show_default=True, help="Seconds per recording.")
@click.option("--parallel", default=2, show_default=True, help="Replays at once.")
@click.option("--label", default="", help="A word in the output's name (before, after).")
@out_option
def main(root: Path, timeout: float, parallel: int, label: str, out: Path) -> None:
    """Census of ROOT's recordings (the SDK's test/snapshots)."""
    outcomes = census(root.resolve(), timeout, parallel, _print_outcome)
    totals = tally(outcomes)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    name = "-".join(part for part in ("recordings", label, stamp) if part)
    out.mkdir(parents=True, exist_ok=True)
    document = {**totals, "recordings_list": [asdict(o) for o in outcomes]}
    (out / f"{name}.json").write_text(json.dumps(document, indent=2) + "\n")
    (out / f"{name}.md").write_text(markdown(totals))
    click.echo(markdown(totals))


if __name__ == "__main__":
    main()

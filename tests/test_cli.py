"""The copilot-batch command: outputs and exit codes, run in a real subprocess where it matters."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import anyio
import pytest
from click.testing import CliRunner
from example_jobs import copy_example_jobs

from copilot_batch.cli import main
from copilot_batch.scripted_model import Fault, ScriptedModel, load_scripts
from copilot_batch.spec import job_schema

REPOSITORY = Path(__file__).resolve().parents[1]
SCRIPTS = REPOSITORY / "tests" / "data" / "scripts"
COPILOT_BATCH = [sys.executable, "-m", "copilot_batch"]


def write_job(folder: Path, text: str, name: str = "job.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def job_at_model(folder: Path, tasks: int, task_id: str, prompt: str) -> Path:
    """A job of ``tasks`` tasks named ``<task_id>-<n>``, each sending ``prompt`` to the
    scripted model whose address the run finds in MODEL_URL."""
    return write_job(
        folder,
        f"""
        version: 1
        defaults:
          model: gpt-4.1
          provider: {{type: openai, base_url: "${{MODEL_URL}}"}}
        matrix: {{n: {list(range(1, tasks + 1))}}}
        tasks:
          - {{id: "{task_id}-{{{{ n }}}}", prompt: {prompt}}}
        """,
    )


GREETING_JOB = """
    version: 1
    matrix: {n: [1, 2]}
    tasks:
      - {id: "hello-{{ n }}", prompt: Say hello.}
    """


def test_validate_reports_counts(tmp_path: Path) -> None:
    job = write_job(tmp_path, GREETING_JOB, "greet.yaml")
    other = write_job(tmp_path, "version: 1\ntasks: [{id: solo, prompt: x}]\n", "solo.yaml")
    result = CliRunner().invoke(main, ["validate", str(job), str(other)])
    assert result.exit_code == 0, result.output
    assert result.output == "ok: 2 job file(s), 3 task(s)\n"


def test_the_example_jobs_are_valid(tmp_path: Path) -> None:
    # A copy, with the repositories review-repos.yaml works in made beside it.
    jobs = copy_example_jobs(tmp_path)
    job_files = sorted(jobs.glob("*.yaml"))
    result = CliRunner().invoke(main, ["validate", str(jobs / "*.yaml")])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"ok: {len(job_files)} job file(s), ")


def test_skills_lists_what_each_task_would_load(tmp_path: Path) -> None:
    skills = REPOSITORY / "skills"
    job = write_job(
        tmp_path,
        f"""
        version: 1
        defaults:
          skills: {{directories: ["{skills}"]}}
        tasks:
          - {{id: docs, prompt: x, skills: {{directories: ["{skills}"], disabled: [docgen]}}}}
          - {{id: review, prompt: x}}
        """,
    )
    result = CliRunner().invoke(main, ["skills", str(job)])
    assert result.exit_code == 0, result.output
    rows = {line.split("\t")[0]: line.split("\t") for line in result.output.splitlines()}
    assert set(rows) == {"code-review", "coding-standards", "docgen"}
    assert rows["docgen"][2] == str(skills / "docgen" / "SKILL.md")
    assert rows["docgen"][3:] == ["tasks: review", "disabled in: docs"]
    assert rows["code-review"][3:] == ["tasks: docs, review"]
    assert "JSON" in rows["code-review"][1]


def test_validate_lists_every_problem_and_exits_2(tmp_path: Path) -> None:
    job = write_job(tmp_path, "version: 1\ntasks:\n  - id: a\n    promt: x\n")
    result = CliRunner().invoke(main, ["validate", str(job)])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: {job}:3:5: $.tasks[0]: 'prompt' is a required property",
        f"{job}:4:5: $.tasks[0].promt: unknown key 'promt' (did you mean 'prompt'?)",
    ]


def test_list_prints_expanded_tasks_with_matrix_values(tmp_path: Path) -> None:
    job = write_job(tmp_path, GREETING_JOB, "greet.yaml")
    result = CliRunner().invoke(main, ["list", str(job)])
    assert result.exit_code == 0
    assert result.output.splitlines() == ["hello-1\tgreet\tn=1", "hello-2\tgreet\tn=2"]


def test_schema_prints_the_published_schema() -> None:
    result = CliRunner().invoke(main, ["schema"])
    assert result.exit_code == 0
    assert json.loads(result.output) == job_schema()


def test_dry_run_prints_tasks_and_starts_nothing(tmp_path: Path) -> None:
    job = write_job(tmp_path, GREETING_JOB)
    out = tmp_path / "runs"
    result = CliRunner().invoke(main, ["run", str(job), "--dry-run", "--out", str(out)])
    assert result.exit_code == 0
    assert [line.split("\t")[0] for line in result.output.splitlines()] == ["hello-1", "hello-2"]
    assert not out.exists()


def test_missing_cli_is_a_setup_error_with_exit_2(tmp_path: Path) -> None:
    job = write_job(tmp_path, GREETING_JOB)
    out = tmp_path / "runs"
    result = CliRunner(env={"COPILOT_CLI_PATH": str(tmp_path / "no-copilot")}).invoke(
        main, ["run", str(job), "--out", str(out)]
    )
    assert result.exit_code == 2
    assert "The GitHub Copilot CLI was not found." in result.stderr
    assert "npm ci" in result.stderr
    assert not out.exists()


def test_cli_that_will_not_start_exits_2_and_run_json_says_why(tmp_path: Path) -> None:
    job = write_job(tmp_path, GREETING_JOB)
    broken_cli = tmp_path / "copilot"
    broken_cli.write_text("#!/bin/sh\nexit 3\n")
    broken_cli.chmod(0o755)
    command = [
        "run",
        str(job),
        "--cli-path",
        str(broken_cli),
        "--out",
        str(tmp_path),
        "--run-id",
        "r",
    ]
    result = CliRunner().invoke(main, command)
    assert result.exit_code == 2
    # The SDK words it "exited with code 3" or "exited unexpectedly", depending on timing.
    failure = f"the Copilot CLI at {broken_cli} did not start: RuntimeError: CLI process exited"
    assert result.stderr.startswith(f"error: {failure}")
    record = json.loads((tmp_path / "r" / "run.json").read_text())
    assert record["state"] == "failed"
    assert record["failure"].startswith(failure)
    assert [task["status"] for task in record["tasks"]] == ["cancelled", "cancelled"]


def test_only_that_matches_nothing_exits_2(tmp_path: Path) -> None:
    job = write_job(tmp_path, GREETING_JOB)
    result = CliRunner().invoke(main, ["run", str(job), "--only", "bye-*", "--dry-run"])
    assert result.exit_code == 2
    assert "--only bye-* matches none of the tasks: hello-1, hello-2" in result.stderr


def test_bad_replay_script_exits_2(tmp_path: Path) -> None:
    job = write_job(tmp_path, GREETING_JOB)
    script = write_job(tmp_path, "models: [gpt-4.1]\nconversations: []\n", "empty.yaml")
    result = CliRunner().invoke(main, ["run", str(job), "--replay", str(script)])
    assert result.exit_code == 2
    assert f"{script}:1: `conversations` must be a non-empty list" in result.stderr


@pytest.mark.cli
def test_run_exit_codes_and_summary(tmp_path: Path) -> None:
    ok_job = write_job(tmp_path, GREETING_JOB, "ok.yaml")
    bad_job = write_job(
        tmp_path, "version: 1\ntasks:\n  - {id: lost, prompt: Nobody scripted this.}\n", "bad.yaml"
    )
    replay = ["--replay", str(SCRIPTS / "greetings.yaml"), "--out", str(tmp_path / "runs")]

    ok = CliRunner().invoke(main, ["run", str(ok_job), *replay, "--run-id", "ok"])
    assert ok.exit_code == 0, ok.output
    assert "ok        hello-1" in ok.output
    assert "run folder" in ok.output and str(tmp_path / "runs" / "ok") in ok.output

    failed = CliRunner().invoke(main, ["run", str(bad_job), *replay, "--run-id", "bad", "-q"])
    assert failed.exit_code == 1
    assert "lost" not in failed.output  # --quiet: no per-task lines, only the summary
    assert json.loads((tmp_path / "runs" / "bad" / "run.json").read_text())["totals"]["failed"] == 1


@pytest.mark.cli
@pytest.mark.anyio
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
async def test_interrupt_cancels_tasks_exits_130_and_resume_finishes_the_rest(
    tmp_path: Path, signum: signal.Signals
) -> None:
    scripts = load_scripts([SCRIPTS / "greetings.yaml"])
    # The first two model calls hang, so the run is mid-way when the signal comes.
    async with ScriptedModel(scripts, faults=[Fault(kind="hang", times=2)]) as model:
        job = job_at_model(tmp_path, 3, "wait", "Take your time.")
        command = [*COPILOT_BATCH, "run", str(job), "--out", str(tmp_path), "--run-id", "r"]
        command += ["--concurrency", "2"]
        env = {**os.environ, "MODEL_URL": model.base_url}
        async with await anyio.open_process(command, env=env) as process:
            with anyio.fail_after(60):
                await model.wait_for(lambda requests: len(requests) >= 2)
                process.send_signal(signum)
                assert await process.wait() == 130

        record = json.loads((tmp_path / "r" / "run.json").read_text())
        assert record["state"] == "interrupted"
        statuses = {task["id"]: task["status"] for task in record["tasks"]}
        assert statuses == {"wait-1": "cancelled", "wait-2": "cancelled", "wait-3": "cancelled"}
        for task_id in statuses:
            result = json.loads((tmp_path / "r" / "tasks" / task_id / "result.json").read_text())
            assert result["status"] == "cancelled"

        resumed = await anyio.run_process(
            [*COPILOT_BATCH, "resume", "r", "--out", str(tmp_path)], env=env, check=False
        )
    assert resumed.returncode == 0, resumed.stderr
    record = json.loads((tmp_path / "r" / "run.json").read_text())
    assert record["state"] == "finished"
    assert record["started_at"] < record["resumed_at"][0]
    assert [task["status"] for task in record["tasks"]] == ["ok", "ok", "ok"]
    for task_id in statuses:
        result = json.loads((tmp_path / "r" / "tasks" / task_id / "result.json").read_text())
        assert [a["status"] for a in result["attempts"]] == ["cancelled", "ok"]


@pytest.mark.cli
@pytest.mark.anyio
async def test_secrets_never_reach_files_or_terminal(tmp_path: Path) -> None:
    api_key, token = "canary-api-key-5f1e2d3c", "canary-gh-token-9a8b7c6d"
    header, mcp_env = "canary-header-0c1d2e3f", "canary-mcp-env-4a5b6c7d"
    # A model that repeats the key: the answer, the events and the terminal line all carry it.
    script = write_job(
        tmp_path,
        f"""
        models: [gpt-4.1]
        conversations:
          - messages:
              - {{role: system, content: "${{system}}"}}
              - {{role: user, content: Say the key.}}
              - {{role: assistant, content: "The key is {api_key}, the header {header}."}}
        """,
        "leaky.yaml",
    )
    async with ScriptedModel(load_scripts([script])) as model:
        job = write_job(
            tmp_path,
            f"""
            version: 1
            defaults:
              model: gpt-4.1
              provider:
                type: openai
                base_url: "${{MODEL_URL}}"
                api_key: "${{CANARY_KEY}}"
                headers: {{X-Canary: "${{CANARY_HEADER}}", X-Team: {{value: docs, secret: false}}}}
              mcp_servers:
                idle:
                  command: {sys.executable}
                  args: [-c, "pass"]
                  env: {{SERVICE_TOKEN: "${{CANARY_MCP}}"}}
            tasks:
              - {{id: leak, prompt: Say the key.}}
            """,
        )
        env = {
            **os.environ,
            "MODEL_URL": model.base_url,
            "CANARY_KEY": api_key,
            "CANARY_HEADER": header,
            "CANARY_MCP": mcp_env,
            "GH_TOKEN": token,
        }
        command = [*COPILOT_BATCH, "run", str(job), "--out", str(tmp_path / "runs")]
        finished = await anyio.run_process(command, env=env, check=False)

    assert finished.returncode == 0, finished.stderr
    output = finished.stdout + finished.stderr
    assert b"The key is ***, the header ***." in output
    written = b"".join(
        path.read_bytes() for path in (tmp_path / "runs").rglob("*") if path.is_file()
    )
    for secret in (api_key, token, header, mcp_env):
        assert secret.encode() not in output
        assert secret.encode() not in written
    assert b"The key is ***, the header ***." in written
    # A header marked not secret is shown as written.
    assert b'"X-Team": "docs"' in written


@pytest.mark.parametrize(
    "text",
    [
        "version: 1\ntasks:\n  - id: [a\n",
        "version: 1\ntasks: [{id: a, prompt: x, timeout: soon}]\n",
        "version: 1\ntasks: [{id: a, prompt: x, tools: {available: [nope]}}]\n",
        "version: 1\nmatrix: {m: {glob: '*.none'}}\ntasks: [{id: 'a{{ m }}', prompt: x}]\n",
        "version: 1\ntasks: [{id: a, prompt: x, output_schema: {type: nonsense}}]\n",
        "version: 1\ntasks: [{id: a, prompt: '{{ undefined }}'}]\n",
    ],
)
def test_bad_input_exits_2_and_starts_no_cli(tmp_path: Path, text: str) -> None:
    marker = tmp_path / "cli-was-started"
    fake_cli = tmp_path / "copilot"
    fake_cli.write_text(f"#!/bin/sh\ntouch {marker}\nexit 1\n")
    fake_cli.chmod(0o755)
    job = tmp_path / "broken.yaml"
    job.write_text(text)
    result = CliRunner().invoke(
        main, ["run", str(job), "--cli-path", str(fake_cli), "--out", str(tmp_path / "runs")]
    )
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {job}:")
    assert not marker.exists()
    assert not (tmp_path / "runs").exists()


@pytest.mark.cli
@pytest.mark.anyio
async def test_a_second_signal_exits_at_once_leaving_whole_files(tmp_path: Path) -> None:
    scripts = load_scripts([SCRIPTS / "greetings.yaml"])
    async with ScriptedModel(scripts, faults=[Fault(kind="hang", times=None)]) as model:
        job = job_at_model(tmp_path, 2, "wait", "Take your time.")
        command = [*COPILOT_BATCH, "run", str(job), "--out", str(tmp_path), "--run-id", "r"]
        env = {**os.environ, "MODEL_URL": model.base_url}
        async with await anyio.open_process(command, env=env) as process:
            with anyio.fail_after(60):
                await model.wait_for(lambda requests: len(requests) >= 2)
                process.send_signal(signal.SIGINT)
                # The second signal, once the first is being handled (sessions closing).
                while '"interrupted"' not in (tmp_path / "r" / "run.log").read_text():
                    await anyio.sleep(0.005)
                process.send_signal(signal.SIGINT)
                assert await process.wait() == 130
    assert "interrupted again; exiting at once" in (tmp_path / "r" / "run.log").read_text()
    # Whatever state it reached, the files copilot-batch writes are whole JSON.
    ours = [tmp_path / "r" / "run.json", *(tmp_path / "r" / "tasks").glob("*/result.json")]
    for path in ours:
        json.loads(path.read_text())


@pytest.mark.cli
@pytest.mark.anyio
async def test_a_terminal_shows_running_tasks_live_and_then_the_summary(tmp_path: Path) -> None:
    scripts = load_scripts([SCRIPTS / "greetings.yaml"])
    async with ScriptedModel(scripts, latency=2.0) as model:
        job = job_at_model(tmp_path, 3, "greet", "Say hello.")
        env = {**os.environ, "MODEL_URL": model.base_url, "TERM": "xterm", "COLUMNS": "120"}
        command = [*COPILOT_BATCH, "run", str(job), "--out", str(tmp_path / "runs")]
        controller, terminal = os.openpty()  # the run's stdout is a pseudo-terminal
        async with await anyio.open_process(
            command, env=env, stdin=subprocess.DEVNULL, stdout=terminal, stderr=terminal
        ) as process:
            os.close(terminal)
            screen = b""
            with anyio.fail_after(120):
                while True:
                    try:
                        chunk = await anyio.to_thread.run_sync(os.read, controller, 65536)
                    except OSError:  # the terminal closed: the run is over
                        break
                    if not chunk:
                        break
                    screen += chunk
                assert await process.wait() == 0
        os.close(controller)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.decode(errors="replace"))
    # While the tasks waited on the model, the live panel showed them and the totals.
    assert "0/3 done (none yet), 3 running" in text
    assert "thinking" in text
    # Then each finished task, and the closing summary.
    assert text.count("greet-") >= 6
    assert "run folder" in text and "ok          3" in text

"""The copilot-batch command: outputs and exit codes, run in a real subprocess where it matters."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import anyio
import pytest
from click.testing import CliRunner
from example_jobs import copy_example_jobs

from copilot_batch.bugs import report_address
from copilot_batch.cli import main
from copilot_batch.jobfile import job_schema
from copilot_batch.scripted_model import Fault, ScriptedModel, load_scripts

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
    # A script without conversations loads with a notice; one whose conversations are no
    # list cannot load.
    script = write_job(tmp_path, "models: [gpt-4.1]\nconversations: {a: 1}\n", "bad.yaml")
    result = CliRunner().invoke(main, ["run", str(job), "--replay", str(script)])
    assert result.exit_code == 2
    assert f"{script}:1: `conversations` must be a list" in result.stderr


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


def test_errors_print_as_plain_text_whole_and_at_once(tmp_path: Path) -> None:
    # An error at line 100: ":100:" is no emoji code here, and "[/x]" no markup.
    job = write_job(tmp_path, "version: 1\n" + "#\n" * 98 + "tasks: [{id: a, promt: x}]\n")
    result = CliRunner().invoke(main, ["validate", str(job)])
    assert result.exit_code == 2
    assert f"{job}:100:" in result.stderr
    pattern = "[/x] :100: :smile: " * 6000  # a message of over 100 KB
    job = write_job(tmp_path, GREETING_JOB)
    result = CliRunner().invoke(main, ["run", str(job), "--only", pattern, "--dry-run"])
    assert result.exit_code == 2
    assert result.stderr == f"error: --only {pattern} matches none of the tasks: hello-1, hello-2\n"


def fake_cli(tmp_path: Path) -> tuple[Path, Path]:
    """A CLI binary that leaves a mark when something starts it."""
    marker = tmp_path / "cli-was-started"
    binary = tmp_path / "copilot"
    binary.write_text(f"#!/bin/sh\ntouch {marker}\nexit 1\n")
    binary.chmod(0o755)
    return binary, marker


@pytest.mark.parametrize("run_id", [".", "..", "../x", "a/b", "x\0y", "x" * 129, ""])
def test_a_run_id_that_is_no_folder_name_is_refused(tmp_path: Path, run_id: str) -> None:
    job = write_job(tmp_path, GREETING_JOB)
    binary, marker = fake_cli(tmp_path)
    out = tmp_path / "out" / "runs"
    command = ["run", str(job), "--out", str(out), "--run-id", run_id, "--cli-path", str(binary)]
    result = CliRunner().invoke(main, command)
    assert result.exit_code == 2
    assert "Invalid value for '--run-id'" in result.stderr
    assert not marker.exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["copilot", "job.yaml"]


def test_a_run_id_that_exists_is_refused_and_its_folder_left_alone(tmp_path: Path) -> None:
    job = write_job(tmp_path, GREETING_JOB)
    binary, marker = fake_cli(tmp_path)
    out = tmp_path / "runs"
    (out / "r").mkdir(parents=True)
    (out / "r" / "run.json").write_text("{}")
    command = ["run", str(job), "--out", str(out), "--run-id", "r", "--cli-path", str(binary)]
    result = CliRunner().invoke(main, command)
    assert result.exit_code == 2
    assert result.stderr == f"error: --run-id r: {out / 'r'} already exists; give a new run id\n"
    assert not marker.exists()
    assert os.listdir(out / "r") == ["run.json"]
    assert (out / "r" / "run.json").read_text() == "{}"


@pytest.mark.parametrize(
    ("out", "message"),
    [
        ("notes.txt/runs", "{tmp}/notes.txt is not a folder"),
        ("/proc/copilot-batch-runs", "cannot make folders in /proc: "),
        ("x" * 300 + "/runs", "is longer than 255 bytes"),
    ],
)
def test_an_out_folder_that_cannot_be_made_is_refused(
    tmp_path: Path, out: str, message: str
) -> None:
    job = write_job(tmp_path, GREETING_JOB)
    (tmp_path / "notes.txt").write_text("a file, not a folder")
    binary, marker = fake_cli(tmp_path)
    out_dir = out if out.startswith("/") else str(tmp_path / out)
    result = CliRunner().invoke(
        main, ["run", str(job), "--out", out_dir, "--cli-path", str(binary)]
    )
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: --out {out_dir}: ")
    assert message.format(tmp=tmp_path) in result.stderr
    assert not marker.exists()


@pytest.mark.parametrize(
    ("url", "valid"),
    [
        ("8080", True),
        ("localhost:8080", True),
        ("http://127.0.0.1:8080", True),
        ("https://[::1]:8080", True),
        ("localhost", False),
        ("http://host", False),
        ("host:0", False),
        ("host:65536", False),
        ("a:b:c", False),
        ("host:80/path", False),
        ("x y:80", False),
        ("", False),
    ],
)
def test_cli_url_must_be_an_address(tmp_path: Path, url: str, valid: bool) -> None:
    job = write_job(tmp_path, GREETING_JOB)
    result = CliRunner().invoke(main, ["run", str(job), "--cli-url", url, "--dry-run"])
    assert result.exit_code == (0 if valid else 2), result.output
    if not valid:
        assert "Invalid value for '--cli-url'" in result.stderr


def test_more_clients_than_sessions_is_refused(tmp_path: Path) -> None:
    job = write_job(tmp_path, GREETING_JOB)
    result = CliRunner().invoke(main, ["run", str(job), "-j", "2", "--clients", "3"])
    assert result.exit_code == 2
    assert "Invalid value for '--clients': 3 CLI processes for 2 sessions" in result.stderr
    result = CliRunner().invoke(main, ["run", str(job), "--clients", "100000"])
    assert result.exit_code == 2


def test_a_negative_recycle_after_is_refused(tmp_path: Path) -> None:
    job = write_job(tmp_path, GREETING_JOB)
    result = CliRunner().invoke(main, ["run", str(job), "--recycle-after", "-1"])
    assert result.exit_code == 2
    assert "Invalid value for '--recycle-after'" in result.stderr


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--host", "999.1.1.1"], "error: the scripted model cannot listen on 999.1.1.1:0: "),
        (["--host", ""], "Invalid value for '--host'"),
        (["--latency", "nan"], "Invalid value for '--latency'"),
        (["--latency", "inf"], "Invalid value for '--latency'"),
    ],
)
def test_model_server_with_a_bad_option_exits_2(options: list[str], message: str) -> None:
    script = str(SCRIPTS / "greetings.yaml")
    result = CliRunner().invoke(main, ["model-server", "--script", script, *options])
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.splitlines()) == 1 or "Usage:" in result.stderr


def test_model_server_on_a_port_in_use_exits_2() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        script = str(SCRIPTS / "greetings.yaml")
        result = CliRunner().invoke(main, ["model-server", "--script", script, "--port", str(port)])
    assert result.exit_code == 2
    assert result.stderr.startswith(
        f"error: the scripted model cannot listen on 127.0.0.1:{port}: "
    )
    assert len(result.stderr.splitlines()) == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[" * 100_000, "not valid YAML: nested too deeply"),
        ("models: [" + "9" * 5000 + "]\n", "not valid YAML: Exceeds the limit"),
        ("models: 5\nconversations: []\n", "`models` must be a list of model names"),
    ],
)
def test_model_server_with_a_broken_script_exits_2(tmp_path: Path, text: str, message: str) -> None:
    script = write_job(tmp_path, text, "script.yaml")
    result = CliRunner().invoke(main, ["model-server", "--script", str(script)])
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: {script}") and message in line


def test_a_bug_prints_one_line_exits_70_and_saves_the_traceback(tmp_path: Path) -> None:
    token = "canary-token-7e6d5c4b"
    # A real bug stands in: the job loader, patched in the process, raises what nobody
    # catches (with a secret in its message).
    code = textwrap.dedent(
        """
        import os, sys
        import copilot_batch.cli as cli
        def broken(paths):
            raise RuntimeError("planted bug near " + os.environ["GH_TOKEN"] + "\\nsecond line")
        cli.load_jobs = broken
        sys.argv[0] = "copilot-batch"
        cli.main()
        """
    )
    job = write_job(tmp_path, GREETING_JOB)
    (tmp_path / "tmp").mkdir()
    env = {**os.environ, "TMPDIR": str(tmp_path / "tmp"), "GH_TOKEN": token}
    finished = subprocess.run(
        [sys.executable, "-c", code, "validate", str(job)], env=env, capture_output=True, text=True
    )
    assert finished.returncode == 70
    [saved] = (tmp_path / "tmp").glob("copilot-batch-bug-*.log")
    assert finished.stderr == (
        "error: copilot-batch hit a bug: RuntimeError: planted bug near *** second line "
        f"(traceback in {saved}); please report it at {report_address()}\n"
    )
    traceback = saved.read_text()
    assert traceback.startswith("Traceback (most recent call last):")
    assert 'File "<string>", line 5, in broken' in traceback
    assert token not in traceback


@pytest.mark.cli
def test_a_bug_during_a_run_goes_to_run_log_and_keeps_every_result(tmp_path: Path) -> None:
    # The bug strikes once every task has finished: their results stay, run.json says why.
    code = textwrap.dedent(
        """
        import sys
        import copilot_batch.runtime.runner as runner
        from copilot_batch.cli import main
        original = runner.run_tasks
        async def run_then_fail(*args, **kwargs):
            await original(*args, **kwargs)
            raise KeyError("planted bug")
        runner.run_tasks = run_then_fail
        sys.argv[0] = "copilot-batch"
        main()
        """
    )
    job = write_job(tmp_path, GREETING_JOB)
    (tmp_path / "tmp").mkdir()
    command = [sys.executable, "-c", code, "run", str(job), "--out", str(tmp_path / "runs")]
    command += ["--replay", str(SCRIPTS / "greetings.yaml"), "--run-id", "r", "-q"]
    env = {**os.environ, "TMPDIR": str(tmp_path / "tmp")}
    finished = subprocess.run(command, env=env, capture_output=True, text=True)
    assert finished.returncode == 70, finished.stderr
    run_log = tmp_path / "runs" / "r" / "run.log"
    assert finished.stderr == (
        "error: copilot-batch hit a bug: KeyError: 'planted bug' "
        f"(traceback in {run_log}); please report it at {report_address()}\n"
    )
    assert not list((tmp_path / "tmp").glob("copilot-batch-bug-*"))
    [logged] = [json.loads(line) for line in run_log.read_text().splitlines() if "bug" in line]
    assert logged["event"] == "copilot-batch hit a bug"
    assert "KeyError: 'planted bug'" in logged["exception"]
    record = json.loads((tmp_path / "runs" / "r" / "run.json").read_text())
    assert (record["state"], record["failure"]) == (
        "failed",
        "copilot-batch hit a bug: KeyError: 'planted bug'",
    )
    assert [task["status"] for task in record["tasks"]] == ["ok", "ok"]
    for task_id in ("hello-1", "hello-2"):
        result = json.loads(
            (tmp_path / "runs" / "r" / "tasks" / task_id / "result.json").read_text()
        )
        assert result["final_message"] == "Hello!"


@pytest.mark.cli
def test_replay_root_names_what_workdir_stands_for(tmp_path: Path) -> None:
    """A recording made in ``root`` names the session's folder four levels down as
    ``${workdir}/a/b/c/d``; only ``--replay-root`` tells the scripted model so."""
    deep = tmp_path / "root" / "a" / "b" / "c" / "d"
    deep.mkdir(parents=True)
    job = write_job(
        deep,
        f"""
        version: 1
        defaults: {{model: gpt-4.1}}
        tasks:
          - {{id: read, prompt: "Summarise {deep}/notes.txt"}}
        """,
    )
    script = write_job(
        tmp_path,
        """
        models: [gpt-4.1]
        conversations:
          - messages:
              - {role: system, content: "${system}"}
              - {role: user, content: "Summarise ${workdir}/a/b/c/d/notes.txt"}
              - {role: assistant, content: "It says hello."}
        """,
        "script.yaml",
    )
    common = ["run", str(job), "--replay", str(script), "-q"]
    found = CliRunner().invoke(main, [*common, "--out", str(tmp_path / "found")])
    named = CliRunner().invoke(
        main,
        [*common, "--out", str(tmp_path / "named"), "--replay-root", str(tmp_path / "root")],
    )
    assert (found.exit_code, named.exit_code) == (1, 0)
    [run] = (tmp_path / "named").iterdir()
    record = json.loads((run / "run.json").read_text())
    assert record["options"]["replay_root"] == str(tmp_path / "root")
    assert record["tasks"][0]["final_message"] == "It says hello."


# What each command must not import: the SDK and aiohttp (the scripted model's server).
_RUN_ONLY = ("copilot", "aiohttp")


@pytest.mark.parametrize(
    "arguments",
    [
        ["--help"],
        [
            "validate",
            "jobs/hello-matrix.yaml",
            "jobs/summarize-samples.yaml",
            "jobs/nightly-docs.yaml",
        ],
        ["list", "jobs/hello-matrix.yaml"],
        ["schema"],
        ["skills", "jobs/hello-matrix.yaml"],
        ["show", "tests/data/no-such-run"],
        ["run", "--help"],
        ["model-server", "--help"],
    ],
)
def test_commands_that_run_nothing_import_neither_the_sdk_nor_aiohttp(
    arguments: list[str],
) -> None:
    program = textwrap.dedent(
        f"""
        import sys
        from click.testing import CliRunner
        from copilot_batch.cli import main
        result = CliRunner().invoke(main, {arguments!r})
        assert result.exception is None or isinstance(result.exception, SystemExit), result
        print([name for name in {_RUN_ONLY!r} if name in sys.modules])
        """
    )
    finished = subprocess.run(
        [sys.executable, "-c", program], cwd=REPOSITORY, capture_output=True, text=True
    )
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.strip() == "[]"


def test_a_run_prints_its_first_line_before_any_cli_starts(tmp_path: Path) -> None:
    job = write_job(tmp_path, GREETING_JOB)
    output, seen = tmp_path / "output.txt", tmp_path / "seen-by-the-cli.txt"
    # The CLI copies what the run had printed when it started, then fails to start.
    binary = tmp_path / "copilot"
    binary.write_text(f"#!/bin/sh\ncat {output} >> {seen}\nexit 1\n")
    binary.chmod(0o755)
    command = [*COPILOT_BATCH, "run", str(job), "--out", str(tmp_path / "runs")]
    with output.open("w") as stdout:
        subprocess.run(
            [*command, "--run-id", "r", "--cli-path", str(binary), "--clients", "1"],
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=subprocess.DEVNULL,
        )
    folder = tmp_path / "runs" / "r"
    first = "on 1 Copilot CLI client(s); results in " + str(folder)
    assert seen.read_text().splitlines()[0].endswith(first)


def test_recycle_after_reaches_the_run_options(tmp_path: Path) -> None:
    job = write_job(tmp_path, GREETING_JOB)
    binary = tmp_path / "copilot"  # fails to start: run.json still records the options
    binary.write_text("#!/bin/sh\nexit 1\n")
    binary.chmod(0o755)
    out = tmp_path / "runs"
    arguments = ["run", str(job), "--out", str(out), "--run-id", "r", "--cli-path", str(binary)]
    subprocess.run(
        [*COPILOT_BATCH, *arguments, "--recycle-after", "7"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
    )
    run = json.loads((out / "r" / "run.json").read_text())
    assert (run["options"]["recycle_after"], run["cli_recycled"]) == (7, 0)

"""copilot_batch.testing as a user meets it: a job file with a custom tool tested offline
at the scripted model, and the pytest plugin in a fresh pytest session."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from copilot_batch import TaskStatus
from copilot_batch.testing import (
    children_running,
    one_tool_conversation,
    read_events,
    read_task_result,
    run_job,
    write_script,
)

GREETINGS = Path(__file__).resolve().parent / "data" / "scripts" / "greetings.yaml"

GREET_TOOLS = Path(__file__).resolve().parent / "data" / "greet_tools.py"

JOB = """
version: 1
defaults:
  model: gpt-4.1
  permissions: approve-all
  tools:
    custom: ["greeting_tools:greet"]
tasks:
  - {id: greet-ada, prompt: Greet Ada.}
"""


@pytest.mark.cli
@pytest.mark.anyio
async def test_a_job_file_with_a_custom_tool_runs_offline(tmp_path: Path) -> None:
    shutil.copy(GREET_TOOLS, tmp_path / "greeting_tools.py")
    # The script goes on only if the CLI sends back what the tool really answers.
    conversation = one_tool_conversation(
        "Greet Ada.", "greet", {"name": "Ada"}, "Hello, Ada!", "I greeted Ada."
    )
    script = write_script(tmp_path, [conversation])

    result = await run_job(tmp_path, JOB, replay=(script,))

    [task] = result.results
    assert (task.status, task.final_message) == (TaskStatus.OK, "I greeted Ada."), task.error
    assert read_task_result(result, "greet-ada")["status"] == "ok"
    events = [line["event"] for line in read_events(result, "greet-ada")]
    [call] = [event["data"] for event in events if event["type"] == "tool.execution_start"]
    [done] = [event["data"] for event in events if event["type"] == "tool.execution_complete"]
    assert (call["toolName"], call["arguments"]) == ("greet", {"name": "Ada"})
    assert done["result"]["content"] == "Hello, Ada!"


def test_children_running_finds_this_process_children_by_executable() -> None:
    sleeper = subprocess.Popen(["sleep", "5"])
    try:
        assert sleeper.pid in children_running(Path(shutil.which("sleep") or "sleep"))
        assert sleeper.pid not in children_running(Path(sys.executable))
    finally:
        sleeper.kill()
        sleeper.wait()


def test_the_plugin_gives_a_fresh_session_its_fixtures_and_marker(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        f"""
        import sys
        from pathlib import Path

        import pytest

        # Loading the plugin (before this module) imported no Copilot SDK.
        SDK_LOADED = "copilot" in sys.modules

        @pytest.fixture
        def scripted_model_scripts():
            return [Path({str(GREETINGS)!r})]

        def test_the_plugin_is_cheap_to_load():
            assert not SDK_LOADED

        @pytest.mark.cli
        def test_marked():
            pass

        @pytest.mark.anyio
        async def test_the_scripted_model_serves(scripted_model):
            assert scripted_model.base_url.startswith("http://127.0.0.1:")
            assert scripted_model.models == ("gpt-4.1",)
        """
    )
    ran = pytester.runpytest_subprocess(
        "-p", "copilot_batch.testing.plugin", "--strict-markers", "-m", "not cli"
    )
    ran.assert_outcomes(passed=2, deselected=1)

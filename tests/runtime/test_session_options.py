"""What a task spec asks of ``create_session``."""

from __future__ import annotations

import textwrap
from pathlib import Path

from copilot_batch import load_jobs
from copilot_batch.runtime.session import session_options


def test_tasks_with_their_own_provider_turn_session_telemetry_off(tmp_path: Path) -> None:
    job = tmp_path / "job.yaml"
    job.write_text(
        textwrap.dedent(
            """
            version: 1
            defaults: {model: gpt-4.1}
            tasks:
              - id: byok
                prompt: Say hello.
                provider: {type: openai, base_url: "http://127.0.0.1:9/v1", api_key: k}
              - {id: copilot-api, prompt: Say hello.}
            """
        )
    )
    byok, copilot_api = (
        session_options(task, lambda entry: None) for task in load_jobs([job])[0].tasks
    )
    assert byok["enable_session_telemetry"] is False
    assert byok["provider"]["base_url"] == "http://127.0.0.1:9/v1"
    assert "enable_session_telemetry" not in copilot_api
    assert "provider" not in copilot_api

"""Recordings without conversations, recorded HTTP errors, and the recording's root."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from copilot_batch.scripted_model import ScriptedModel, load_scripts, parse_script
from copilot_batch.scripted_model.matcher import find_error
from copilot_batch.scripted_model.normalize import normalize_messages

ERRORS = """\
models: [claude-sonnet-4.5, auto]
errors:
  - model: claude-sonnet-4.5
    status: 429
    code: user_weekly_rate_limited
    message: You've reached your weekly rate limit.
    retryAfterSeconds: 1
    messages:
      - {role: system, content: "${system}"}
      - {role: user, content: Explain.}
conversations:
  - messages:
      - {role: system, content: "${system}"}
      - {role: user, content: Explain.}
      - {role: assistant, content: Recovered.}
"""
REQUEST = [{"role": "system", "content": "You are…"}, {"role": "user", "content": "Explain."}]


def test_a_recording_without_conversations_loads_with_a_notice(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "empty.yaml").write_text("models: [gpt-4.1]\nconversations: []\n")
    (tmp_path / "none.yaml").write_text("models: [gpt-4.1]\n")
    with caplog.at_level(logging.WARNING):
        scripts = load_scripts([tmp_path])
    assert [s.conversations for s in scripts] == [(), ()]
    notices = ScriptedModel(scripts).notices
    assert len(notices) == 2 and all("has no conversations" in n for n in notices)
    assert "empty.yaml: the script has no conversations" in caplog.text


def test_a_recorded_error_matches_its_request_and_model_only() -> None:
    script = parse_script(ERRORS, Path("e.yaml"))
    (error,) = script.errors
    assert (error.status, error.code, error.retry_after) == (429, "user_weekly_rate_limited", 1)
    request = normalize_messages(REQUEST)
    assert find_error([script], request, "claude-sonnet-4.5") is error
    assert find_error([script], request, "auto") is None
    assert find_error([script], request[:1], "claude-sonnet-4.5") is None


@pytest.mark.parametrize(
    ("mentioned", "workdir", "root"),
    [
        ("${workdir}/subproject/a.txt", "/tmp/w/subproject", "/tmp/w"),
        ("${workdir}/a/b/c.txt", "/tmp/w/a/b", "/tmp/w"),
        ("${workdir}/a.txt", "/tmp/w/subproject", "/tmp/w/subproject"),
        ("no path at all", "/tmp/w", "/tmp/w"),
    ],
)
def test_workdir_binds_to_the_recordings_root(mentioned: str, workdir: str, root: str) -> None:
    text = (
        "conversations:\n  - messages:\n      - {role: user, content: go}\n"
        f"      - {{role: assistant, content: '{mentioned}'}}\n"
    )
    model = ScriptedModel([parse_script(text, Path("r.yaml"))])
    assert model.recording_root(workdir) == root
    assert ScriptedModel([], root="/given/").recording_root(workdir) == "/given"

"""The events' writer: each task's lines in the order they came, whatever arrives together."""

from __future__ import annotations

import json
import os
from pathlib import Path

import anyio
import pytest

from copilot_batch.redact import Redactor
from copilot_batch.run_folder.events import EventLogWriter
from copilot_batch.run_folder.layout import RunFolder

pytestmark = pytest.mark.anyio


def _open_files() -> set[Path]:
    """The events.jsonl files this process holds open."""
    fds = Path("/proc/self/fd")
    targets = {Path(os.readlink(fd)) for fd in fds.iterdir() if fd.exists()}
    return {target for target in targets if target.name == "events.jsonl"}


def _lines(folder: RunFolder, task_id: str) -> list[dict[str, object]]:
    text = folder.events_path(task_id).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


async def test_events_that_arrive_together_keep_their_task_and_order(tmp_path: Path) -> None:
    folder = RunFolder.create(tmp_path, "run", Redactor(["sk-secret-123"]))
    writer = EventLogWriter(folder)
    first, second = writer.sink("a"), writer.sink("b")
    # All queued before the writer runs, so it takes them as one batch: the two tasks
    # interleaved, a's sink closed in the middle, b's retry numbered apart.
    first.emit({"type": "one", "data": {"n": 1}})
    second.emit({"type": "one", "data": {"key": "sk-secret-123"}})
    first.emit({"type": "two", "data": {"text": "héllo\nworld"}})
    first.close()
    first.emit({"type": "late"})  # after the close: dropped
    second.attempt = 2
    second.emit({"type": "two", "data": {}})
    async with anyio.create_task_group() as group:
        group.start_soon(writer.run)
        async with writer:
            await anyio.wait_all_tasks_blocked()  # the writer has taken the batch
            # A task's file is closed with its sink: a long run holds no file per task.
            assert _open_files() == {folder.events_path("b")}
            second.close()

    a, b = _lines(folder, "a"), _lines(folder, "b")
    assert [line["event"] for line in a] == [
        {"type": "one", "data": {"n": 1}},
        {"type": "two", "data": {"text": "héllo\nworld"}},
    ]
    assert [(line["attempt"], line["event"]) for line in b] == [
        (1, {"type": "one", "data": {"key": "***"}}),
        (2, {"type": "two", "data": {}}),
    ]
    assert all(set(line) == {"received_at", "attempt", "event"} for line in a + b)
    assert "sk-secret-123" not in folder.events_path("b").read_text(encoding="utf-8")

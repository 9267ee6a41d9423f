"""The single writer of every task's events.jsonl.

Tasks hand events to an in-memory stream from the SDK's event callback, which runs on
the event loop and must not block; one writer task serialises them and owns the files.
Each task holds a cloned send stream and closes it when its session is gone, so the
writer ends exactly when the last task has finished.
"""

from __future__ import annotations

import contextlib
import json
import math
from datetime import UTC, datetime
from types import TracebackType
from typing import IO, Any

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from .layout import RunFolder

# (task id, received at, attempt, event dict); an event dict of None closes that task's file.
_Item = tuple[str, datetime, int, dict[str, Any] | None]


class EventSink:
    """One task's handle on the event log. Close it when the task's session is gone."""

    def __init__(self, task_id: str, stream: MemoryObjectSendStream[_Item]) -> None:
        self.task_id = task_id
        self.attempt = 1  # marks each line, so the events of retries stay apart
        self._stream = stream

    def emit(self, event: dict[str, Any]) -> None:
        """Queue one event; never blocks (the stream is unbounded). Late events are dropped."""
        with contextlib.suppress(anyio.ClosedResourceError):
            self._stream.send_nowait((self.task_id, datetime.now(UTC), self.attempt, event))

    def close(self) -> None:
        self._stream.send_nowait((self.task_id, datetime.now(UTC), self.attempt, None))
        self._stream.close()

    def __enter__(self) -> EventSink:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class EventLogWriter:
    """Run ``run()`` in the run's task group; hand each task a ``sink()``; close the writer
    (``async with writer``) once every sink has been handed out."""

    def __init__(self, folder: RunFolder) -> None:
        self._folder = folder
        self._send: MemoryObjectSendStream[_Item]
        self._receive: MemoryObjectReceiveStream[_Item]
        self._send, self._receive = anyio.create_memory_object_stream[_Item](math.inf)

    def sink(self, task_id: str) -> EventSink:
        return EventSink(task_id, self._send.clone())

    async def __aenter__(self) -> EventLogWriter:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._send.close()

    async def run(self) -> None:
        files = _EventFiles(self._folder)
        try:
            async with self._receive:
                async for item in self._receive:
                    # Whatever else is queued goes with it: one wake-up and one write per
                    # file for the batch, not per event.
                    files.write([item, *self._queued()])
        finally:
            files.close()

    def _queued(self) -> list[_Item]:
        items = []
        with contextlib.suppress(anyio.WouldBlock, anyio.EndOfStream):
            while True:
                items.append(self._receive.receive_nowait())
        return items


class _EventFiles:
    """The open events.jsonl files, one per task until its sink closes."""

    def __init__(self, folder: RunFolder) -> None:
        self._folder = folder
        self._redact = folder.redactor.text
        self._files: dict[str, IO[str]] = {}

    def write(self, items: list[_Item]) -> None:
        """Append the lines of ``items`` in order; an event of None closes its task's file."""
        lines: dict[str, list[str]] = {}
        for task_id, received_at, attempt, event in items:
            if event is None:
                self._flush(task_id, lines.pop(task_id, []))
                if task_id in self._files:
                    self._files.pop(task_id).close()
                continue
            line = json.dumps(
                {"received_at": received_at.isoformat(), "attempt": attempt, "event": event},
                ensure_ascii=False,
                default=str,
            )
            lines.setdefault(task_id, []).append(self._redact(line))
        for task_id, task_lines in lines.items():
            self._flush(task_id, task_lines)

    def _flush(self, task_id: str, lines: list[str]) -> None:
        if not lines:
            return
        file = self._files.get(task_id)
        if file is None:
            path = self._folder.events_path(task_id)
            path.parent.mkdir(parents=True, exist_ok=True)
            file = self._files[task_id] = open(path, "a", encoding="utf-8")  # noqa: SIM115
        file.write("\n".join(lines) + "\n")

    def close(self) -> None:
        for file in self._files.values():
            file.close()
        self._files.clear()

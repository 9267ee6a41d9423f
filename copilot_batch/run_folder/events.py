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
        files: dict[str, IO[str]] = {}
        redact = self._folder.redactor.text
        try:
            async with self._receive:
                async for task_id, received_at, attempt, event in self._receive:
                    if event is None:
                        if task_id in files:
                            files.pop(task_id).close()
                        continue
                    file = files.get(task_id)
                    if file is None:
                        path = self._folder.events_path(task_id)
                        path.parent.mkdir(parents=True, exist_ok=True)
                        file = files[task_id] = open(path, "a", encoding="utf-8")  # noqa: SIM115
                    line = json.dumps(
                        {
                            "received_at": received_at.isoformat(),
                            "attempt": attempt,
                            "event": event,
                        },
                        ensure_ascii=False,
                        default=str,
                    )
                    file.write(redact(line) + "\n")
        finally:
            for file in files.values():
                file.close()

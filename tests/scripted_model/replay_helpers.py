"""Driving one prompt through a real Copilot session and collecting its events."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import anyio
from copilot import CopilotSession


@dataclass
class Turn:
    """The events of one prompt, up to ``session.idle`` or ``session.error``."""

    events: list[Any] = field(default_factory=list)
    done: anyio.Event = field(default_factory=anyio.Event)

    def of_type(self, kind: str) -> list[Any]:
        return [event for event in self.events if event.type.value == kind]

    @property
    def final_message(self) -> str:
        messages = [m.data.content for m in self.of_type("assistant.message") if m.data.content]
        assert messages, f"no assistant message in {[e.type.value for e in self.events]}"
        return str(messages[-1])

    @property
    def last(self) -> Any:
        return self.events[-1]


async def start_turn(session: CopilotSession, prompt: str) -> Turn:
    """Send ``prompt``; the returned turn fills in as events arrive and is ``done`` at the end."""
    turn = Turn()

    def on_event(event: Any) -> None:
        if turn.done.is_set():
            return
        turn.events.append(event)
        if event.type.value in ("session.idle", "session.error"):
            turn.done.set()

    session.on(on_event)
    await session.send(prompt)
    return turn


async def run_turn(session: CopilotSession, prompt: str, timeout: float = 60) -> Turn:
    """Send ``prompt`` and wait for the session to go idle or fail."""
    turn = await start_turn(session, prompt)
    with anyio.fail_after(timeout):
        await turn.done.wait()
    return turn

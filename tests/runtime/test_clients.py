"""The supervisor of a CLI process, against the real CLI."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
import structlog

from copilot_batch.runtime.clients import CliProcess, SupervisedClient

pytestmark = [pytest.mark.anyio, pytest.mark.cli]


async def test_a_run_ending_as_a_ping_is_answered_prints_no_error(
    copilot_cli: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SDK's reader thread hands each reply to the event loop with
    ``call_soon_threadsafe(future.set_result, …)`` and does not check that the request is
    still awaited. Here the supervisor is stopped just between the two: its cancellation
    reaches the loop before the reply does. A ping cancelled with it meant a cancelled
    future, the reply raised ``InvalidStateError``, and asyncio printed the traceback."""
    loop = asyncio.get_running_loop()
    problems: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: problems.append(context))
    cli = CliProcess(copilot_cli, tmp_path / "copilot-home", github_login=False)
    async with SupervisedClient(cli, 0, structlog.get_logger()) as supervised:
        hand_over = loop.call_soon_threadsafe
        stopped: list[bool] = []

        async with anyio.create_task_group() as group:

            def stop_first(callback: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
                if getattr(callback, "__name__", "") == "set_result" and not stopped:
                    stopped.append(True)
                    hand_over(group.cancel_scope.cancel)  # queued before the reply
                return hand_over(callback, *args, **kwargs)

            monkeypatch.setattr(loop, "call_soon_threadsafe", stop_first)
            group.start_soon(supervised.watch, 0)
        # The reply queued after the cancellation has been handled before this one's.
        await supervised.current.ping()
    assert stopped == [True]
    assert problems == []

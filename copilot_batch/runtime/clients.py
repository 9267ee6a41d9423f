"""The run's Copilot clients: CLI processes it starts (a pool, each supervised), or a CLI
server already running."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from copilot import CopilotClient, RuntimeConnection
from copilot.client import LogLevel
from structlog.typing import FilteringBoundLogger

from ..bugs import innermost
from ..errors import CliConnectError, CliCrashedError, CliStartError, CopilotBatchError
from .session_files import session_fs_config

STOP_GRACE_SECONDS = 10.0
# What the CLI processes copilot-batch starts write to their log (see CliProcess).
CLI_LOG_LEVEL: LogLevel = "error"
# A ping unanswered this long means a busy CLI, not a dead one.
PING_PATIENCE_SECONDS = 30.0
# The connection token a CLI server started with ``COPILOT_CONNECTION_TOKEN`` expects.
CONNECTION_TOKEN_VARIABLE = "COPILOT_CONNECTION_TOKEN"


@dataclass(frozen=True)
class CliProcess:
    """Start the CLI at ``path`` with its state (``COPILOT_HOME``) in ``copilot_home``.

    ``github_login`` False starts it with ``--no-auto-login``: for runs whose every task
    names its own provider. Without a login, CLI 1.0.102 otherwise looks for one about once a
    second per session in flight, each time forking its whole process to run ``gh``
    (measured: 40 sessions waiting 2 s on the model took 15.8 s and 14.4 s of kernel time
    with the lookups, 6.8 s and 1.4 s without).

    Each session's state stays in copilot-batch's memory (:mod:`.session_files`). The CLI
    logs errors only: at its default level its log quotes what an MCP server printed when
    it failed to start (its token, say), and the log is on disk before the run can mask it.
    """

    path: Path
    copilot_home: Path
    extra_env: Mapping[str, str] = field(default_factory=dict)
    github_login: bool = True


@dataclass(frozen=True)
class CliServer:
    """Connect to a CLI server already running at ``url`` (HOST:PORT, PORT or a URL)."""

    url: str
    connection_token: str | None = None


@asynccontextmanager
async def open_client(cli: CliProcess | CliServer) -> AsyncIterator[CopilotClient]:
    """A started client; stopped (its process too, if ours), shielded, on the way out."""
    client = _client(cli)
    try:
        await client.start()
    except Exception as exc:
        with anyio.CancelScope(shield=True):
            await client.force_stop()
        raise _start_error(cli, exc) from exc
    try:
        yield client
    finally:
        with anyio.CancelScope(shield=True):
            stopped = False
            # A CLI that died cannot stop cleanly (StopError): then it is forced.
            with anyio.move_on_after(STOP_GRACE_SECONDS), contextlib.suppress(Exception):
                await client.stop()
                stopped = True
            if not stopped:
                await client.force_stop()


def _client(cli: CliProcess | CliServer) -> CopilotClient:
    if isinstance(cli, CliServer):
        return CopilotClient(
            connection=RuntimeConnection.for_uri(cli.url, connection_token=cli.connection_token)
        )
    home = cli.copilot_home.absolute()  # the session filesystem takes absolute paths only
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    connection = RuntimeConnection.for_stdio(path=str(cli.path))
    if cli.extra_env:
        connection.env = {**os.environ, **cli.extra_env}
    return CopilotClient(
        connection=connection,
        base_directory=str(home),
        use_logged_in_user=cli.github_login,
        session_fs=session_fs_config(home),
        log_level=CLI_LOG_LEVEL,
    )


def _start_error(cli: CliProcess | CliServer, exc: Exception) -> CopilotBatchError:
    reason = f"{type(exc).__name__}: {exc}"
    if isinstance(cli, CliServer):
        return CliConnectError(cli.url, reason)
    return CliStartError(str(cli.path), reason)


@dataclass
class Generation:
    """One CLI process of a supervised client: the ``number``-th it started, the attempts
    that took it (``holders``, from :meth:`SupervisedClient.holding` to their end) and how
    many sessions it has been given (``served``)."""

    number: int
    client: CopilotClient
    stack: AsyncExitStack
    served: int = 0
    holders: int = 0
    released: anyio.Event = field(default_factory=anyio.Event)  # set when holders is 0


def due_for_recycling(served: int, recycle_after: int) -> bool:
    """Whether a CLI process that was given ``served`` sessions takes no more: it has
    served ``recycle_after`` of them (0: never)."""
    return recycle_after > 0 and served >= recycle_after


class SupervisedClient:
    """The run's client, started again when its CLI process dies (at most ``max_restarts``
    times), and replaced by a fresh one once it has served ``recycle_after`` sessions (0:
    never; never a server's). Attempts hold a generation (one CLI process) from
    :meth:`holding` to their end and register their cancel scope with :meth:`attempt`; a
    crash cancels the attempts of the dead process, which then run again on the new one. A
    recycled process takes no new attempt and is stopped once those it holds have ended."""

    def __init__(
        self,
        cli: CliProcess | CliServer,
        max_restarts: int,
        log: FilteringBoundLogger,
        recycle_after: int = 0,
    ) -> None:
        self._cli = cli
        self._log = log
        self.max_restarts = max_restarts
        self.recycle_after = recycle_after if isinstance(cli, CliProcess) else 0
        self.restarts = 0
        self.recycled = 0
        self.generation = 0
        self.crashed_generations: set[int] = set()
        self.gave_up = False  # the last crash was one too many: no new client
        self._ready = anyio.Event()
        self._recycle_due = anyio.Event()
        self._live: Generation | None = None
        self._retired: dict[int, Generation] = {}  # recycled, still holding attempts
        self._attempts: dict[int, set[anyio.CancelScope]] = {}
        self._pings: set[asyncio.Task[Any]] = set()

    async def __aenter__(self) -> SupervisedClient:
        await self._start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for generation in [*self._retired.values(), *filter(None, [self._live])]:
            await generation.stack.aclose()

    @property
    def current(self) -> CopilotClient:
        assert self._live is not None, "used before __aenter__"
        return self._live.client

    @property
    def copilot_home(self) -> Path | None:
        """The state directory of its CLI process, whose sessions keep their state in
        copilot-batch's memory (:mod:`.session_files`); None for a server."""
        return self._cli.copilot_home.absolute() if isinstance(self._cli, CliProcess) else None

    @asynccontextmanager
    async def holding(self) -> AsyncIterator[tuple[CopilotClient, int]]:
        """The live client and its generation, once any restart or recycling has finished,
        held for one session until the block ends."""
        held = await self._serving()
        held.served += 1
        held.holders += 1
        try:
            yield held.client, held.number
        finally:
            held.holders -= 1
            if held.holders == 0 and held.number in self._retired:
                held.released.set()

    async def _serving(self) -> Generation:
        """The live CLI process, once it may take another session: a process that has
        served its sessions is recycled first (by :meth:`watch`), when the next one comes,
        so a run's last sessions start no process that would serve nothing."""
        while True:
            while not self._ready.is_set():  # a restart or a recycling is under way
                await self._ready.wait()
            live = self._live
            assert live is not None
            if not due_for_recycling(live.served, self.recycle_after):
                return live
            self._ready = anyio.Event()
            self._recycle_due.set()

    @contextmanager
    def attempt(self, generation: int) -> Iterator[anyio.CancelScope]:
        """A cancel scope for one attempt on the client of ``generation``."""
        with anyio.CancelScope() as scope:
            scopes = self._attempts.setdefault(generation, set())
            scopes.add(scope)
            try:
                yield scope
            finally:
                scopes.discard(scope)

    async def watch(self, interval: float = 1.0) -> None:
        """Forever: ping the CLI; when it is gone, cancel its attempts and start another;
        when it has served its sessions, recycle it."""
        async with anyio.create_task_group() as retiring:
            while True:
                with anyio.move_on_after(interval):
                    await self._recycle_due.wait()
                if self._recycle_due.is_set():
                    if (old := await self._recycle()) is not None:
                        retiring.start_soon(self._retire, old)
                    continue
                reason = await self._failed_ping(self.current)
                if reason is not None:
                    await self._restart(reason)

    async def _restart(self, reason: str) -> None:
        """The live CLI is gone: cancel its attempts and start another, or give up."""
        self._log.error("the Copilot CLI process is gone", reason=reason)
        if self._ready.is_set():  # else attempts already wait on it for a recycling
            self._ready = anyio.Event()
        dead = self._live
        assert dead is not None
        self._crashed(dead)
        if self.restarts >= self.max_restarts:
            self.gave_up = True
            raise CliCrashedError(self.restarts, reason)
        self.restarts += 1
        await dead.stack.aclose()
        await self._start()
        self._log.warning("the Copilot CLI was started again", restarts=self.restarts)

    def _crashed(self, dead: Generation) -> None:
        self.crashed_generations.add(dead.number)
        for scope in self._attempts.pop(dead.number, set()):
            scope.cancel()

    async def _recycle(self) -> Generation | None:
        """Put a fresh CLI process in the live one's place; the one it replaced, or None
        when the fresh one failed to start and the old one serves another round."""
        old = self._live
        assert old is not None
        try:
            await self._start()
        except CopilotBatchError as error:
            self._log.error("a fresh Copilot CLI failed to start", error=str(error))
            old.served = 0
            self._recycle_due = anyio.Event()
            self._ready.set()
            return None
        old.released = anyio.Event()  # set by the last attempt it holds
        self._retired[old.number] = old
        self.recycled += 1
        self._log.info("the Copilot CLI was recycled", served=old.served, recycled=self.recycled)
        return old

    async def _retire(self, old: Generation, interval: float = 1.0) -> None:
        """Stop a recycled CLI process once the attempts it holds have ended; should it die
        first, they are cancelled and run again on the live one."""
        while old.holders:
            with anyio.move_on_after(interval):
                await old.released.wait()
            if old.holders and (reason := await self._failed_ping(old.client)) is not None:
                self._log.error("a recycled Copilot CLI process is gone", reason=reason)
                self._crashed(old)
                break
        del self._retired[old.number]
        await old.stack.aclose()

    async def _failed_ping(self, client: CopilotClient) -> str | None:
        """Why the CLI failed to answer a ping (any failure means the process is gone), or
        None: it answered, or is busy (no answer within PING_PATIENCE_SECONDS).

        Only the wait is cancelled when the run ends, never the ping: the SDK's reader
        thread hands a reply to the event loop without checking that its request is still
        awaited, so a ping cancelled just as its reply arrived made asyncio print an
        ``InvalidStateError`` traceback at the end of a run that succeeded.
        """
        ping = asyncio.ensure_future(client.ping())
        self._pings.add(ping)  # the loop keeps only a weak reference to a task
        ping.add_done_callback(self._pinged)
        await asyncio.wait({ping}, timeout=PING_PATIENCE_SECONDS)
        if not ping.done() or ping.cancelled() or ping.exception() is None:
            return None
        error = ping.exception()
        return f"{type(error).__name__}: {error}"

    def _pinged(self, ping: asyncio.Task[Any]) -> None:
        self._pings.discard(ping)
        if not ping.cancelled():
            ping.exception()  # retrieved, so a late failure is not reported as unseen

    async def _start(self) -> None:
        stack = AsyncExitStack()
        client = await stack.enter_async_context(open_client(self._cli))
        self.generation += 1
        self._live = Generation(self.generation, client, stack)
        self._recycle_due = anyio.Event()  # a restarted process starts its count afresh
        self._ready.set()


class ClientPool:
    """Several supervised clients, each its own CLI process: one CLI process becomes the
    bottleneck at high concurrency (its CPU time per session). Each attempt goes to the
    client with the fewest attempts placed on it."""

    def __init__(self, members: Sequence[SupervisedClient]) -> None:
        self.members = list(members)
        self._placed = {id(member): 0 for member in self.members}
        self._stack = AsyncExitStack()

    async def __aenter__(self) -> ClientPool:
        # Started side by side: each CLI takes most of a second to start.
        failures: list[CopilotBatchError] = []

        async def start(member: SupervisedClient) -> None:
            try:
                await self._stack.enter_async_context(member)
            except CopilotBatchError as error:  # raised plainly below, not in a group
                failures.append(error)

        async with anyio.create_task_group() as group:
            for member in self.members:
                group.start_soon(start, member)
        if failures:
            await self._stack.aclose()
            raise failures[0]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._stack.aclose()

    @property
    def restarts(self) -> int:
        return sum(member.restarts for member in self.members)

    @property
    def recycled(self) -> int:
        return sum(member.recycled for member in self.members)

    @property
    def gave_up(self) -> bool:
        return any(member.gave_up for member in self.members)

    @property
    def first(self) -> CopilotClient:
        return self.members[0].current

    @contextmanager
    def placed(self) -> Iterator[SupervisedClient]:
        """The least-loaded client, counted as carrying one more attempt while in use."""
        member = min(self.members, key=lambda candidate: self._placed[id(candidate)])
        self._placed[id(member)] += 1
        try:
            yield member
        finally:
            self._placed[id(member)] -= 1

    async def watch(self) -> None:
        """Supervise every client; the first CliCrashedError stops them all and is raised."""
        try:
            async with anyio.create_task_group() as group:
                for member in self.members:
                    group.start_soon(member.watch)
        except* CliCrashedError as crashed:
            raise innermost(crashed) from None


def default_client_count(concurrency: int, cpus: int) -> int:
    """How many CLI processes a run starts unless told: one per 25 concurrent sessions, at
    most 2 per CPU. Measured on 2 CPUs, sessions waiting 2 s on the model: 100 tasks at
    concurrency 50 took 11.4, 10.5, 10.7 and 11.2 s on 1-4 CLIs; 200 at 100 took 16.9 s on
    two and 16.0 s on four; 40 at 20 took 8.1 s on one and 8.5 s on two."""
    return max(1, min(math.ceil(concurrency / 25), 2 * cpus))

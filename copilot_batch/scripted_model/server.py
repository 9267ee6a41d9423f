"""The scripted model: an OpenAI-compatible chat-completions server on loopback.

Point a session at it with a BYOK provider
``{"type": "openai", "base_url": model.base_url, "api_key": "x"}`` and the real Copilot
CLI runs its whole agent loop offline: the server answers each request with the next
assistant message of the script conversation it matches (:mod:`.matcher`), so the CLI
runs real tools, asks for real permissions and loads real skills in between.

Faults and latency let tests see how the CLI copes with a failing model. What CLI 1.0.102
does (measured through SDK 1.0.27 with a BYOK ``openai`` provider; the CLI retries by
itself, each retry announced by an ``assistant.turn_retry`` event with a ``reason``):

* 429 (``rate_limit``): 5 retries (6 requests), each after the ``retry-after`` seconds but
  at least 1 s (``retry-after: 3`` waits about 3.3 s); reason ``rate_limit``. Then
  ``session.error`` with ``errorType: "rate_limit"``, ``statusCode: 429`` and the message
  "Failed to get response from the AI model; retried 5 times (total retry wait time: 5.54
  seconds) Last error: 429 Rate limited by the scripted model".
* 500 (``server_error``): 5 retries with exponential backoff (about 0.6, 1, 1.9, 3.8 and
  8 s: 15 s in all); reason ``api_error``. Then ``session.error`` with ``errorType:
  "query"``, ``statusCode: 500``, and the same message with "Last error: 500 …".
* ``disconnect`` and ``malformed``, JSON or SSE: 5 retries 1 s apart; reason
  ``streaming_error``. Then ``session.error`` with ``errorType: "query"``, no
  ``statusCode``, and the HTTP client's complaint as the last error ("error decoding
  response body: … unexpected EOF during chunk size line", "non-streaming response body was
  not valid JSON: …", "Failed to parse chat-completions stream chunk: …").
* ``hang``: nothing; no timeout or retry within 15 s (the request announces a 600 s
  client timeout) and no event after ``model.call_start``. ``session.abort()`` ends the turn:
  ``abort`` (``reason: "user_initiated"``), ``assistant.turn_end``, then ``session.idle``
  with ``aborted: true`` and no ``session.error``; the server sees the client leave.
* 400 (no scripted reply): no retry; ``session.error`` with ``errorType: "query"``,
  ``statusCode: 400`` and the message "400 " followed by the diagnosis.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, get_args

import anyio
import anyio.abc
from aiohttp import web

from ..errors import ModelServerError
from .fault_spec import FaultKind
from .matcher import Diagnosis, Match, find_error, find_reply
from .normalize import (
    Message,
    background_agent_ids,
    expand_reply,
    normalize_messages,
    working_directory,
)
from .rate import TokenBucket
from .script import RecordedError, Script

_FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)
_CHUNK = 40  # characters of content or arguments per streamed chunk
_SHUTDOWN_TIMEOUT = 1.0  # seconds stop() lets an unfinished reply run before cancelling it
ROOT_LEVELS = 3  # how far above a session's working directory its recording's root may be


@dataclass(frozen=True)
class Fault:
    """Make requests fail instead of being answered.

    Selects requests whose first user message (normalised) contains ``prompt_contains``,
    or every request when it is ``None``; lets the first ``after`` of them through (a fault
    on a session's second turn), then applies to the next ``times`` (``None``: all).
    ``retry_after`` is the seconds a ``rate_limit`` fault tells the client to wait.
    """

    kind: FaultKind
    prompt_contains: str | None = None
    times: int | None = 1
    retry_after: int = 1
    after: int = 0

    def __post_init__(self) -> None:
        if self.kind not in _FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; one of {', '.join(_FAULT_KINDS)}")
        if self.times is not None and self.times < 1:
            raise ValueError("a fault applies at least once (times >= 1), or always (None)")
        if self.after < 0:
            raise ValueError("a fault lets a number of requests through first (after >= 0)")


@dataclass(frozen=True)
class RequestRecord:
    """One chat-completions request as the server saw it; times are ``time.monotonic()``.

    ``ended`` and ``status`` stay ``None`` while the request is open. ``status`` is the
    HTTP status sent (``None`` if none was). ``script``/``conversation`` name the match;
    ``error`` says why there was none, or what the fault or a disconnection did. ``tools``
    names the tools the request offered the model.
    """

    started: float
    prompt: str = ""
    messages: int = 0
    streaming: bool = False
    tools: tuple[str, ...] = ()
    ended: float | None = None
    status: int | None = None
    script: Path | None = None
    conversation: int | None = None
    fault: FaultKind | None = None
    error: str | None = None


def estimate_usage(prompt_chars: int, reply: Message) -> dict[str, int]:
    """Token counts of about one token per four characters, never zero, so runs that
    replay a script report usage like real ones."""
    prompt = max(1, prompt_chars // 4)
    completion = max(1, len(reply.canonical()) // 4)
    total = prompt + completion
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": total}


def _finish_reason(reply: Message) -> str:
    return "tool_calls" if reply.tool_calls else "stop"


def completion_body(reply: Message, model: str, completion_id: str, usage: dict[str, int]) -> Any:
    """A non-streaming ``chat.completion`` answering with ``reply``."""
    message = {"role": "assistant", "content": reply.content}
    if reply.tool_calls:
        message["tool_calls"] = reply.to_json()["tool_calls"]
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": _finish_reason(reply)}],
        "usage": usage,
    }


def completion_chunks(
    reply: Message, model: str, completion_id: str, usage: dict[str, int] | None
) -> list[Any]:
    """The ``chat.completion.chunk`` objects streaming ``reply``: its text in pieces, then
    each tool call (id, type and name on its first chunk, then more of the arguments),
    then the finish reason, then the usage when ``usage`` is given."""
    created = int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [choice],
        }

    chunks = [chunk({"role": "assistant", "content": ""})]
    text = reply.content or ""
    chunks += [chunk({"content": text[i : i + _CHUNK]}) for i in range(0, len(text), _CHUNK)]
    for index, call in enumerate(reply.tool_calls):
        pieces = [call.arguments[i : i + _CHUNK] for i in range(0, len(call.arguments), _CHUNK)]
        first = {
            "index": index,
            "id": call.id,
            "type": "function",
            "function": {"name": call.name, "arguments": pieces[0] if pieces else ""},
        }
        chunks.append(chunk({"tool_calls": [first]}))
        chunks += [
            chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
            for piece in pieces[1:]
        ]
    chunks.append(chunk({}, _finish_reason(reply)))
    if usage is not None:
        chunks.append({**chunk({}), "choices": [], "usage": usage})
    return chunks


def _error(status: int, message: str, kind: str, code: str | None, **headers: str) -> web.Response:
    body = {"error": {"message": message, "type": kind, "code": code}}
    return web.json_response(body, status=status, headers=headers)


# What a ``malformed`` fault and a ``disconnect`` fault send before ending the reply.
_BROKEN_JSON = b'{"id": "chatcmpl-broken", "choices": ['
_BROKEN_SSE = b"data: " + _BROKEN_JSON + b"\n\ndata: [DONE]\n\n"
_CUT_JSON = b'{"id": "chatcmpl-cut", "obj'
_CUT_SSE = b'data: {"id": "chatcmpl-cut", "object": "chat.comp'


class ScriptedModel:
    """Serve ``scripts`` on ``host:port`` (0: any free port) while the context is open.

    ``latency`` seconds pass before every chat reply; ``faults`` are tried in order and the
    first that selects a request (and has uses left) answers it instead of the script.
    ``barrier`` holds every reply until that many chat requests are open at once, then
    lets them all go (and every later one): a test of concurrency waits for the barrier
    instead of timing the run, and a run that cannot reach it never ends.

    ``${workdir}`` binds to the recording's root, as the SDK's replaying proxy has it:
    ``root`` when given; else the session's working directory, or the parent (up to
    :data:`ROOT_LEVELS` up) that a script names it under (``${workdir}/subproject/…``
    for a session in ``…/subproject``).

    ``rate`` makes it a provider that admits that many requests a second (a
    :class:`TokenBucket` on the clock ``now``): beyond it, a 429 whose ``retry-after`` says
    when the next request is due.

    ``stream_usage=False`` leaves usage out of streamed replies even when the request asks
    for it (``stream_options.include_usage``), as some servers do (llama-cpp-python): the
    CLI then reports model calls without token counts.
    """

    def __init__(
        self,
        scripts: Sequence[Script],
        *,
        latency: float = 0.0,
        faults: Sequence[Fault] = (),
        host: str = "127.0.0.1",
        port: int = 0,
        barrier: int | None = None,
        root: str | Path | None = None,
        rate: float | None = None,
        now: Callable[[], float] = time.monotonic,
        stream_usage: bool = True,
    ) -> None:
        if barrier is not None and barrier < 1:
            raise ValueError("a barrier holds replies until at least one request is open")
        self.scripts = tuple(scripts)
        self.root = str(root).rstrip("/") or "/" if root is not None else None
        self._mentioned = frozenset(
            path for script in self.scripts for path in script.workdir_paths
        )
        self.models = tuple(dict.fromkeys(m for s in self.scripts for m in s.models))
        self.latency = latency
        self.faults = tuple(faults)
        self.rate = rate
        self.stream_usage = stream_usage
        self._bucket = TokenBucket(rate, now=now) if rate is not None else None
        self._uses_left = [fault.times for fault in self.faults]
        self._passes_left = [fault.after for fault in self.faults]
        self._host = host
        self._port = port
        self._records: list[RequestRecord] = []
        self._in_flight = 0
        self._peak = 0
        self._barrier = barrier
        self._barrier_open = asyncio.Event()
        if barrier is None:
            self._barrier_open.set()
        self._stopping = asyncio.Event()
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None

    @property
    def port(self) -> int:
        return self._port

    @property
    def base_url(self) -> str:
        """The provider ``base_url`` for sessions: ``http://HOST:PORT/v1``."""
        host = f"[{self._host}]" if ":" in self._host else self._host  # IPv6
        return f"http://{host}:{self._port}/v1"

    @property
    def requests(self) -> list[RequestRecord]:
        """Every chat request so far, in arrival order (a copy)."""
        return list(self._records)

    @property
    def notices(self) -> list[str]:
        """Why a script answers nothing: ``PATH: notice`` for each that has one."""
        return [f"{s.path}: {s.notice}" for s in self.scripts if s.notice is not None]

    def recording_root(self, workdir: str | None) -> str | None:
        """What ``${workdir}`` stands for in a session working in ``workdir``."""
        if self.root is not None or workdir is None:
            return self.root or workdir
        path = Path(workdir)
        for level, parent in enumerate(path.parents[:ROOT_LEVELS], start=1):
            if "/".join(path.parts[-level:]) in self._mentioned:
                return str(parent)
        return workdir

    @property
    def peak_in_flight(self) -> int:
        """The most chat requests that were open at one moment."""
        return self._peak

    @property
    def barrier_reached(self) -> bool:
        """Whether ``barrier`` requests were open at once (always true without a barrier)."""
        return self._barrier_open.is_set()

    async def wait_for(
        self, predicate: Callable[[list[RequestRecord]], bool]
    ) -> list[RequestRecord]:
        """Wait until ``predicate(requests)`` holds, re-checked whenever a record changes;
        return those records. Lets a test wait for the server's side of an exchange."""
        while True:
            changed = self._changed
            records = self.requests
            if predicate(records):
                return records
            await changed.wait()

    def _record(self, position: int, record: RequestRecord) -> None:
        if position == len(self._records):
            self._records.append(record)
        else:
            self._records[position] = record
        self._changed.set()
        self._changed = asyncio.Event()

    async def __aenter__(self) -> ScriptedModel:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        for prefix in ("/v1", ""):
            app.router.add_post(f"{prefix}/chat/completions", self._chat)
            app.router.add_get(f"{prefix}/models", self._models)
        # handler_cancellation: a reply being held (hang, latency) ends when the client leaves.
        self._runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=_SHUTDOWN_TIMEOUT
        )
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, self._host, self._port).start()
        except (OSError, UnicodeError, ValueError) as error:  # UnicodeError: a bad host name
            await self.stop()
            reason = error.strerror if isinstance(error, OSError) and error.strerror else error
            raise ModelServerError(self._host, self._port, str(reason)) from None
        self._port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        """Stop serving; requests held by a ``hang`` fault are closed unanswered."""
        self._stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _models(self, request: web.Request) -> web.Response:
        data = [{"id": m, "object": "model", "owned_by": "scripted"} for m in self.models]
        return web.json_response({"object": "list", "data": data})

    def _take_fault(self, prompt: str) -> Fault | None:
        for number, fault in enumerate(self.faults):
            left = self._uses_left[number]
            selected = fault.prompt_contains is None or fault.prompt_contains in prompt
            if not selected or left == 0:
                continue
            if self._passes_left[number]:
                self._passes_left[number] -= 1
                continue
            self._uses_left[number] = None if left is None else left - 1
            return fault
        return None

    def _update(self, position: int, **changes: Any) -> None:
        self._record(position, replace(self._records[position], **changes))

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        position = len(self._records)
        self._record(position, RequestRecord(started=time.monotonic()))
        self._in_flight += 1
        self._peak = max(self._peak, self._in_flight)
        if self._barrier is not None and self._in_flight >= self._barrier:
            self._barrier_open.set()
        try:
            response = await self._answer(request, position)
            # Its status reaches the client if sent already, or if the connection is open.
            transport = request.transport
            sent = response.prepared or (transport is not None and not transport.is_closing())
            self._update(position, status=response.status if sent else None)
            return response
        except asyncio.CancelledError:
            error = self._records[position].error or "the client disconnected"
            self._update(position, error=error)
            raise
        finally:
            self._in_flight -= 1
            self._update(position, ended=time.monotonic())

    async def _answer(self, request: web.Request, position: int) -> web.StreamResponse:
        text = await request.text()
        try:
            body = json.loads(text)
            raw = body["messages"]
            workdir = self.recording_root(working_directory(raw))
            normalised = normalize_messages(raw, workdir)
            agent_ids = background_agent_ids(raw)
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            message = f"not a chat-completions request: {error!r}"
            self._update(position, error=message)
            return _error(400, message, "invalid_request_error", None)
        streaming = body.get("stream") is True
        prompt = next((m.content or "" for m in normalised if m.role == "user"), "")
        tools = tuple(
            str(tool.get("function", {}).get("name"))
            for tool in body.get("tools") or ()
            if isinstance(tool, dict)
        )
        self._update(
            position, prompt=prompt, messages=len(normalised), streaming=streaming, tools=tools
        )
        await self._barrier_open.wait()
        # A provider refuses a request over its rate at once, before any work on it.
        wait = self._bucket.take() if self._bucket is not None else None
        if wait is not None:
            self._update(position, error=f"over the rate limit of {self.rate}/s")
            return _rate_limited(f"Rate limited by the scripted model ({self.rate}/s)", wait)
        if self.latency:
            await asyncio.sleep(self.latency)

        fault = self._take_fault(prompt)
        if fault is not None:
            self._update(position, fault=fault.kind)
            return await self._fail(fault, request, position, streaming)
        model = str(body.get("model", ""))
        found = find_error(self.scripts, normalised, model) or find_reply(self.scripts, normalised)
        if isinstance(found, RecordedError):
            self._update(position, error=f"the recorded HTTP {found.status}")
            return _recorded_error(found)
        if isinstance(found, Diagnosis):
            self._update(position, error=str(found))
            return _error(400, str(found), "invalid_request_error", "no_scripted_reply")
        return await self._reply(request, position, body, text, found, workdir, agent_ids)

    async def _reply(
        self,
        request: web.Request,
        position: int,
        body: Any,
        text: str,
        found: Match,
        workdir: str | None,
        agent_ids: dict[str, str],
    ) -> web.StreamResponse:
        self._update(position, script=found.script, conversation=found.conversation)
        reply = expand_reply(found.reply, workdir, agent_ids)
        model = str(body.get("model", ""))
        streaming = body.get("stream") is True
        completion_id = f"chatcmpl-scripted-{position}"
        usage = estimate_usage(len(text), reply)
        if not streaming:
            return web.json_response(completion_body(reply, model, completion_id, usage))
        options = body.get("stream_options")
        wants_usage = (
            self.stream_usage and isinstance(options, dict) and options.get("include_usage") is True
        )
        response = await _open(request, streaming)
        for chunk in completion_chunks(reply, model, completion_id, usage if wants_usage else None):
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    async def _fail(
        self, fault: Fault, request: web.Request, position: int, streaming: bool
    ) -> web.StreamResponse:
        if fault.kind == "rate_limit":
            return _rate_limited("Rate limited by the scripted model", fault.retry_after)
        if fault.kind == "server_error":
            message = "Internal error injected by the scripted model"
            return _error(500, message, "server_error", None)
        if fault.kind == "hang":
            await self._stopping.wait()
            self._update(position, error="the server stopped while the request hung")
            return _drop(request, web.Response(status=503))
        response = await _open(request, streaming)
        if fault.kind == "malformed":
            await response.write(_BROKEN_SSE if streaming else _BROKEN_JSON)
            await response.write_eof()
            return response
        await response.write(_CUT_SSE if streaming else _CUT_JSON)
        self._update(position, error="the connection was dropped mid-reply")
        return _drop(request, response)


def _rate_limited(message: str, retry_after: int) -> web.Response:
    headers = {"retry-after": str(retry_after)}
    return _error(429, message, "rate_limit_error", "rate_limit_exceeded", **headers)


def _recorded_error(error: RecordedError) -> web.Response:
    """A recorded HTTP error as the SDK's proxy replays it (OpenAI's error shape)."""
    kind = error.code or "rate_limited"
    message = error.message or "Rate limited by the recording"
    headers = {} if error.retry_after is None else {"retry-after": str(error.retry_after)}
    return _error(error.status, message, kind, kind, **headers)


async def _open(request: web.Request, streaming: bool) -> web.StreamResponse:
    """Send a 200 header for a body written piece by piece: SSE or JSON."""
    kind = "text/event-stream" if streaming else "application/json"
    response = web.StreamResponse(status=200, headers={"Content-Type": kind})
    await response.prepare(request)
    return response


def _drop(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    """Close the connection under the response, so the client sees it end unfinished."""
    if request.transport is not None:
        request.transport.close()
    return response


async def serve_forever(
    scripts: Sequence[Script],
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    latency: float = 0.0,
    faults: Sequence[Fault] = (),
    barrier: int | None = None,
    root: str | Path | None = None,
    rate: float | None = None,
    stream_usage: bool = True,
    task_status: anyio.abc.TaskStatus[str] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``scripts`` until cancelled, with :class:`ScriptedModel`'s knobs; print the
    base URL (one line) once it listens. Under ``TaskGroup.start`` it is the start value."""
    async with ScriptedModel(
        scripts,
        latency=latency,
        faults=faults,
        host=host,
        port=port,
        barrier=barrier,
        root=root,
        rate=rate,
        stream_usage=stream_usage,
    ) as model:
        print(model.base_url, flush=True)
        task_status.started(model.base_url)
        await anyio.sleep_forever()

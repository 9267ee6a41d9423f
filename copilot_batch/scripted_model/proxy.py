"""A recording proxy on loopback in front of each task's real model provider.

Each task's provider ``base_url`` becomes ``http://127.0.0.1:PORT/<task-id>``: the proxy
forwards every request to that task's upstream as it is (headers and all), passes the
answer back as it arrives (a stream chunk by chunk), and keeps each successful
chat-completions exchange under the task's id. Nothing it keeps holds a header.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import aiohttp
from aiohttp import web

from ..errors import ModelServerError
from .recording import Exchange, reply_from_body, reply_from_stream

# Hop-by-hop headers and those aiohttp sets itself: never forwarded either way.
_NOT_FORWARDED = {
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "content-encoding",
    "accept-encoding",
}
_HOST = "127.0.0.1"


class RecordingProxy:
    """Forwards ``/<task-id>/<path>`` to ``upstreams[task-id]/<path>``; ``exchanges`` holds
    each task's successful chat-completions exchanges in the order they ended."""

    def __init__(self, upstreams: Mapping[str, str]) -> None:
        self._upstreams = {task: url.rstrip("/") for task, url in upstreams.items()}
        self.exchanges: dict[str, list[Exchange]] = {task: [] for task in upstreams}
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None
        self._port = 0

    def base_url(self, task_id: str) -> str:
        """The provider ``base_url`` the task's session is given."""
        return f"http://{_HOST}:{self._port}/{task_id}"

    async def __aenter__(self) -> RecordingProxy:
        # No read timeout of its own: the session's limits govern a slow model.
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=30)
        self._client = aiohttp.ClientSession(timeout=timeout)
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{task}/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, _HOST, 0).start()
        except OSError as error:
            await self.__aexit__()
            raise ModelServerError(_HOST, 0, error.strerror or str(error)) from None
        self._port = self._runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._client is not None:
            await self._client.close()

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        task = request.match_info["task"]
        upstream = self._upstreams.get(task)
        if upstream is None or self._client is None:
            return web.json_response({"error": {"message": f"no task {task!r}"}}, status=404)
        body = await request.read()
        url = f"{upstream}/{request.match_info['tail']}"
        async with self._client.request(
            request.method,
            url,
            params=request.query,
            data=body or None,
            headers=_forwarded(request.headers),
            allow_redirects=False,
        ) as answer:
            response = web.StreamResponse(status=answer.status, headers=_forwarded(answer.headers))
            await response.prepare(request)
            received = bytearray()
            async for chunk in answer.content.iter_any():
                received += chunk
                await response.write(chunk)
            await response.write_eof()
        if answer.status == 200 and request.path.endswith("/chat/completions"):
            self._keep(task, body, bytes(received), answer.content_type)
        return response

    def _keep(self, task: str, body: bytes, received: bytes, content_type: str) -> None:
        request: Any = json.loads(body)
        if content_type == "text/event-stream":
            reply = reply_from_stream(received)
        else:
            reply = reply_from_body(json.loads(received))
        model = request.get("model")
        exchange = Exchange(
            model=model if isinstance(model, str) else None,
            messages=tuple(request.get("messages") or ()),
            reply=reply,
        )
        self.exchanges[task].append(exchange)


def _forwarded(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() not in _NOT_FORWARDED}

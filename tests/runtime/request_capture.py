"""A loopback proxy in front of a scripted model that keeps every request body the CLI
sends: what the model would see (system prompt, reasoning effort), which the scripted
model's own records leave out."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from aiohttp import web


@asynccontextmanager
async def capturing(upstream: str) -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """The proxy's base URL and the list the JSON bodies of its POSTs go to."""
    bodies: list[dict[str, Any]] = []

    async def forward(request: web.Request) -> web.Response:
        raw = await request.read()
        if request.method == "POST" and raw:
            bodies.append(json.loads(raw))
        headers = {"content-type": request.headers.get("content-type", "application/json")}
        async with (
            aiohttp.ClientSession() as client,
            client.request(
                request.method, upstream + request.path_qs[len("/v1") :], data=raw, headers=headers
            ) as reply,
        ):
            body = await reply.read()
            kind = reply.headers.get("content-type", "application/json")
            return web.Response(status=reply.status, body=body, headers={"content-type": kind})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", forward)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/v1", bodies
    finally:
        await runner.cleanup()

"""Way 2 of the benchmark: what a hand-written script does with the SDK.

One ``CopilotClient``; one session per task, all started with ``asyncio.gather`` and
bounded by a semaphore; ``send_and_wait`` for each answer. Prints ``{"ok": N, "failed": N}``.
``--no-login`` starts the CLI with ``--no-auto-login`` (``use_logged_in_user=False``), as
copilot-batch does when every task names its own provider.

    python bench/plain_sdk.py --cli PATH --base-url URL --model M --tasks N --concurrency C
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import tempfile

from copilot import CopilotClient, PermissionHandler, ProviderConfig, RuntimeConnection


async def run(args: argparse.Namespace) -> dict[str, int]:
    provider: ProviderConfig = {"type": "openai", "base_url": args.base_url, "api_key": "x"}
    limit = asyncio.Semaphore(args.concurrency)

    async def one(client: CopilotClient) -> bool:
        async with (
            limit,
            await client.create_session(
                on_permission_request=PermissionHandler.approve_all,
                model=args.model,
                provider=provider,
            ) as session,
        ):
            reply = await session.send_and_wait(args.prompt, timeout=args.timeout)
            return reply is not None

    with tempfile.TemporaryDirectory(prefix="plain-sdk-") as home:
        client = CopilotClient(
            connection=RuntimeConnection.for_stdio(path=args.cli),
            base_directory=home,
            use_logged_in_user=not args.no_login,
        )
        await client.start()
        try:
            outcomes = await asyncio.gather(
                *(one(client) for _ in range(args.tasks)), return_exceptions=True
            )
        finally:
            await client.stop()
    ok = sum(outcome is True for outcome in outcomes)
    return {"ok": ok, "failed": len(outcomes) - ok}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cli", required=True)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--model", default="gpt-4.1")
    parser.add_argument("--prompt", default="Say hello.")
    parser.add_argument("--tasks", type=int, required=True)
    parser.add_argument("--concurrency", type=int, required=True)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--no-login", action="store_true")
    args = parser.parse_args()
    # CLI 1.0.102 has no session.sendAndWait; the SDK falls back and logs a traceback.
    logging.disable(logging.ERROR)
    print(json.dumps(asyncio.run(run(args))))


if __name__ == "__main__":
    main()

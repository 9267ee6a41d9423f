"""The HTTP side of the scripted model, spoken to with a plain HTTP client."""

from __future__ import annotations

import functools
import json
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest

from copilot_batch.scripted_model import (
    Fault,
    Message,
    ScriptedModel,
    ToolCall,
    load_scripts,
    parse_script,
    serve_forever,
)
from copilot_batch.scripted_model.server import completion_chunks

pytestmark = pytest.mark.anyio

SCRIPT = """
    models: [gpt-4.1, claude-sonnet-4.5]
    conversations:
      - messages:
          - {role: system, content: "${system}"}
          - {role: user, content: Edit notes.txt}
          - role: assistant
            content: Editing.
            tool_calls:
              - id: toolcall_0
                type: function
                function:
                  name: ${shell}
                  arguments: >-
                    {"command":"sed -i s/draft/final/ \\"${workdir}/notes.txt\\" # a long command"}
          - {role: tool, tool_call_id: toolcall_0, content: ""}
          - {role: assistant, content: "Done in ${workdir}."}
      - messages:
          - {role: system, content: "${system}"}
          - {role: user, content: Say hello.}
          - {role: assistant, content: Hello!}
    """
WORKDIR = '/tmp/a "quoted" dir'


def chat(prompt: str, *, stream: bool = False, **extra: Any) -> dict[str, Any]:
    system = f"You are Copilot.\n* Current working directory: {WORKDIR}\n"
    return {
        "model": "gpt-4.1",
        "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": f"<current_datetime>now</current_datetime>\n\n{prompt}"},
        ],
        "stream": stream,
        **extra,
    }


@pytest.fixture
def scripts(tmp_path: Path) -> Any:
    return [parse_script(textwrap.dedent(SCRIPT), tmp_path / "notes.yaml")]


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def post(http: aiohttp.ClientSession, model: ScriptedModel, body: Any) -> Any:
    async with http.post(f"{model.base_url}/chat/completions", json=body) as response:
        return response.status, await response.json()


def sse_data(text: str) -> list[str]:
    assert text.endswith("\n\n")
    events = text.split("\n\n")[:-1]
    assert all(event.startswith("data: ") for event in events)
    return [event.removeprefix("data: ") for event in events]


def reassemble(chunks: list[Any]) -> dict[str, Any]:
    """What an OpenAI client builds from the chunks: one message and a finish reason."""
    content, finish = "", None
    calls: dict[int, dict[str, Any]] = {}
    for chunk in chunks:
        for choice in chunk["choices"]:
            delta = choice["delta"]
            content += delta.get("content") or ""
            for call in delta.get("tool_calls", []):
                into = calls.setdefault(call["index"], {"arguments": ""})
                into.update({k: call[k] for k in ("id", "type") if k in call})
                into.setdefault("name", call.get("function", {}).get("name"))
                into["arguments"] += call["function"].get("arguments", "")
            finish = choice["finish_reason"] or finish
    return {"content": content, "calls": [calls[i] for i in sorted(calls)], "finish": finish}


async def test_json_reply_expands_placeholders_and_reports_usage(
    scripts: Any, http: aiohttp.ClientSession
) -> None:
    async with ScriptedModel(scripts) as model:
        status, body = await post(http, model, chat("Edit notes.txt"))
        [record] = model.requests

    assert status == 200
    assert body["object"] == "chat.completion" and body["model"] == "gpt-4.1"
    [choice] = body["choices"]
    assert choice["finish_reason"] == "tool_calls"
    message = choice["message"]
    assert message["content"] == "Editing."
    [call] = message["tool_calls"]
    assert (call["id"], call["type"], call["function"]["name"]) == (
        "toolcall_0",
        "function",
        "bash",
    )
    assert json.loads(call["function"]["arguments"]) == {
        "command": f'sed -i s/draft/final/ "{WORKDIR}/notes.txt" # a long command'
    }
    usage = body["usage"]
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert (record.prompt, record.messages, record.streaming, record.status) == (
        "Edit notes.txt",
        2,
        False,
        200,
    )
    assert (record.script, record.conversation, record.error) == (scripts[0].path, 0, None)
    assert record.ended is not None and record.ended >= record.started


async def test_follow_up_request_gets_the_next_reply(
    scripts: Any, http: aiohttp.ClientSession
) -> None:
    async with ScriptedModel(scripts) as model:
        _, first = await post(http, model, chat("Edit notes.txt"))
        body = chat("Edit notes.txt")
        body["messages"] += [
            first["choices"][0]["message"],
            {"role": "tool", "tool_call_id": "toolcall_0", "content": ""},
        ]
        status, second = await post(http, model, body)
    assert status == 200
    assert second["choices"][0]["message"] == {
        "role": "assistant",
        "content": f"Done in {WORKDIR}.",
    }
    assert second["choices"][0]["finish_reason"] == "stop"


@pytest.mark.parametrize("include_usage", [True, False])
async def test_streamed_reply_is_the_same_reply_in_chunks(
    scripts: Any, http: aiohttp.ClientSession, include_usage: bool
) -> None:
    body = chat("Edit notes.txt", stream=True, stream_options={"include_usage": include_usage})
    async with ScriptedModel(scripts) as model:
        _, plain = await post(http, model, chat("Edit notes.txt"))
        async with http.post(f"{model.base_url}/chat/completions", json=body) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/event-stream")
            data = sse_data(await response.text())

    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    usage = [c["usage"]["completion_tokens"] for c in chunks if "usage" in c]
    assert usage == ([plain["usage"]["completion_tokens"]] if include_usage else [])
    assert all(c["choices"] == [] for c in chunks if "usage" in c)
    streamed = reassemble(chunks)
    [call] = plain["choices"][0]["message"]["tool_calls"]
    assert streamed == {
        "content": "Editing.",
        "calls": [{"id": "toolcall_0", "type": "function", "name": "bash", **call["function"]}],
        "finish": "tool_calls",
    }
    assert model.requests[-1].streaming is True


async def test_without_stream_usage_a_streamed_reply_has_no_usage_though_asked(
    scripts: Any, http: aiohttp.ClientSession
) -> None:
    body = chat("Say hello.", stream=True, stream_options={"include_usage": True})
    async with ScriptedModel(scripts, stream_usage=False) as model:
        async with http.post(f"{model.base_url}/chat/completions", json=body) as response:
            data = sse_data(await response.text())
        _, plain = await post(http, model, chat("Say hello."))
    chunks = [json.loads(d) for d in data[:-1]]
    assert [c for c in chunks if "usage" in c] == []
    assert reassemble(chunks)["content"] == "Hello!"
    assert plain["usage"]["total_tokens"] > 0  # a reply that is not streamed keeps it


def test_chunks_carry_the_call_header_once_then_argument_pieces() -> None:
    arguments = json.dumps({"text": "x" * 100})
    reply = Message(
        "assistant",
        "Hi",
        (ToolCall("toolcall_0", "f", arguments), ToolCall("toolcall_1", "g", "{}")),
    )
    chunks = completion_chunks(reply, "m", "id-1", None)
    deltas = [c["choices"][0]["delta"] for c in chunks]
    calls = [d["tool_calls"][0] for d in deltas if "tool_calls" in d]
    assert [("id" in c, c["index"]) for c in calls] == [
        (True, 0),
        (False, 0),
        (False, 0),
        (True, 1),
    ]
    assert "".join(c["function"]["arguments"] for c in calls[:3]) == arguments
    assert deltas[0] == {"role": "assistant", "content": ""}
    assert [c["choices"][0]["finish_reason"] for c in chunks][-2:] == [None, "tool_calls"]


async def test_models_are_listed_and_paths_work_without_v1(
    scripts: Any, http: aiohttp.ClientSession
) -> None:
    async with ScriptedModel(scripts) as model:
        root = model.base_url.removesuffix("/v1")
        for url in (f"{model.base_url}/models", f"{root}/models"):
            async with http.get(url) as response:
                listed = await response.json()
            assert [m["id"] for m in listed["data"]] == ["gpt-4.1", "claude-sonnet-4.5"]
        async with http.post(f"{root}/chat/completions", json=chat("Say hello.")) as response:
            assert (await response.json())["choices"][0]["message"]["content"] == "Hello!"


async def test_unmatched_request_is_a_400_naming_the_closest_conversation(
    scripts: Any, http: aiohttp.ClientSession
) -> None:
    async with ScriptedModel(scripts) as model:
        status, body = await post(http, model, chat("Say goodbye."))
        [record] = model.requests
    assert status == 400
    error = body["error"]
    assert (error["type"], error["code"]) == ("invalid_request_error", "no_scripted_reply")
    assert "notes.yaml conversation 0 (1 leading messages match)" in error["message"]
    assert '"content":"Say goodbye."' in error["message"]
    assert (record.status, record.error) == (400, error["message"])


async def test_request_that_is_not_chat_completions_is_a_400(
    scripts: Any, http: aiohttp.ClientSession
) -> None:
    async with (
        ScriptedModel(scripts) as model,
        http.post(f"{model.base_url}/chat/completions", data=b"{not json") as response,
    ):
        assert response.status == 400
        assert "not a chat-completions request" in (await response.json())["error"]["message"]


async def test_faults_select_by_prompt_and_count_down(
    scripts: Any, http: aiohttp.ClientSession
) -> None:
    faults = [
        Fault("rate_limit", prompt_contains="hello", times=2, retry_after=7),
        Fault("server_error", prompt_contains="notes", times=None),
    ]
    async with ScriptedModel(scripts, faults=faults) as model:
        async with http.post(f"{model.base_url}/chat/completions", json=chat("Say hello.")) as r:
            assert (r.status, r.headers["retry-after"]) == (429, "7")
            assert (await r.json())["error"]["code"] == "rate_limit_exceeded"
        statuses = [(await post(http, model, chat("Say hello.")))[0] for _ in range(2)]
        notes = [(await post(http, model, chat("Edit notes.txt")))[0] for _ in range(3)]
        records = model.requests
    assert statuses == [429, 200]
    assert notes == [500, 500, 500]
    assert [r.fault for r in records] == ["rate_limit", "rate_limit", None, *["server_error"] * 3]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
async def test_malformed_reply_is_not_parseable(
    scripts: Any, http: aiohttp.ClientSession, stream: bool
) -> None:
    body = chat("Say hello.", stream=stream)
    async with (
        ScriptedModel(scripts, faults=[Fault("malformed")]) as model,
        http.post(f"{model.base_url}/chat/completions", json=body) as response,
    ):
        assert response.status == 200
        text = await response.text()
    first = sse_data(text)[0] if stream else text
    with pytest.raises(json.JSONDecodeError):
        json.loads(first)


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
async def test_disconnect_drops_the_connection_mid_reply(
    scripts: Any, http: aiohttp.ClientSession, stream: bool
) -> None:
    async with ScriptedModel(scripts, faults=[Fault("disconnect")]) as model:
        async with http.post(
            f"{model.base_url}/chat/completions", json=chat("Say hello.", stream=stream)
        ) as response:
            assert response.status == 200
            with pytest.raises(aiohttp.ClientPayloadError):
                await response.read()
        [record] = model.requests
    assert (record.fault, record.status, record.error) == (
        "disconnect",
        200,
        "the connection was dropped mid-reply",
    )


async def test_stopping_does_not_wait_for_a_hanging_request(
    scripts: Any, http: aiohttp.ClientSession
) -> None:
    model = ScriptedModel(scripts, faults=[Fault("hang", times=None)])
    await model.start()
    errors: list[BaseException] = []

    async def ask() -> None:
        try:
            await post(http, model, chat("Say hello."))
        except aiohttp.ClientError as error:
            errors.append(error)

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(ask)
            tasks.start_soon(ask)
            await model.wait_for(lambda records: sum(r.fault == "hang" for r in records) == 2)
            assert model.peak_in_flight == 2
            await model.stop()
    assert len(errors) == 2
    assert [(r.status, r.error) for r in model.requests] == [
        (None, "the server stopped while the request hung")
    ] * 2


async def test_client_leaving_a_hanging_request_is_recorded(
    scripts: Any, http: aiohttp.ClientSession
) -> None:
    async with ScriptedModel(scripts, faults=[Fault("hang")]) as model:
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(post, http, model, chat("Say hello."))
                await model.wait_for(lambda records: bool(records) and records[0].fault == "hang")
                tasks.cancel_scope.cancel()
            [record] = await model.wait_for(lambda records: records[0].ended is not None)
    assert (record.status, record.error) == (None, "the client disconnected")


async def test_latency_delays_every_reply(scripts: Any, http: aiohttp.ClientSession) -> None:
    async with ScriptedModel(scripts, latency=0.3) as model:
        async with anyio.create_task_group() as tasks:
            for _ in range(4):
                tasks.start_soon(post, http, model, chat("Say hello."))
        records = model.requests
    assert all(r.ended is not None and r.ended - r.started >= 0.3 for r in records)
    assert [r.status for r in records] == [200] * 4


async def test_a_barrier_holds_replies_until_enough_requests_are_open(
    scripts: Any, http: aiohttp.ClientSession
) -> None:
    async with ScriptedModel(scripts, barrier=3) as model:
        with anyio.fail_after(30):
            async with anyio.create_task_group() as tasks:
                for _ in range(2):
                    tasks.start_soon(post, http, model, chat("Say hello."))
                # Two requests have arrived and been read; neither is answered.
                held = await model.wait_for(
                    lambda records: len(records) == 2 and all(r.prompt for r in records)
                )
                assert [r.ended for r in held] == [None, None]
                assert not model.barrier_reached
                tasks.start_soon(post, http, model, chat("Say hello."))
            # The third released all three; later requests pass at once.
            status, _reply = await post(http, model, chat("Say hello."))
            assert status == 200
        assert model.barrier_reached
        assert model.peak_in_flight == 3
        assert [r.status for r in model.requests] == [200] * 4


async def test_a_fault_can_let_requests_through_first(
    scripts: Any, http: aiohttp.ClientSession
) -> None:
    fault = Fault("server_error", prompt_contains="hello", after=1, times=1)
    async with ScriptedModel(scripts, faults=[fault]) as model:
        statuses = [(await post(http, model, chat("Say hello.")))[0] for _ in range(3)]
    assert statuses == [200, 500, 200]


async def test_serve_forever_prints_the_base_url_and_serves(
    tmp_path: Path, http: aiohttp.ClientSession, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "greet.yaml"
    path.write_text(textwrap.dedent(SCRIPT))
    async with anyio.create_task_group() as tasks:
        url = await tasks.start(
            functools.partial(serve_forever, load_scripts([tmp_path]), port=0, latency=0)
        )
        async with http.post(f"{url}/chat/completions", json=chat("Say hello.")) as response:
            assert (await response.json())["choices"][0]["message"]["content"] == "Hello!"
        tasks.cancel_scope.cancel()
    assert capsys.readouterr().out == f"{url}\n"
    assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")


def test_fault_rejects_unknown_kinds_and_bad_counts() -> None:
    with pytest.raises(ValueError, match="unknown fault kind 'explode'"):
        Fault("explode")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="times >= 1"):
        Fault("hang", times=0)
    with pytest.raises(ValueError, match="after >= 0"):
        Fault("hang", after=-1)


def test_a_barrier_needs_one_request_at_least(scripts: Any) -> None:
    with pytest.raises(ValueError, match="at least one request"):
        ScriptedModel(scripts, barrier=0)

"""Broken scripted-model scripts: loading one raises ScriptError, and nothing else.

A valid script is damaged (a value of another type at a random place, a key deleted or
added) or replaced by hostile YAML (deep nesting, alias bombs, huge integers, control
characters, tags, bad UTF-8), or the path names a FIFO, a folder or a device.
Examples: COPILOT_BATCH_FUZZ_EXAMPLES (100).
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from copilot_batch.scripted_model import ScriptError, load_scripts

EXAMPLES = int(os.environ.get("COPILOT_BATCH_FUZZ_EXAMPLES", "100"))
WATCHDOG_SECONDS = 60
VALID: dict[str, Any] = {
    "models": ["gpt-4.1"],
    "conversations": [
        {
            "messages": [
                {"role": "system", "content": "${system}"},
                {"role": "user", "content": "Change draft to final."},
                {
                    "role": "assistant",
                    "tool_calls": [
                        {
                            "id": "toolcall_0",
                            "type": "function",
                            "function": {"name": "edit", "arguments": '{"path": "a"}'},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "toolcall_0", "content": '{"ok": true}'},
                {"role": "assistant", "content": "Done."},
            ]
        }
    ],
}
DEEP_JSON = "[" * 100_000 + "]" * 100_000
YAML_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=10),
    st.sampled_from(
        [
            DEEP_JSON,
            '{"a": ' * 5000 + "1" + "}" * 5000,
            "1" * 5000,
            "\x00\x07\x1b",
            "\ud800",  # a lone surrogate: not encodable as UTF-8
            [],
            {},
            [[[[]]]],
            {"role": "user"},
        ]
    ).map(copy.deepcopy),  # drawn values are changed in place later
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from paths(item, (*prefix, index))


def _at(data: Any, where: tuple[Any, ...]) -> Any:
    for step in where:
        data = data[step]
    return data


def variant(where: tuple[Any, ...], value: Any) -> str:
    """The valid script with ``value`` at ``where``, as YAML."""
    data = copy.deepcopy(VALID)
    _at(data, where[:-1])[where[-1]] = value
    return yaml.safe_dump(data, width=10**9)


ASSISTANT = ("conversations", 0, "messages", 2)
TOOL_RESULT = ("conversations", 0, "messages", 3)
# Whole files no YAML reader should take down.
HOSTILE_TEXTS = st.sampled_from(
    [
        variant((*ASSISTANT, "tool_calls", 0, "function", "arguments"), DEEP_JSON),
        variant((*TOOL_RESULT, "content"), DEEP_JSON),
        variant((*TOOL_RESULT, "content"), "9" * 5000),
        "",
        "[" * 100_000,
        "- " * 50_000 + "x",
        "a: &a [x]\n"
        + "".join(
            f"{c}: &{c} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]\n"
            for p, c in zip("abcdefgh", "bcdefghi", strict=True)
        )
        + "models: *i\nconversations: [{messages: *i}]\n",
        "models: [" + "9" * 5000 + "]\nconversations: []\n",
        "models: [gpt]\nconversations: [{messages: [{role: user, content: !!binary aGk=}]}]\n",
        "models: [gpt]\nconversations: [{messages: [{role: user, content: 2024-01-01}]}]\n",
        "models: !!python/object:os.system [echo]\n",
        "models: !!set {a, b}\nconversations: []\n",
        "# a comment with a NUL \x00\nmodels: []\n",
        "models: [\x07]\n",
        "&a [*a]\n",
        "? [a, b]\n: c\n",
        "{[1]: 2}\n",
    ]
)


@st.composite
def damaged_scripts(draw: st.DrawFn) -> bytes:
    """A script with one to three damages, as the bytes of its file."""
    data = json.loads(json.dumps(VALID))
    for _ in range(draw(st.integers(1, 3))):
        places = list(paths(data))
        where = draw(st.sampled_from(places))
        action = draw(st.sampled_from(["replace", "delete", "add_key"]))
        if not where:
            data = draw(YAML_VALUES)
            break
        parent = _at(data, where[:-1])
        if action == "replace":
            parent[where[-1]] = draw(YAML_VALUES)
        elif action == "delete":
            del parent[where[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=8))] = draw(YAML_VALUES)
        if not isinstance(data, dict | list):
            break
    text = yaml.safe_dump(data, allow_unicode=True, width=10**9)
    return text.encode("utf-8", errors="surrogatepass")


SCRIPT_BYTES = st.one_of(
    damaged_scripts(),
    HOSTILE_TEXTS.map(lambda text: text.encode("utf-8")),
    st.binary(max_size=200),
    st.just(b"models: [\xff\xfe]\n"),
)


def load_with_watchdog(call: Callable[[], object], path: Path) -> BaseException | None:
    """Run ``call``; the exception it raised, or None. Fails the test if it hangs."""
    outcome: list[BaseException | None] = []

    def target() -> None:
        try:
            call()
        except BaseException as error:  # the property is about which exceptions come out
            outcome.append(error)
        else:
            outcome.append(None)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(WATCHDOG_SECONDS)
    if thread.is_alive():
        if path.is_fifo():
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
        thread.join()
        pytest.fail(f"loading {path} hung")
    return outcome[0]


@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip
@given(content=SCRIPT_BYTES, name=st.sampled_from(["script.yaml", "folder/script.yml"]))
def test_a_broken_script_is_a_script_error(content: bytes, name: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(content)
        given_path = path.parent if name.startswith("folder/") else path
        error = load_with_watchdog(lambda: load_scripts([given_path]), path)
    assert error is None or isinstance(error, ScriptError), repr(error)


@pytest.mark.parametrize(
    "kind", ["fifo", "folder", "device", "null", "dangling", "long", "nul", "process memory"]
)
def test_a_path_that_is_no_script_file_is_a_script_error(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "script.yaml"
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "folder":
        (path / "inner.yaml").mkdir(parents=True)  # a folder holding only a folder
    elif kind in ("device", "null", "process memory"):
        path.symlink_to({"device": "/dev/zero", "null": "/dev/null"}.get(kind, "/proc/self/mem"))
    elif kind == "dangling":
        path.symlink_to(tmp_path / "nowhere.yaml")
    else:
        path = tmp_path / ("x" * 300 if kind == "long" else "a\0b")
    error = load_with_watchdog(lambda: load_scripts([path]), path)
    assert isinstance(error, ScriptError), repr(error)
    assert str(path) in str(error)

"""The YAML reader: YAML 1.2 values, JSON values only, every refusal at its line and column."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from copilot_batch.jobfile.located_yaml import (
    MAX_DEPTH,
    MAX_INT_DIGITS,
    MAX_VALUES,
    Position,
    read_yaml,
)


def problems(text: str) -> list[tuple[int, int, str]]:
    document = read_yaml(text)
    return [(p.position.line, p.position.column, p.message) for p in document.problems]


def test_scalars_resolve_as_yaml_1_2_core_schema() -> None:
    document = read_yaml(
        "a: [NO, yes, on, off, y, 2001-12-14, 12:30, 1_000, 0b1, =]\n"
        "b: [3.10, 08, 0o17, 0x1F, -0, +5, .5, 1e3, 1.]\n"
        "c: [~, null, '', true, False, TRUE, !!str 5, !!int '12', ! 12, '3.10']\n"
    )
    assert document.problems == ()
    assert document.data == {
        "a": ["NO", "yes", "on", "off", "y", "2001-12-14", "12:30", "1_000", "0b1", "="],
        "b": [3.1, 8, 15, 31, 0, 5, 0.5, 1000.0, 1.0],
        "c": [None, None, "", True, False, True, "5", 12, "12", "3.10"],
    }
    written = [document.written(["b", index]) for index in range(9)]
    assert written == ["3.10", "08", "0o17", "0x1F", "-0", "+5", ".5", "1e3", "1."]
    assert document.written(["c", 9]) is None  # a string is its own text


def test_positions_of_values_and_keys_are_one_based() -> None:
    document = read_yaml("version: 1\ntasks:\n  - id: a\n    prompt: [x, y]\n")
    assert document.position(["tasks", 0, "prompt", 1]) == Position(4, 17)
    assert document.position(["tasks", 0, "prompt"], of_key=True) == Position(4, 5)
    assert document.position(["tasks", 0, "missing"]) == Position(3, 5)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "a: 1 # note \x00\n",
            (1, 13, "control character U+0000 is not allowed in YAML (not even in a comment)"),
            id="nul-in-comment",
        ),
        pytest.param(
            "a: 1\nb: x\x1b\n",
            (2, 5, "control character U+001B is not allowed in YAML (not even in a comment)"),
            id="escape",
        ),
        pytest.param(
            "a: '\ufffe'\n",
            (1, 5, "control character U+FFFE is not allowed in YAML (not even in a comment)"),
            id="non-character",
        ),
        pytest.param(
            "a: !!binary aGk=\n",
            (1, 4, "the tag !!binary is not allowed: a job file holds only strings, numbers, "
             "booleans, null, lists and mappings"),
            id="binary",
        ),
        pytest.param("a: !!set {x}\n", (1, 4, "the tag !!set is not allowed"), id="set"),
        pytest.param(
            "a: !!timestamp 2001-12-14\n", (1, 4, "the tag !!timestamp is not allowed"), id="date"
        ),
        pytest.param(
            "a: !!python/object:os.system {}\n",
            (1, 4, "the tag !!python/object:os.system is not allowed"),
            id="python-object",
        ),
        pytest.param("a: !mine 1\n", (1, 4, "the tag !mine is not allowed"), id="custom-tag"),
        pytest.param(
            "%TAG !p! tag:yaml.org,2002:python/\n---\na: !p!name:os.system x\n",
            (3, 4, "the tag !!python/name:os.system is not allowed"),
            id="tag-directive",
        ),
        pytest.param("a: !!int abc\n", (1, 4, "!!int 'abc' is not an integer"), id="bad-int"),
        pytest.param(
            "a: .nan\n", (1, 4, ".nan is not a number: only finite numbers are allowed"), id="nan"
        ),
        pytest.param(
            "a: -.Inf\n", (1, 4, "-.Inf is infinite: only finite numbers are allowed"), id="inf"
        ),
        pytest.param("a: 1e309\n", (1, 4, "'1e309' is too large for a number"), id="overflow"),
        pytest.param(
            f"a: {'9' * (MAX_INT_DIGITS + 1)}\n",
            (1, 4, "an integer of more than 4,300 digits is not allowed"),
            id="long-integer",
        ),
        pytest.param(
            f"a: 0x{'f' * 4000}\n",
            (1, 4, "an integer of more than 4,300 digits is not allowed"),
            id="long-hex-integer",
        ),
        pytest.param("a: &r [1, *r]\n", (1, 11, "alias *r is inside the node it names"), id="self"),
        pytest.param(
            "a: &m {b: {c: *m}}\n", (1, 15, "alias *m is inside the node it names"), id="self-map"
        ),
        pytest.param("a: *nope\n", (1, 4, "alias *nope names no anchor before it"), id="undefined"),
        pytest.param(
            f"a: {'[' * (MAX_DEPTH + 1)}{']' * (MAX_DEPTH + 1)}\n",
            (1, 3 + MAX_DEPTH, "lists and mappings are nested more than 64 deep"),
            id="too-deep",
        ),
        pytest.param(
            "a: 1\n---\nb: 2\n", (2, 1, "a job file holds one YAML document; this is a second"),
            id="two-documents",
        ),
        pytest.param(
            "%YAML 1.3\n---\na: 1\n",
            (1, 1, "YAML syntax error: version minor part can only be 2 or 1, got (1, 3)"),
            id="yaml-1.3",
        ),
        pytest.param(
            "a: [1,\n", (2, 1, "YAML syntax error: expected the node content, but found "
                         "'<stream end>'"),
            id="syntax",
        ),
    ],
)  # fmt: skip
def test_what_json_cannot_hold_stops_the_reading_at_its_place(
    text: str, expected: tuple[int, int, str]
) -> None:
    document = read_yaml(text)
    assert document.fatal and document.data is None
    [(line, column, message)] = problems(text)
    assert (line, column) == expected[:2]
    assert message.startswith(expected[2])


def test_integers_of_4300_digits_are_read() -> None:
    assert read_yaml(f"a: {'9' * MAX_INT_DIGITS}\n").data == {"a": int("9" * MAX_INT_DIGITS)}


def test_nesting_up_to_the_limit_is_read() -> None:
    depth = MAX_DEPTH - 1  # the mapping around it is one level
    document = read_yaml(f"a: {'[' * depth}{']' * depth}\n")
    assert document.problems == ()


def test_keys_that_are_not_strings_are_reported_and_the_rest_is_read() -> None:
    assert problems("1: a\nnull: b\n[x]: c\ntrue: d\nok: e\n3.10: f\n") == [
        (1, 1, "mapping keys must be strings, not a number (quote the key)"),
        (2, 1, "mapping keys must be strings, not null (quote the key)"),
        (3, 1, "mapping keys must be strings, not a list (quote the key)"),
        (4, 1, "mapping keys must be strings, not a boolean (quote the key)"),
        (6, 1, "mapping keys must be strings, not a number (quote the key)"),
    ]
    assert read_yaml("1: a\n'2': b\n").data == {"2": "b"}


def test_duplicate_keys_are_reported_at_the_second() -> None:
    assert problems("a: 1\nb: 2\na: 3\n") == [(3, 1, "duplicate key 'a' (first at line 1)")]


def test_an_alias_bomb_is_refused_before_it_is_expanded() -> None:
    levels = ["a0: &a0 [" + ", ".join(["lol"] * 10) + "]"]
    levels += [f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 10) + "]" for n in range(1, 9)]
    document = read_yaml("\n".join(levels) + "\n")
    [problem] = document.problems
    assert problem.message == (
        f"the document holds more than {MAX_VALUES:,} values once its aliases are expanded"
    )
    assert problem.position.line == 6  # 10**5 values: the sixth level is over the limit


def test_a_long_string_aliased_many_times_is_refused() -> None:
    text = "s: &s " + "x" * 100_000 + "\nl: [" + ", ".join(["*s"] * 200) + "]\n"
    [problem] = read_yaml(text).problems
    assert (
        problem.message
        == "the document holds more than 16 MiB of text once its aliases are expanded"
    )


def test_aliases_share_their_value_and_its_positions() -> None:
    document = read_yaml("base: &b {x: 3.10}\nuse: *b\n")
    assert document.data == {"base": {"x": 3.1}, "use": {"x": 3.1}}
    assert document.position(["use", "x"]) == Position(1, 14)
    assert document.written(["use", "x"]) == "3.10"


def test_merge_keys_merge_in_order_and_keys_written_win() -> None:
    document = read_yaml("a: &a {x: 1, y: 2}\nb: &b {y: 3, z: 4}\nm: {<<: [*a, *b], z: 5, w: 6}\n")
    assert document.data["m"] == {"x": 1, "y": 2, "z": 5, "w": 6}
    assert list(document.data["m"]) == ["x", "y", "z", "w"]
    assert document.position(["m", "y"]) == Position(1, 17)  # from the anchor it came from
    assert document.position(["m", "z"]) == Position(3, 22)
    assert problems("m: {<<: [1, 2], a: 1}\n") == [
        (1, 9, "a merge key (<<) takes a mapping or a list of mappings")
    ]
    assert read_yaml("m: {'<<': 1}\n").data == {"m": {"<<": 1}}  # quoted: an ordinary key


def _only_json(value: Any) -> bool:
    if isinstance(value, dict):
        return all(isinstance(key, str) and _only_json(item) for key, item in value.items())
    if isinstance(value, list):
        return all(_only_json(item) for item in value)
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, str | int | bool)


YAML_PIECES = st.sampled_from(
    ["a", "b", "1", "3.10", ": ", ":", "- ", "-", "[", "]", "{", "}", ", ", "&x ", "*x", "&y ",
     "*y", "!!binary ", "!!str ", "!x ", "? ", "'", '"', "|", ">", "#", "\n", "  ", "\t", "~",
     "<<: ", "%YAML 1.1\n", "---\n", "...\n", "\x00", "\ufeff", "9" * 5000, ".inf", "@", "`"]
)  # fmt: skip


@settings(max_examples=300)
@given(st.one_of(st.text(max_size=200), st.lists(YAML_PIECES, max_size=60).map("".join)))
def test_any_text_gives_json_values_or_problems_never_an_exception(text: str) -> None:
    document = read_yaml(text)
    lines = text.count("\n") + text.count("\r") + 2
    for problem in document.problems:
        assert 1 <= problem.position.line <= lines
        assert problem.position.column >= 1
        assert problem.message
    assert _only_json(document.data)
    json.dumps(document.data, allow_nan=False)
    if document.fatal:
        assert document.data is None and document.problems

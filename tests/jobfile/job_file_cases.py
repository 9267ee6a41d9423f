"""Generated job files for the fuzz test, and the folder of side files they name.

Realistic job files, job files drawn from the published schema, and hostile ones: values of
the wrong type at any key, unknown keys, YAML attacks (tags, aliases, bombs, deep nesting,
control characters, invalid UTF-8), templates that try to escape or exhaust the sandbox,
hostile task ids, durations and URLs, and paths to FIFOs, devices, directories, symlink loops
and names too long for the file system. A ``Case`` says what a correct loader must do with it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from copilot_batch.jobfile import job_schema

ENVIRONMENT = {"FUZZ_KEY": "fuzz-secret-value-123", "FUZZ_URL": "http://127.0.0.1:9/v1"}
LIMIT_BYTES = 1024 * 1024  # the limit on files a job file reads; "big" files are twice it


@dataclass(frozen=True)
class Raw:
    """YAML text written as is: a tag, an alias, a number JSON cannot hold."""

    text: str


@dataclass(frozen=True)
class Case:
    """One job file (or a special file given as the job file) and what must become of it."""

    label: str  # the kind of input, for the census
    text: bytes = b""
    job_path: str | None = None  # a file of the arena given as the job file, instead of text
    must_refuse: str | None = None  # why a correct loader refuses it
    expect_ids: tuple[str, ...] | None = None  # the task ids it must give


# --- The arena: side files, good and hostile ----------------------------------------------

FUZZ_TOOLS = """
import sys
from copilot import define_tool

class Stop(BaseException):
    pass

@define_tool(description="Echo")
def echo() -> str:
    return "echo"

def greeter(greeting: str = "hi", **extra):
    @define_tool(name="greet", description=str(greeting)[:50])
    def greet() -> str:
        return str(greeting)
    return greet

def exits(**options):
    sys.exit(3)

def stops(**options):
    raise Stop("a BaseException of its own")

def generator_exit(**options):
    raise GeneratorExit()

def breaks(**options):
    raise RuntimeError("broken factory")

def junk(**options):
    return [1, 2, 3]
"""


def _deep(depth: int) -> str:
    return "[" * depth + "]" * depth


def _bomb(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels):
        previous = f"*a{level - 1}"
        lines.append(f"a{level}: &a{level} [{', '.join([previous] * 9)}]")
    return "\n".join(lines) + "\n"


def make_arena(folder: Path) -> Path:
    """Side files the generated job files name: good ones, and every hostile kind."""
    (folder / "work").mkdir()
    for module in ("src/a.py", "src/b.py", "src/sub/c.py"):
        (folder / module).parent.mkdir(parents=True, exist_ok=True)
        (folder / module).write_text("x = 1\n")
    (folder / "prompt.md").write_text("Review {{ n | default('all') }}.\n")
    (folder / "values.txt").write_text("# values\napi\n\nweb\n")
    (folder / "values.yaml").write_text("- {name: api, lang: go}\n- {name: web, lang: ts}\n")
    (folder / "values.json").write_text("[1, 2, 3]")
    (folder / "schema.json").write_text('{"type": "object", "required": ["ok"]}')
    (folder / "schema.yaml").write_text("type: object\nproperties: {ok: {type: boolean}}\n")
    (folder / "fuzz_tools.py").write_text(FUZZ_TOOLS)
    (folder / "fuzz_tools_exit.py").write_text("import sys\nsys.exit('no tools today')\n")
    (folder / "fuzz_tools_stop.py").write_text(
        "class Stop(BaseException):\n    pass\nraise Stop('at import')\n"
    )
    (folder / "fuzz_tools_broken.py").write_text("import no_such_module_anywhere\n")
    skill = folder / "skills" / "alpha"
    skill.mkdir(parents=True)
    (skill / "SKILL.md").write_text("---\nname: alpha\ndescription: The alpha skill.\n---\n")

    # Hostile side files.
    os.mkfifo(folder / "fifo")
    (folder / "loop").symlink_to("loop")
    (folder / "loop2").symlink_to("loop3")
    (folder / "loop3").symlink_to("loop2")
    (folder / "zero").symlink_to("/dev/zero")
    (folder / "dir").mkdir()
    (folder / "big.txt").write_text("v\n" * LIMIT_BYTES)
    (folder / "bad-utf8.txt").write_bytes(b"ok\n\xff\xfe bad\n")
    (folder / "nul.txt").write_bytes(b"a\nb\x00c\n")
    (folder / "ctl.yaml").write_bytes(b"- a\n- b # \x01\n")
    (folder / "deep.json").write_text(_deep(5000))
    (folder / "deep.yaml").write_text("- " + _deep(500) + "\n")
    (folder / "bomb.yaml").write_text(_bomb() + "list: *a8\n")
    (folder / "bomb-list.yaml").write_text("- &x [" + ", ".join(["*y"] * 3) + "]\n")
    (folder / "selfref.yaml").write_text("&s [*s]\n")
    (folder / "tagged.yaml").write_text("- !!python/object:os.system {}\n- !!binary aGk=\n")
    (folder / "dates.yaml").write_text("- 2001-12-14\n- !!set {a, b}\n")
    (folder / "bigint.yaml").write_text("- " + "9" * 5000 + "\n")
    (folder / "nan.json").write_text("[NaN, Infinity, 1e999]")
    (folder / "many.txt").write_text("".join(f"v{i}\n" for i in range(100_000)))
    (folder / "unreadable").write_text("secret\n")
    (folder / "unreadable").chmod(0)
    hostile_skills = {
        "fifo": lambda md: os.mkfifo(md),
        "zero": lambda md: md.symlink_to("/dev/zero"),
        "utf8": lambda md: md.write_bytes(b"---\nname: \xff\n---\n"),
        "deep": lambda md: md.write_text(f"---\nname: {_deep(3000)}\n---\n"),
        "nul": lambda md: md.write_bytes(b"---\nname: a\x00\ndescription: d\n---\n"),
        "date": lambda md: md.write_text("---\nname: 2001-12-14\ndescription: d\n---\n"),
        "bomb": lambda md: md.write_text("---\n" + _bomb() + "name: *a8\ndescription: d\n---\n"),
        "loop": lambda md: md.symlink_to("SKILL.md"),
    }
    for name, make in hostile_skills.items():
        (folder / f"skills-{name}" / "s").mkdir(parents=True)
        make(folder / f"skills-{name}" / "s" / "SKILL.md")
    (folder / "skills-loop-dir").mkdir()
    (folder / "skills-loop-dir" / "l").symlink_to("l")
    return folder


# --- YAML text from a document ----------------------------------------------------------

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_NOT_PRINTABLE = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)


def _escaped(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def _scalar(value: Any) -> str:
    if isinstance(value, Raw):
        return value.text
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):  # JSON's escapes are YAML's; YAML needs a few more
        return _NOT_PRINTABLE.sub(_escaped, json.dumps(value, ensure_ascii=False))
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(k)}: {_scalar(v)}" for k, v in value.items()) + "}"
    return "[" + ", ".join(_scalar(item) for item in value) + "]"


def _key(key: Any) -> str:
    if isinstance(key, str) and _PLAIN_KEY.fullmatch(key):
        return key
    return _scalar(key)


def _block(value: Any, indent: int) -> list[str]:
    pad = " " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict | list) and item:
                lines.append(f"{pad}{_key(key)}:")
                lines.extend(_block(item, indent + 2))
            else:
                lines.append(f"{pad}{_key(key)}: {_scalar(item)}")
    else:
        for item in value:
            if isinstance(item, dict) and item:
                inner = _block(item, indent + 2)
                lines.append(f"{pad}- {inner[0].lstrip()}")
                lines.extend(inner[1:])
            elif isinstance(item, list) and item:
                lines.append(f"{pad}-")
                lines.extend(_block(item, indent + 2))
            else:
                lines.append(f"{pad}- {_scalar(item)}")
    return lines


def to_yaml(document: Any, *, flow: bool = False) -> str:
    """A document as YAML: block style (one key per line) or one flow line."""
    if flow or not isinstance(document, dict | list) or not document:
        return _scalar(document) + "\n"
    return "\n".join(_block(document, 0)) + "\n"


# --- Hostile values -----------------------------------------------------------------------

NOT_JSON = [
    Raw("!!binary aGVsbG8="), Raw("!!set {a, b}"), Raw("!!timestamp 2001-12-14"),
    Raw("!!python/object:os.system {}"), Raw("!!python/name:os.system ''"),
    Raw("!!python/tuple [1, 2]"), Raw("!custom x"), Raw("!!omap [{a: 1}]"),
    Raw("!!pairs [{a: 1}]"), Raw("!!int abc"), Raw("!!float x"), Raw("!!bool maybe"),
    Raw("1e309"), Raw("-1e309"), Raw(".nan"), Raw(".inf"), Raw("-.inf"),
    Raw("9" * 5000), Raw("-" + "9" * 5000), Raw("0x" + "f" * 5000),
    Raw("{1: a}"), Raw("{null: a}"), Raw("{true: a}"), Raw("{[a, b]: c}"), Raw("{3.10: a}"),
    Raw("*nowhere"), Raw("&self [*self]"), Raw("&selfmap {a: *selfmap}"),
    Raw("{<<: [1, 2]}"),
]  # fmt: skip
HARMLESS_YAML = [
    Raw("2001-12-14"), Raw("2001-12-14T21:59:43Z"), Raw("NO"), Raw("yes"), Raw("on"),
    Raw("~"), Raw("3.10"), Raw("0o17"), Raw("0x1F"), Raw("1_000"), Raw("="), Raw("!!str 5"),
    Raw("!!int 12"), Raw("! 12"), Raw("'single'"), Raw("|\n  block"), Raw(">-\n  folded"),
]  # fmt: skip
JSON_VALUES: list[Any] = [
    None, True, False, 0, -1, 1.5, -0.0, 10**20, "", "x", "a\x00b", "x" * 10_000, [], {},
    [None], {"": None}, {"a": {"b": [1, {"c": "d"}]}}, ["a", 1, True], "\u202e", "ｘ",
]  # fmt: skip
# Templates that escape the sandbox, exhaust it, or are plain mistakes: never accepted.
TEMPLATE_ATTACKS = [
    "{{ ''.__class__ }}", "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}", "{{ self.__init__ }}", "{{ 9**(9**9) }}",
    "{{ 10**5000 }}", "{{ (10**4000) * (10**4000) }}",
    "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}",
    "{% for i in range(99999) %}{% for j in range(99999) %}{{ j }}{% endfor %}{% endfor %}",
    "{{ lipsum(10**6) }}", "{{ lipsum(5, max=10**7) }}", "{{ 'x' * 10**9 }}",
    "{{ [1] * 10**9 }}", "{{ 'x' * 2**62 }}", "{{ range(2**62) }}",
    "{{ 'x'|center(10**9) }}", "{{ 'x'|indent(10**9, true) }}", "{{ 'x'.ljust(10**9) }}",
    "{{ 'x'.zfill(10**9) }}", "{{ 'a\tb'.expandtabs(10**9) }}", "{{ '%999999999s' % 'x' }}",
    "{{ '%.999999999f' % 1 }}", "{{ '%*s' % (999999999, 'x') }}",
    "{{ '{:>999999999}'.format('x') }}", "{{ '{0:{1}}'.format('x', 999999999) }}",
    "{{ '%999999999d'|format(1) }}", "{{ range(10)|slice(10**9)|list }}",
    "{{ [1]|batch(10**9, 0)|list }}", "{{ {'a': [1]}|tojson(indent=999999999) }}",
    "{{ ('x ' * 1000)|wordwrap(1, wrapstring='y' * 10**6) }}",
    "{% set ns = namespace(s='xx') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}"
    "{% endfor %}{{ ns.s|length }}",
    "{% set ns = namespace(s=[1]) %}{% for i in range(64) %}{% set ns.s = ns.s + ns.s %}"
    "{% endfor %}{{ ns.s|length }}",
    "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
    "{{ ('x' * 100000).replace('', 'y' * 100000) }}",
    "{{ ('x' * 1000000).join(range(100000)|map('string')) }}",
    "{{ range(100000)|join('x' * 1000000) }}",
    "{% set l = [1] %}{% for i in range(64) %}{{ l.extend(l) }}{% endfor %}",
    "{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}", "{{ " + "[" * 3000 + "]" * 3000 + " }}",
    "{{ 'a' ~ }}", "{% if %}", "{{ undefined_variable }}", "{% include 'x' %}",
    "{% extends 'x' %}", "{% import 'x' as y %}", "{{ x.update({}) }}",
    "{{ 1/0 }}", "{{ none.x }}",
]  # fmt: skip
# Templates that are odd but harmless: a loader may take them or stop at a limit.
HARMLESS_TEMPLATES = [
    "{{ 'é' * 3 }}", "{{ range }}", "{{ lipsum }}", "{{ '%s'|format('x') }}", "{{ 9**9**9 }}",
    "{% raw %}",
    "{{ dict.fromkeys(range(100000)) }}", "{{ ('<' * 300000)|striptags }}",
    "{{ 'x' * 100 }}", "{% for i in range(10) %}{{ i }}{% endfor %}",
]  # fmt: skip
TASK_IDS = [
    "..", ".", "/etc/passwd", "../x", "a/b", "x" * 10_000, "x" * 201, "x" * 255, "Аa", "ｘ",
    "a\x00b", "a b", "", "-", "a..b", "\u202eabc", "a\nb", "x" * 200, "tasks", "run.json",
]  # fmt: skip
BAD_DURATIONS: list[Any] = [
    -5, 0, -0.5, 0.0, Raw("1e309"), Raw("-1e309"), Raw(".nan"), Raw(".inf"), Raw("-.inf"),
    [1, 2], None, True, {}, {"s": 1}, Raw("1" + "0" * 400), 10**20, 691_200, "192h",
    "99999999999999999999h", "1h30", "", "0s", "1.5.5s", "-5s", "1e3s", "NaNs", "inf",
    "1" * 5000 + "s", Raw("!!float nan"),
]  # fmt: skip
CLI_URLS = [
    "not a url", "http://", "host:99999", "host:0", "::1", "a:b:c", " ", "x" * 10_000,
    "http://h:80/path", "ftp://h:1", "-1", "99999", "h:", "[::1]", "[nope]:80",
]  # fmt: skip
GOOD_CLI_URLS = ["127.0.0.1:8080", "8080", "http://localhost:3000", "[::1]:80", "https://h:1"]
HOSTILE_FILES = [
    "fifo", "loop", "loop/x", "loop2", "zero", "/dev/zero", "/dev/null", "dir", "big.txt",
    "bad-utf8.txt", "nul.txt", "ctl.yaml", "deep.json", "deep.yaml", "bomb.yaml",
    "bomb-list.yaml", "selfref.yaml", "tagged.yaml", "dates.yaml", "bigint.yaml", "nan.json",
    "x" * 300, "x" * 300 + "/y", "a\x00b", "missing", "/proc/self/status", "unreadable",
    "many.txt",
]  # fmt: skip
HOSTILE_DIRECTORIES = [
    "loop", "loop/x", "loop2", "fifo", "zero", "/dev/zero", "x" * 300, "x" * 300 + "/y",
    "a\x00b", "missing", "big.txt", "/proc/self/fd/0", "skills-loop-dir",
    *(f"skills-{name}" for name in ("fifo", "zero", "utf8", "deep", "nul", "date", "bomb", "loop")),
]  # fmt: skip
GLOBS = [
    "**/*", "loop/**", "**/**/**/**/*", "x" * 300, "a\x00b", "[", "*" * 1000, "/etc/*",
    "../*", "src/**/*.py", "{a,b}", "**", "loop2/*", "dir/**/*", "**/*.nothing",
]  # fmt: skip


# --- Realistic documents ------------------------------------------------------------------


def _durations() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.integers(1, 3600),
        st.floats(0.001, 3600),
        st.sampled_from(["90s", "10m", "1h30m", "500ms"]),
    )


def _provider() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "type": st.sampled_from(["openai", "azure", "anthropic"]),
            "base_url": st.just("${FUZZ_URL}"),
        },
        optional={
            "api_key": st.just("${FUZZ_KEY}"),
            "headers": st.just(
                {"X-Team": {"value": "docs", "secret": False}, "X-Key": "${FUZZ_KEY}"}
            ),
            "wire_api": st.sampled_from(["completions", "responses"]),
            "max_output_tokens": st.integers(1, 10_000),
        },
    )


_POLICY = {
    "default": "deny",
    "rules": [
        {"kind": "read", "action": "allow"},
        {"kind": "shell", "commands": ["git diff*"], "action": "allow"},
    ],
}
_CUSTOM_TOOLS = [
    "fuzz_tools:echo",
    {"use": "fuzz_tools:greeter", "with": {"greeting": "Hi {{ n | default(1) }}"}},
]
_MCP_SERVERS = {
    "files": {"command": "python", "args": ["server.py"], "env": {"TOKEN": "${FUZZ_KEY}"}},
    "web": {"type": "http", "url": "http://127.0.0.1:9/mcp"},
}


def _options() -> st.SearchStrategy[dict[str, Any]]:
    tools = st.fixed_dictionaries(
        {},
        optional={
            "custom": st.lists(st.sampled_from(_CUSTOM_TOOLS), max_size=2, unique_by=json.dumps),
            "available": st.just(["view", "grep"]),
            "excluded": st.just(["bash"]),
        },
    )
    system_message = st.fixed_dictionaries(
        {"content": st.sampled_from(["Be brief.", "Focus on {{ n | default('x') }}."])},
        optional={"mode": st.sampled_from(["append", "replace"])},
    )
    backoff = st.fixed_dictionaries({}, optional={"initial": _durations(), "max": _durations()})
    return st.fixed_dictionaries(
        {},
        optional={
            "model": st.sampled_from(["gpt-4.1", "claude-sonnet-4.5"]),
            "provider": _provider(),
            "system_message": system_message,
            "timeout": _durations(),
            "idle_timeout": _durations(),
            "retries": st.integers(0, 10),
            "retry_backoff": backoff,
            "working_directory": st.sampled_from([".", "work", "src"]),
            "permissions": st.sampled_from(["approve-all", "deny-all", _POLICY]),
            "streaming": st.booleans(),
            "tools": tools,
            "skills": st.just({"directories": ["skills"], "disabled": ["alpha"]}),
            "mcp_servers": st.just(_MCP_SERVERS),
            "workspace": st.sampled_from(["shared", "copy"]),
            "output_schema": st.sampled_from([{"type": "object"}, "schema.json", "schema.yaml"]),
        },
    )


_MATRIX_VALUES = st.sampled_from(["a", "b", "api", 1, 2, 3, "x.y", Raw("3.10"), Raw("NO"), True])


def _matrices() -> st.SearchStrategy[dict[str, Any]]:
    keys = st.lists(
        st.sampled_from(["n", "lang", "repo", "py"]), min_size=1, max_size=3, unique=True
    )
    sources = st.one_of(
        st.lists(_MATRIX_VALUES, min_size=1, max_size=3, unique_by=repr),
        st.sampled_from([{"file": "values.txt"}, {"file": "values.json"}, {"glob": "src/**/*.py"}]),
    )
    return keys.flatmap(lambda names: st.fixed_dictionaries({name: sources for name in names}))


@st.composite
def realistic_documents(draw: st.DrawFn) -> dict[str, Any]:
    """A job file a user could have written: every option, matrices, side files that exist."""
    document: dict[str, Any] = {"version": 1}
    if draw(st.booleans()):
        document["name"] = draw(st.from_regex(r"[A-Za-z0-9._-]{1,20}", fullmatch=True))
    if draw(st.booleans()):
        document["description"] = draw(st.text(max_size=30))
    if draw(st.integers(0, 9)) == 0:
        document["cli_url"] = draw(st.sampled_from(GOOD_CLI_URLS))
    defaults = draw(_options())
    if defaults:
        document["defaults"] = defaults
    job_matrix = draw(st.none() | _matrices())
    if job_matrix:
        document["matrix"] = job_matrix
    tasks = []
    for index in range(draw(st.integers(1, 3))):
        task: dict[str, Any] = draw(_options())
        matrix = job_matrix
        if draw(st.integers(0, 3)) == 0:
            matrix = draw(_matrices())
            task["matrix"] = matrix
        keys = "-".join(f"{{{{ {key} | string | replace('/', '_') }}}}" for key in matrix or {})
        task["id"] = f"t{index}-{keys}" if keys else f"t{index}"
        if draw(st.booleans()):
            task["prompt_file"] = "prompt.md"
        else:
            task["prompt"] = "Do {{ " + next(iter(matrix or {"n": 0})) + " | default(0) }}."
        tasks.append(task)
    document["tasks"] = tasks
    return document


# --- Documents from the published schema --------------------------------------------------

# Only these are imported: a job file's tools run code, and a fuzzer must not run just any.
_IMPORTS = [
    "fuzz_tools:echo", "fuzz_tools:greeter", "fuzz_tools:exits", "fuzz_tools:stops",
    "fuzz_tools:generator_exit", "fuzz_tools:breaks", "fuzz_tools:junk", "fuzz_tools_exit:x",
    "fuzz_tools_stop:x", "fuzz_tools_broken:x", "nothing_here:x", "fuzz_tools:missing",
    "json:dumps", "x" * 300 + ":y", "fuzz_tools:" + "y" * 300,
]  # fmt: skip


def _json_values() -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(10**6), 10**6),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=12),
    )
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
        ),
        max_leaves=8,
    )


def from_schema(node: dict[str, Any], definitions: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values valid (mostly) under ``node``: the keys, types and shapes the schema allows."""
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        return st.deferred(lambda: from_schema(definitions[name], definitions))
    if "const" in node:
        return st.just(node["const"])
    if "enum" in node:
        return st.sampled_from(node["enum"])
    for combinator in ("oneOf", "anyOf"):
        if combinator in node and "properties" not in node:
            return st.one_of([from_schema(branch, definitions) for branch in node[combinator]])
    kind = node.get("type")
    if isinstance(kind, list):
        return st.one_of([from_schema({**node, "type": name}, definitions) for name in kind])
    if kind == "object" or "properties" in node:
        return _object_from_schema(node, definitions)
    if kind == "array":
        items = from_schema(node.get("items", {}), definitions)
        return st.lists(items, min_size=node.get("minItems", 0), max_size=3)
    if kind == "string":
        pattern = node.get("pattern")
        if pattern and ":" in pattern and "A-Za-z_" in pattern:
            return st.sampled_from(_IMPORTS)  # never import just any module
        if pattern:
            return st.from_regex(pattern, fullmatch=True)
        return st.text(min_size=node.get("minLength", 0), max_size=12)
    if kind == "integer":
        return st.integers(node.get("minimum", -5), node.get("maximum", 10**6))
    if kind == "number":
        return st.floats(min_value=0, max_value=10**6, exclude_min=True) | st.integers(1, 10**6)
    if kind == "boolean":
        return st.booleans()
    return _json_values()


def _object_from_schema(
    node: dict[str, Any], definitions: dict[str, Any]
) -> st.SearchStrategy[Any]:
    properties = node.get("properties", {})
    required = set(node.get("required", ()))
    if "oneOf" in node:  # a task: prompt (the first branch) is required
        required |= set(node["oneOf"][0].get("required", ()))
    extra = node.get("additionalProperties", True)
    if not properties and extra is True:
        return st.dictionaries(st.text(max_size=6), _json_values(), max_size=3)
    fixed = {
        key: from_schema(properties[key], definitions) for key in properties if key in required
    }
    optional = {
        key: from_schema(value, definitions)
        for key, value in properties.items()
        if key not in required
    }
    strategy = st.fixed_dictionaries(fixed, optional=optional)
    if isinstance(extra, dict):
        names = node.get("propertyNames", {}).get("pattern", r"^[A-Za-z0-9_-]+$")
        more = st.dictionaries(
            st.from_regex(names, fullmatch=True).filter(lambda k: k not in properties),
            from_schema(extra, definitions),
            min_size=node.get("minProperties", 0),
            max_size=2,
        )
        strategy = st.tuples(strategy, more).map(lambda pair: {**pair[1], **pair[0]})
    return strategy


def schema_documents() -> st.SearchStrategy[Any]:
    schema = job_schema()
    return from_schema(schema, schema["$defs"])


# --- Mutations ----------------------------------------------------------------------------


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(_paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(_paths(item, (*prefix, index)))
    return found


def _set(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    head, *rest = path
    copy = dict(document) if isinstance(document, dict) else list(document)
    copy[head] = _set(document[head], tuple(rest), value)
    return copy


def _get(document: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        document = document[part]
    return document


UNKNOWN_KEYS = ["promt", "timout", "tasks", "<<", "x" * 5000]
HOSTILE_KEYS = [
    Raw("1"), Raw("~"), Raw("true"), Raw("[a, b]"), Raw("3.10"), Raw("2001-12-14"),
    Raw("!!binary aGk="), Raw("<<"), Raw("*nowhere"),
]  # fmt: skip


def _other_type(value: Any) -> st.SearchStrategy[Any]:
    """A value of another JSON type than ``value``, or one JSON cannot hold at all."""

    def differs(other: Any) -> bool:
        return type(other) is not type(value) or isinstance(other, Raw)

    return st.sampled_from([*JSON_VALUES, *NOT_JSON, *HARMLESS_YAML]).filter(differs)


@st.composite
def mutated(draw: st.DrawFn, documents: st.SearchStrategy[Any]) -> Any:
    """A document with values of other types, unknown keys and deleted keys, anywhere."""
    document = draw(documents)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(document)))
        target = _get(document, path)
        action = draw(st.sampled_from(["retype", "unknown-key", "delete", "hostile-key"]))
        if action == "retype":
            document = _set(document, path, draw(_other_type(target)))
        elif isinstance(target, dict) and action in ("unknown-key", "hostile-key"):
            keys = UNKNOWN_KEYS if action == "unknown-key" else HOSTILE_KEYS
            key = draw(st.text(max_size=10) | st.sampled_from(keys))
            document = _set(document, path, {**target, key: draw(_other_type(None))})
        elif path and action == "delete":
            parent = _get(document, path[:-1])
            if isinstance(parent, dict):
                document = _set(
                    document, path[:-1], {k: v for k, v in parent.items() if k != path[-1]}
                )
            else:
                document = _set(
                    document, path[:-1], [v for i, v in enumerate(parent) if i != path[-1]]
                )
    return document


# --- Hostile values at the keys that read them --------------------------------------------

# Side files every reader refuses, whatever it expects in them.
REFUSED_FILES = {
    "fifo", "loop", "loop/x", "loop2", "zero", "/dev/zero", "/dev/null", "dir", "big.txt",
    "bad-utf8.txt", "x" * 300, "x" * 300 + "/y", "a\x00b", "missing",
}  # fmt: skip
# Data files (matrix values, output schemas) that hold no JSON-compatible value.
REFUSED_DATA_FILES = {
    *REFUSED_FILES, "ctl.yaml", "deep.json", "deep.yaml", "bomb.yaml", "bomb-list.yaml",
    "selfref.yaml", "tagged.yaml", "dates.yaml", "bigint.yaml", "nan.json",
}  # fmt: skip
# Folders no task may work in or load skills from.
REFUSED_DIRECTORIES = {path for path in HOSTILE_DIRECTORIES if not path.startswith("skills-")}
REFUSED_SKILLS = set(HOSTILE_DIRECTORIES) - {"skills-date"}


BAD_SCHEMAS = [
    {"type": "nonsense"}, {"pattern": "["}, {"minimum": "a"}, {"properties": Raw("&o {a: *o}")},
]  # fmt: skip
ODD_SCHEMAS = [{"$ref": "http://example.invalid/x"}, {"type": ["string", "null"]}]
FACTORIES = [
    "fuzz_tools:greeter", "fuzz_tools:exits", "fuzz_tools:stops", "fuzz_tools:generator_exit",
    "fuzz_tools:breaks", "fuzz_tools:junk",
]  # fmt: skip
BAD_PROVIDERS = [
    *({"type": "openai", "base_url": url} for url in ("${NOT_SET}", Raw("!!binary aGk="), 5)),
    *({"type": "openai", "base_url": "u", "headers": {"A": header}}
      for header in (1, None, [1], {"value": 1}, {"secret": False})),
]  # fmt: skip
BAD_POLICIES = [
    {"rules": [{"kind": "shell", "paths": ["x"], "action": "allow"}]},
    {"rules": [{"kind": "read", "commands": ["x"], "action": "allow"}]},
    {"rules": [{"kind": "read", "paths": [1], "action": "allow"}]},
    {"rules": "all"}, {"default": "maybe"}, "allow", ["approve-all"],
]  # fmt: skip
BAD_MCP_SERVERS = [
    {"s": {"args": ["x"]}}, {"s": {"type": "http"}}, {"bad name": {"command": "x"}},
    {"s": {"command": "x", "env": {"A": 1}}}, {"s": {"type": "sse", "url": "u", "timeout": 0}},
]  # fmt: skip
BAD_SKILLS = [{"directories": "skills"}, {"directories": [1]}, {"disabled": [None]}, {"x": 1}]


def _claim(refused: bool, why: str) -> str | None:
    return why if refused else None


Setting = tuple[str, Any, str | None, bool]  # key, value, why it must be refused, may be a default


def _hostile_settings() -> list[Setting]:
    return [
        *_duration_settings(),
        *_template_settings(),
        *_path_settings(),
        *_shape_settings(),
        *(("id", value, "a task id that cannot name a folder", False) for value in TASK_IDS[:-3]),
    ]


def _duration_settings() -> list[Setting]:
    why = "a duration that is not a positive, finite time up to 7 days"
    return [
        *(
            (key, value, why, True)
            for key in ("timeout", "idle_timeout")
            for value in BAD_DURATIONS
        ),
        *(("retry_backoff", {"initial": value}, why, True) for value in BAD_DURATIONS),
    ]


def _template_settings() -> list[Setting]:
    templates = [*TEMPLATE_ATTACKS, *HARMLESS_TEMPLATES]
    why = "a template the sandbox must stop"
    settings: list[Setting] = [
        (key, value, _claim(value in TEMPLATE_ATTACKS, why), key == "working_directory")
        for key in ("id", "prompt", "working_directory")
        for value in templates
    ]
    settings += [
        ("system_message", {"content": value}, _claim(value in TEMPLATE_ATTACKS, why), True)
        for value in templates
    ]
    return settings


def _path_settings() -> list[Setting]:
    unreadable, not_a_folder = "a side file that cannot be read", "not a folder"
    settings: list[Setting] = []
    for name in HOSTILE_FILES:
        settings.append(("prompt_file", name, _claim(name in REFUSED_FILES, unreadable), False))
        settings.append(
            ("output_schema", name, _claim(name in REFUSED_DATA_FILES, unreadable), True)
        )
    for path in HOSTILE_DIRECTORIES:
        refused = _claim(path in REFUSED_DIRECTORIES, not_a_folder)
        server = {"s": {"command": "x", "working_directory": path}}
        settings.append(("working_directory", path, refused, True))
        settings.append(("mcp_servers", server, refused, True))
        skills = {"directories": [path]}
        settings.append(("skills", skills, _claim(path in REFUSED_SKILLS, "no skills"), True))
    return settings


def _shape_settings() -> list[Setting]:
    settings: list[Setting] = [
        *(("output_schema", schema, "not a JSON Schema", True) for schema in BAD_SCHEMAS),
        ("output_schema", {"enum": Raw(_bomb_value())}, "an alias bomb", True),
        *(("output_schema", json.loads(_nested_schema(depth)), None, True) for depth in (40, 200)),
        *(("output_schema", schema, None, True) for schema in ODD_SCHEMAS),
        *(("provider", provider, "a bad provider", True) for provider in BAD_PROVIDERS),
        *(("permissions", policy, "a bad policy", True) for policy in BAD_POLICIES),
        *(("mcp_servers", servers, "a bad MCP server", True) for servers in BAD_MCP_SERVERS),
        *(("skills", skills, "bad skills", True) for skills in BAD_SKILLS),
    ]
    good_tools = ("fuzz_tools:echo", "fuzz_tools:greeter")
    for entry in _IMPORTS:
        why = _claim(entry not in good_tools, "a custom tool that gives no tools")
        settings.append(("tools", {"custom": [entry]}, why, True))
    for factory in FACTORIES:
        for greeting in ("hi", "{{ 9**(9**9) }}", "{{ ''.__class__ }}"):
            tools = {"custom": [{"use": factory, "with": {"greeting": greeting}}]}
            why = _claim(factory != good_tools[1] or greeting != "hi", "a factory that fails")
            settings.append(("tools", tools, why, True))
    return settings


def _nested_schema(depth: int) -> str:
    return '{"items": ' * depth + '{"type": "string"}' + "}" * depth


def _bomb_value(levels: int = 9) -> str:
    """One flow sequence whose last item expands to 9**levels strings."""
    items = ['&b0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    items += [f"&b{n} [{', '.join([f'*b{n - 1}'] * 9)}]" for n in range(1, levels)]
    return "[" + ", ".join(items) + "]"


def _at(document: dict[str, Any], key: str, value: Any, *, in_defaults: bool) -> dict[str, Any]:
    """``document`` with ``value`` at ``key`` of the first task, or of the defaults (and
    then of no task, so that it is the value used)."""
    tasks = [dict(task) for task in document["tasks"]]
    if in_defaults:
        for task in tasks:
            task.pop(key, None)
        return {
            **document,
            "defaults": {**document.get("defaults", {}), key: value},
            "tasks": tasks,
        }
    tasks[0][key] = value
    if key == "prompt_file":
        tasks[0].pop("prompt", None)
    if key == "prompt":
        tasks[0].pop("prompt_file", None)
    return {**document, "tasks": tasks}


@st.composite
def hostile_value_cases(draw: st.DrawFn) -> Case:
    """A realistic job file with one hostile value at a key that reads it."""
    document = draw(realistic_documents())
    key, value, why, may_default = draw(st.sampled_from(_hostile_settings()))
    in_defaults = may_default and draw(st.booleans())
    document = _at(document, key, value, in_defaults=in_defaults)
    if key == "id" and why is not None:  # one task, no matrix: the id is used as written
        document["tasks"] = [{k: v for k, v in document["tasks"][0].items() if k != "matrix"}]
        document.pop("matrix", None)
    return Case(f"hostile {key}", to_yaml(document).encode(), must_refuse=why)


@st.composite
def matrix_source_cases(draw: st.DrawFn) -> Case:
    """A matrix read from a hostile file or glob."""
    if draw(st.booleans()):
        name = draw(st.sampled_from(HOSTILE_FILES))
        source, why = {"file": name}, _claim(name in REFUSED_DATA_FILES, "bad file")
    else:
        source, why = {"glob": draw(st.sampled_from(GLOBS))}, None
    task = {"id": "t-{{ m | string | replace('/', '_') }}", "prompt": "{{ m }}"}
    document = {"version": 1, "matrix": {"m": source}, "tasks": [task]}
    return Case("hostile matrix source", to_yaml(document).encode(), must_refuse=why)


@st.composite
def not_json_cases(draw: st.DrawFn) -> Case:
    """A realistic job file holding a YAML value JSON cannot hold, where a value is read."""
    document = draw(realistic_documents())
    value = draw(st.sampled_from(NOT_JSON))
    place = draw(st.sampled_from(["matrix", "description", "with", "model", "schema"]))
    if place == "matrix":
        document = {**document, "matrix": {"v": [value]}}
        document["tasks"] = [{"id": "t-{{ v | string | length }}", "prompt": "x"}]
    elif place == "with":
        options = {"custom": [{"use": "fuzz_tools:greeter", "with": {"extra": value}}]}
        document = _at(document, "tools", options, in_defaults=False)
    elif place == "schema":
        document = _at(document, "output_schema", {"properties": {"a": value}}, in_defaults=False)
    else:
        document = {**document, place: value}
    return Case(f"not JSON in {place}", to_yaml(document).encode(), must_refuse="not JSON")


# --- Attacks on the text ------------------------------------------------------------------

CONTROL_CHARACTERS = [*"\x00\x01\x07\x08\x0b\x0c\x0e\x1b\x1f\x7f\x80\x9f", "\ufffe", "\uffff"]
TEXT_ATTACKS = [
    "control", "comment", "utf8", "truncate", "bom", "utf16", "directive", "second-document",
    "tag-directive",
]  # fmt: skip


@st.composite
def text_cases(draw: st.DrawFn) -> Case:
    """A realistic job file whose bytes are damaged or extended."""
    text = to_yaml(draw(realistic_documents()), flow=draw(st.integers(0, 4)) == 0)
    data = text.encode()
    position = draw(st.integers(0, len(text)))
    attack = draw(st.sampled_from(TEXT_ATTACKS))
    if attack in ("control", "comment"):
        character = draw(st.sampled_from(CONTROL_CHARACTERS))
        damaged = (
            text[:position] + character + text[position:]
            if attack == "control"
            else f"{text}# note {character}\n"
        )
        return Case(f"control character ({attack})", damaged.encode(), must_refuse="a control")
    if attack == "utf8":
        junk = draw(
            st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80"])
        )
        cut = len(text[:position].encode())
        return Case("invalid UTF-8", data[:cut] + junk + data[cut:], must_refuse="not UTF-8")
    if attack == "truncate":
        return Case("truncated", data[: len(text[:position].encode())])
    if attack == "bom":
        return Case("byte order mark", b"\xef\xbb\xbf" + data)
    if attack == "utf16":
        return Case("UTF-16", text.encode("utf-16"), must_refuse="not UTF-8")
    if attack == "directive":
        return Case("YAML 1.1 directive", b"%YAML 1.1\n---\n" + data)
    if attack == "tag-directive":
        return Case("tag directive", b"%TAG !p! tag:yaml.org,2002:python/\n---\n" + data)
    return Case("two documents", data + b"---\nversion: 1\n", must_refuse="two YAML documents")


_HEAD = "version: 1\ntasks: [{id: a, prompt: x}]\n"
_ONE_TASK = "tasks: [{id: a, prompt: x}]\n"
_GREETER = "tasks: [{id: a, prompt: x, tools: {custom: [{use: 'fuzz_tools:greeter', with: %s}]}}]\n"


def _matrix_of(matrix: str, task_id: str = "a{{ m }}") -> str:
    return f"version: 1\nmatrix: {matrix}\ntasks: [{{id: '{task_id}', prompt: x}}]\n"


def _list(items: Iterable[Any]) -> str:
    return "[" + ", ".join(map(str, items)) + "]"


def _whole_file_attacks() -> list[tuple[str, Callable[[], str], str | None]]:
    bomb = _bomb_value()
    return [
        ("alias bomb in a matrix", lambda: _matrix_of(f"{{m: {bomb}}}"), "an alias bomb"),
        ("alias bomb in a description", lambda: f"{_HEAD}description: {bomb}\n", "a bomb"),
        ("alias bomb in tool options",
         lambda: "version: 1\n" + _GREETER % f"{{greeting: hi, x: {bomb}}}", "a bomb"),
        ("alias bomb in an output schema",
         lambda: f"{_HEAD}defaults: {{output_schema: {{enum: {bomb}}}}}\n", "a bomb"),
        ("recursive alias in a matrix", lambda: _matrix_of("{m: &r [*r]}"), "a recursive alias"),
        ("recursive alias in defaults",
         lambda: f"version: 1\ndefaults: &d {{provider: *d}}\n{_ONE_TASK}", "a recursive alias"),
        ("recursive alias in an output schema",
         lambda: f"version: 1\ndefaults: {{output_schema: &s {{properties: {{a: *s}}}}}}\n"
                 f"{_ONE_TASK}", "a recursive alias"),
        ("recursive alias in tool options",
         lambda: "version: 1\n" + _GREETER % "&w {x: *w}", "a recursive alias"),
        ("deep nesting 60", lambda: f"{_HEAD}description: {_deep(60)}\n", None),
        ("deep nesting 300", lambda: f"{_HEAD}description: {_deep(300)}\n", None),
        ("deep nesting 1000", lambda: f"{_HEAD}description: {_deep(1000)}\n", "too deep"),
        ("deep nesting 100000", lambda: f"{_HEAD}description: {_deep(100_000)}\n", "too deep"),
        ("deep mappings",
         lambda: f"{_HEAD}description: {'{a: ' * 2000}1{'}' * 2000}\n", "too deep"),
        ("deep matrix object", lambda: _matrix_of(f"{{m: [{'{a: ' * 900}1{'}' * 900}]}}"),
         "too deep"),
        ("integer of 5,000 digits",
         lambda: f"version: 1\ntasks: [{{id: a, prompt: x, retries: {'9' * 5000}}}]\n",
         "an integer too long"),
        ("integer of 5,000 digits in a matrix",
         lambda: _matrix_of(f"{{m: [{'9' * 5000}]}}", "a{{ m|string|length }}"),
         "an integer too long"),
        ("duration of 10**400",
         lambda: f"version: 1\ntasks: [{{id: a, prompt: x, timeout: 1{'0' * 400}}}]\n",
         "a duration too long"),
        ("huge file", lambda: f"{_HEAD}description: {'x' * 2 * LIMIT_BYTES}\n", None),
        ("many values", lambda: f"{_HEAD}description: x\nmatrix: {{m: [{'1,' * 600_000}1]}}\n",
         None),
        ("huge matrix",
         lambda: _matrix_of(
             "{" + ", ".join(f"k{i}: {_list(range(40))}" for i in range(5)) + "}",
             "a{{ k0 }}{{ k1 }}{{ k2 }}{{ k3 }}{{ k4 }}",
         ), "too many tasks"),
        ("huge matrix from a file",
         lambda: _matrix_of(f"{{a: {{file: many.txt}}, b: {_list(range(100))}}}", "{{ b }}"),
         "too many tasks"),
        ("many include entries",
         lambda: _matrix_of(
             "{m: [1], include: " + _list(f"{{m: {i}, k: {i}}}" for i in range(20_000)) + "}"
         ), None),
        ("many tasks",
         lambda: "version: 1\ntasks: " + _list(f"{{id: t{i}, prompt: x}}" for i in range(12_000)),
         None),
        ("merge key", lambda: "version: 1\ntasks: [{<<: {prompt: x}, id: a}]\n", None),
        ("merge key of a list",
         lambda: "version: 1\ntasks: [{<<: [1, 2], id: a, prompt: x}]\n", None),
        ("anchors reused",
         lambda: "version: 1\ntasks: [{id: &i a, prompt: *i}, {id: &i b, prompt: *i}]\n", None),
        ("null document", lambda: "~\n", "an empty job file"),
        ("scalar document", lambda: "just text\n", "not a mapping"),
        ("only a comment", lambda: "# nothing\n", "an empty job file"),
        ("CR line ends", lambda: _HEAD.replace("\n", "\r"), None),
        ("tabs", lambda: "version:\t1\ntasks:\t[{id: a, prompt: x}]\n", None),
    ]  # fmt: skip


@st.composite
def whole_file_cases(draw: st.DrawFn) -> Case:
    label, make, why = draw(st.sampled_from(_whole_file_attacks()))
    return Case(label, make().encode(), must_refuse=why)


SPECIAL_JOB_FILES = [
    "dir", "fifo", "zero", "/dev/zero", "loop", "x" * 300, "missing", "big.txt", "bad-utf8.txt",
    "nul.txt", "ctl.yaml", "deep.json", "bomb.yaml", "selfref.yaml",
]  # fmt: skip


def special_file_cases() -> st.SearchStrategy[Case]:
    return st.sampled_from(SPECIAL_JOB_FILES).map(
        lambda name: Case(f"job file is {name[:20]}", job_path=name, must_refuse="not a job file")
    )


# --- Values as written --------------------------------------------------------------------

WRITTEN = [
    ("[3.10, 3.11]", ["3.10", "3.11"]),
    ("[NO, SE, yes, on, off]", ["NO", "SE", "yes", "on", "off"]),
    ("[1.0, 08, 1e3, 0o17, 0x1F, .5]", ["1.0", "08", "1e3", "0o17", "0x1F", ".5"]),
    ("[2001-12-14, 12:30]", ["2001-12-14", "12_30"]),
    ("['3.10', \"007\"]", ["3.10", "007"]),
    ("[3.10, 3.11], exclude: [{v: 3.1}]", ["3.11"]),
    ("[3.10, 3.11], exclude: [{v: '3.10'}]", ["3.11"]),
    ("[3.10, 3.11], include: [{v: 3.1, extra: x}]", ["3.10-x", "3.11"]),
    ("[1, 2], exclude: [{v: 1.0}]", ["2"]),
]


@st.composite
def written_value_cases(draw: st.DrawFn) -> Case:
    """Matrix values keep the text they were written with, in ids and prompts."""
    values, ids = draw(st.sampled_from(WRITTEN))
    task_id = "t-{{ v | replace(':', '_') }}{% if extra is defined %}-{{ extra }}{% endif %}"
    text = f'version: 1\nmatrix: {{v: {values}}}\ntasks: [{{id: "{task_id}", prompt: x}}]\n'
    return Case("values as written", text.encode(), expect_ids=tuple(f"t-{v}" for v in ids))


def cli_url_cases() -> st.SearchStrategy[Case]:
    def case(url: str) -> Case:
        document = {"version": 1, "cli_url": url, "tasks": [{"id": "a", "prompt": "x"}]}
        return Case("cli_url", to_yaml(document).encode(), must_refuse="not a CLI address")

    return st.sampled_from(CLI_URLS).map(case)


# --- Everything ---------------------------------------------------------------------------


def job_file_cases() -> st.SearchStrategy[Case]:
    """Every kind of case, realistic and hostile."""

    def document_case(label: str) -> Callable[[Any], Case]:
        return lambda document: Case(label, to_yaml(document).encode())

    realistic = realistic_documents()
    return st.one_of(
        realistic.map(document_case("realistic")),
        mutated(realistic).map(document_case("realistic, retyped")),
        schema_documents().map(document_case("from the schema")),
        mutated(schema_documents()).map(document_case("from the schema, retyped")),
        hostile_value_cases(),
        not_json_cases(),
        text_cases(),
        whole_file_cases(),
        special_file_cases(),
        written_value_cases(),
        matrix_source_cases(),
        cli_url_cases(),
    )

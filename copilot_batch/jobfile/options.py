"""Task option blocks → what the session gets: provider, MCP servers, policy, tools, skills.

Each function reads one schema-valid block, reports problems at their place and returns
the value the runtime needs. Values read from ``${VAR}`` come from the environment.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import jsonschema
from pathspec import GitIgnoreSpec

from ..errors import SkillError
from . import files
from .located_yaml import shown
from .model import PermissionAction, PermissionPolicy, PermissionRule, WorkspaceMode
from .problems import Problems, Where
from .skills import discover_skills
from .tool_sets import is_selector, selector_problem

# The CLI's built-in tools (1.0.102 offers the first group to every model we tried; the
# second group appears with other models or versions).
BUILTIN_TOOLS = (
    "bash", "read_bash", "write_bash", "stop_bash", "list_bash", "view", "create", "edit",
    "web_fetch", "semantic_code_search", "skill", "sql", "read_agent", "list_agents",
    "write_agent", "grep", "glob", "task",
    "apply_patch", "str_replace_editor", "store_memory", "report_intent", "update_todo",
    "powershell", "read_powershell", "write_powershell", "stop_powershell", "list_powershell",
    "fetch_copilot_cli_documentation",
)  # fmt: skip

# Which pattern lists a rule of each kind may carry.
RULE_FIELDS = {
    "read": ("paths",),
    "write": ("paths",),
    "shell": ("commands",),
    "url": ("hosts",),
    "mcp": ("servers", "tools"),
    "custom-tool": ("tools",),
    "memory": (),
    "hook": ("tools",),
}
_PATTERN_FIELDS = ("paths", "commands", "hosts", "tools", "servers")
_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_HOST_NAME = re.compile(r"[A-Za-z0-9._-]*")


def cli_url_option(url: str | None, where: Where, problems: Problems) -> str | None:
    """A Copilot CLI server address the SDK can connect to: PORT, HOST:PORT or a URL of them."""
    if url is not None and not cli_url_is_valid(url):
        problems.add(
            where,
            f"cli_url {shown(url)} is not PORT, HOST:PORT, [IPv6]:PORT or http(s):// and one "
            "of them (a port from 1 to 65535)",
        )
    return url


def cli_url_is_valid(url: str) -> bool:
    """Whether the SDK's CopilotClient accepts ``url`` (it names no path, only a port)."""
    address = re.sub(r"^https?://", "", url)
    host, colon, port = address.rpartition(":")
    if not colon:
        host, port = "", address
    elif host.startswith("[") and host.endswith("]"):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return False
    elif not _HOST_NAME.fullmatch(host):
        return False
    return port.isascii() and port.isdigit() and len(port) <= 5 and 0 < int(port) <= 65535


def from_environment(
    value: Any, where: Where, environ: Mapping[str, str], problems: Problems
) -> Any:
    """``value`` with every ``${VAR}`` in its strings replaced from ``environ``."""
    if isinstance(value, dict):
        return {
            key: from_environment(item, (*where, key), environ, problems)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [
            from_environment(item, (*where, index), environ, problems)
            for index, item in enumerate(value)
        ]
    if not isinstance(value, str):
        return value

    def lookup(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in environ:
            problems.add(where, f"environment variable {name} is not set")
            return ""
        return environ[name]

    return _ENV_REFERENCE.sub(lookup, value)


def _secret_map(values: Mapping[str, Any], secrets: list[str]) -> dict[str, str]:
    """``{name: value | {value, secret}}`` → plain strings; secret ones go to ``secrets``."""
    plain: dict[str, str] = {}
    for name, entry in values.items():
        value, secret = (
            (entry, True)
            if isinstance(entry, str)
            else (
                entry["value"],
                entry.get("secret", True),
            )
        )
        plain[name] = value
        if secret and value:
            secrets.append(value)
    return plain


def provider_option(
    raw: Mapping[str, Any] | None,
    where: Where,
    environ: Mapping[str, str],
    problems: Problems,
    secrets: list[str],
) -> dict[str, Any] | None:
    """The SDK's ProviderConfig; api_key, bearer_token and secret headers go to ``secrets``."""
    if raw is None:
        return None
    provider = cast(dict[str, Any], from_environment(raw, where, environ, problems))
    secrets.extend(provider[name] for name in ("api_key", "bearer_token") if provider.get(name))
    if "headers" in provider:
        provider["headers"] = _secret_map(provider["headers"], secrets)
    return provider


def mcp_servers_option(
    raw: Mapping[str, Any] | None,
    where: Where,
    job_folder: Path,
    environ: Mapping[str, str],
    problems: Problems,
    secrets: list[str],
) -> dict[str, dict[str, Any]] | None:
    """The SDK's MCP server configs, by name, with every tool offered unless listed."""
    if raw is None:
        return None
    servers = cast(dict[str, dict[str, Any]], from_environment(raw, where, environ, problems))
    for name, server in servers.items():
        server.setdefault("tools", ["*"])
        for key in ("env", "headers"):
            if key in server:
                server[key] = _secret_map(server[key], secrets)
        if "working_directory" in server:
            directory = job_folder / server["working_directory"]
            try:
                directory = files.directory(directory)
            except ValueError as reason:
                problems.add((*where, name, "working_directory"), f"{directory} {reason}")
            server["working_directory"] = str(directory)
    return servers


def permission_policy(
    raw: str | Mapping[str, Any] | None, where: Where, problems: Problems
) -> PermissionPolicy:
    """The task's policy; deny-all when the job file says nothing."""
    if raw is None:
        return PermissionPolicy.from_shorthand("deny-all")
    if isinstance(raw, str):
        return PermissionPolicy.from_shorthand(raw)
    rules: list[PermissionRule] = []
    for index, rule in enumerate(raw.get("rules", [])):
        kind = rule["kind"]
        allowed = RULE_FIELDS[kind]
        for key in _PATTERN_FIELDS:
            if key in rule and key not in allowed:
                fits = ", ".join(allowed) if allowed else "no pattern list"
                problems.add(
                    (*where, "rules", index, key),
                    f"a {kind!r} rule has no {key!r}; it takes {fits}",
                    of_key=True,
                )
        if "feedback" in rule and rule["action"] != "deny":
            problems.add(
                (*where, "rules", index, "feedback"),
                "only a deny rule has feedback: it is what the agent is told on denial",
                of_key=True,
            )
        rules.append(
            PermissionRule(
                name=f"rules[{index}]",
                kind=kind,
                action=cast(PermissionAction, rule["action"]),
                **{key: tuple(rule[key]) for key in allowed if key in rule},
                feedback=rule.get("feedback"),
            )
        )
    return PermissionPolicy(
        default=cast(PermissionAction, raw.get("default", "deny")), rules=tuple(rules)
    )


def skills_option(
    raw: Mapping[str, Any] | None, where: Where, job_folder: Path, problems: Problems
) -> tuple[tuple[Path, ...], tuple[str, ...]]:
    """Skill directories (resolved, each checked) and the names of disabled skills."""
    if raw is None:
        return (), ()
    directories: list[Path] = []
    for index, entry in enumerate(raw.get("directories", [])):
        directory = job_folder / entry
        try:
            directory = files.directory(directory)
            discover_skills(directory)
        except SkillError as exc:
            problems.add((*where, "directories", index), str(exc))
        except ValueError as reason:
            problems.add((*where, "directories", index), f"skills directory {directory} {reason}")
        directories.append(directory)
    return tuple(directories), tuple(raw.get("disabled", []))


def output_schema_option(
    raw: Mapping[str, Any] | str | None, where: Where, job_folder: Path, problems: Problems
) -> dict[str, Any] | None:
    """The JSON Schema a task's answer must match: inline, or read from a JSON/YAML file."""
    if raw is None:
        return None
    schema: Any = raw
    if isinstance(raw, str):
        path = job_folder / raw
        try:
            schema = files.read_data(path).data
        except ValueError as reason:
            problems.add(where, f"output schema {path} {reason}")
            return None
    if not isinstance(schema, dict):
        problems.add(where, "an output schema must be a JSON Schema object")
        return None
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        at = "".join(f"[{shown(part, 40)}]" for part in exc.absolute_path)
        problems.add(where, f"not a valid JSON Schema: {exc.message[:200]} (at schema{at})")
        return None
    return cast(dict[str, Any], schema)


def workspace_exclude_option(
    patterns: Sequence[str] | None, where: Where, problems: Problems
) -> tuple[str, ...]:
    """Gitignore patterns a ``copy`` workspace leaves out, each checked to be one git would
    accept (a bad one is reported)."""
    for index, pattern in enumerate(patterns or ()):
        try:
            GitIgnoreSpec.from_lines([pattern])
        except (ValueError, re.error) as exc:
            problems.add((*where, index), f"not a gitignore pattern: {exc}")
    return tuple(patterns or ())


def workspace_option(
    mode: str | None, where: Where, working_directory: Path, problems: Problems
) -> WorkspaceMode:
    """The workspace mode; git-worktree needs the working directory inside a git repository
    (asked of ``git rev-parse``: the one process loading a job file starts)."""
    if mode == "git-worktree" and working_directory.is_dir():
        found = subprocess.run(
            ["git", "-C", str(working_directory), "rev-parse", "--show-toplevel"],
            capture_output=True,
            text=True,
            check=False,
        )
        if found.returncode != 0:
            problems.add(
                where,
                f"workspace git-worktree needs a git repository; {working_directory} is not in one",
            )
    return cast(WorkspaceMode, mode or "shared")


def tool_filter(
    names: Sequence[str] | None,
    where: Where,
    custom_names: Iterable[str],
    mcp_servers: Iterable[str],
    problems: Problems,
) -> tuple[str, ...] | None:
    """An allow- or denylist of tool names, each a built-in, custom or MCP server tool, or
    a ToolSet selector (``builtin:bash``, ``mcp:*``)."""
    if names is None:
        return None
    custom_names, mcp_servers = list(custom_names), list(mcp_servers)
    known = [*BUILTIN_TOOLS, *custom_names]
    mcp_prefixes = tuple(f"{server}-" for server in mcp_servers)
    for index, name in enumerate(names):
        if is_selector(name):
            problem = selector_problem(name, BUILTIN_TOOLS, custom_names, mcp_servers)
            if problem is not None:
                problems.add((*where, index), problem)
            continue
        if name in known or name.startswith(mcp_prefixes):
            continue
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"did you mean {close[0]!r}?" if close else "known: " + ", ".join(known)
        if name == "*":
            hint = "there is no bare '*': builtin:*, custom:* or mcp:*"
        problems.add((*where, index), f"unknown tool {name!r} ({hint})")
    return tuple(names)

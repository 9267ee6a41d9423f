"""The permission policy's decisions, as pure functions of a request and a working directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from copilot_batch.jobfile.model import PermissionPolicy, PermissionRule
from copilot_batch.runtime.permissions import (
    OUTSIDE_WORKING_DIRECTORY,
    PermissionTarget,
    decide,
)


def rule(index: int, kind: str, action: str = "allow", **patterns: list[str]) -> PermissionRule:
    return PermissionRule(
        name=f"rules[{index}]",
        kind=kind,
        action=action,  # type: ignore[arg-type]
        **{key: tuple(values) for key, values in patterns.items()},
    )


POLICY = PermissionPolicy(
    default="deny",
    rules=(
        rule(0, "read"),
        rule(1, "write", "deny", paths=["docs/secret/**"]),
        rule(2, "write", paths=["docs/**", "**/*.py"]),
        rule(3, "shell", commands=["git diff*", "pytest*"]),
        rule(4, "url", hosts=["docs.python.org", "*.example.com"]),
        rule(5, "custom-tool", tools=["sql_query"]),
        rule(6, "mcp", servers=["echo"], tools=["echo"]),
    ),
)


@pytest.fixture
def work(tmp_path: Path) -> Path:
    (tmp_path / "work" / "docs").mkdir(parents=True)
    (tmp_path / "outside.txt").write_text("x")
    return tmp_path / "work"


def path_target(kind: str, path: str) -> PermissionTarget:
    return PermissionTarget(kind, path, path=path)


@pytest.mark.parametrize(
    ("kind", "path", "action", "rule_name"),
    [
        ("read", "notes.txt", "allow", "rules[0]"),
        ("read", "docs/deep/a.md", "allow", "rules[0]"),
        ("write", "docs/guide.md", "allow", "rules[2]"),
        ("write", "docs/secret/key.md", "deny", "rules[1]"),
        ("write", "pkg/mod.py", "allow", "rules[2]"),
        ("write", "setup.cfg", "deny", "default"),
        ("write", "../outside.txt", "deny", OUTSIDE_WORKING_DIRECTORY),
        ("read", "../outside.txt", "deny", OUTSIDE_WORKING_DIRECTORY),
        ("read", "docs/../../outside.txt", "deny", OUTSIDE_WORKING_DIRECTORY),
        ("read", "/etc/passwd", "deny", OUTSIDE_WORKING_DIRECTORY),
    ],
)
def test_paths_resolve_against_the_working_directory(
    work: Path, kind: str, path: str, action: str, rule_name: str
) -> None:
    decision = decide(POLICY, path_target(kind, path), work)
    assert (decision.action, decision.rule) == (action, rule_name)


def test_a_rule_naming_an_absolute_path_allows_it_outside(work: Path) -> None:
    outside = str((work.parent / "outside.txt").resolve())
    policy = PermissionPolicy(rules=(rule(0, "read", paths=[outside]),))
    named = decide(policy, path_target("read", "../outside.txt"), work)
    other = decide(policy, path_target("read", "/etc/passwd"), work)
    assert (named.action, named.rule) == ("allow", "rules[0]")
    assert (other.action, other.rule) == ("deny", OUTSIDE_WORKING_DIRECTORY)


def test_absolute_path_inside_the_working_directory_matches_relative_globs(work: Path) -> None:
    decision = decide(POLICY, path_target("write", str(work / "docs" / "a.md")), work)
    assert (decision.action, decision.rule) == ("allow", "rules[2]")
    assert decision.resolved_path == str((work / "docs" / "a.md").resolve())


def test_a_symlink_out_of_the_working_directory_is_outside(work: Path) -> None:
    (work / "docs" / "link.md").symlink_to(work.parent / "outside.txt")
    decision = decide(POLICY, path_target("write", "docs/link.md"), work)
    assert (decision.action, decision.rule) == ("deny", OUTSIDE_WORKING_DIRECTORY)
    assert decision.resolved_path == str((work.parent / "outside.txt").resolve())


def test_outside_paths_are_refused_even_when_the_default_allows(work: Path) -> None:
    approve_all = PermissionPolicy.from_shorthand("approve-all")
    inside = decide(approve_all, path_target("write", "a.txt"), work)
    outside = decide(approve_all, path_target("write", "/tmp/elsewhere.txt"), work)
    assert (inside.action, inside.rule) == ("allow", "approve-all")
    assert (outside.action, outside.rule) == ("deny", OUTSIDE_WORKING_DIRECTORY)


@pytest.mark.parametrize(
    ("segments", "action"),
    [
        (["git diff --stat"], "allow"),
        (["pytest -q", "git diff"], "allow"),
        (["git diff", "rm -rf /"], "deny"),
        (["git status"], "deny"),
    ],
)
def test_a_shell_request_needs_every_segment_to_match(
    work: Path, segments: list[str], action: str
) -> None:
    target = PermissionTarget("shell", " && ".join(segments), segments=tuple(segments))
    assert decide(POLICY, target, work).action == action


@pytest.mark.parametrize(
    ("host", "action"),
    [("docs.python.org", "allow"), ("api.example.com", "allow"), ("evil.org", "deny")],
)
def test_url_rules_match_hosts(work: Path, host: str, action: str) -> None:
    target = PermissionTarget("url", f"https://{host}/x", host=host)
    assert decide(POLICY, target, work).action == action


def test_tool_rules_match_tool_and_server_names(work: Path) -> None:
    allowed = decide(POLICY, PermissionTarget("custom-tool", "sql_query", tool="sql_query"), work)
    other = decide(POLICY, PermissionTarget("custom-tool", "drop_db", tool="drop_db"), work)
    mcp = decide(POLICY, PermissionTarget("mcp", "echo/echo", tool="echo", server="echo"), work)
    other_server = decide(
        POLICY, PermissionTarget("mcp", "fs/echo", tool="echo", server="fs"), work
    )
    assert (allowed.action, allowed.rule) == ("allow", "rules[5]")
    assert (other.action, other.rule) == ("deny", "default")
    assert (mcp.action, mcp.rule) == ("allow", "rules[6]")
    assert other_server.action == "deny"
    # The CLI offers the model "<server>-<tool>"; a rule may use that name too.
    by_full_name = PermissionPolicy(rules=(rule(0, "mcp", tools=["echo-echo"]),))
    full = decide(by_full_name, PermissionTarget("mcp", "e", tool="echo", server="echo"), work)
    assert (full.action, full.rule) == ("allow", "rules[0]")


def test_first_matching_rule_wins_and_kinds_do_not_mix(work: Path) -> None:
    policy = PermissionPolicy(
        default="allow",
        rules=(rule(0, "memory", "deny"), rule(1, "memory"), rule(2, "shell", "deny")),
    )
    memory = decide(policy, PermissionTarget("memory", "fact"), work)
    url = decide(policy, PermissionTarget("url", "https://x.org", host="x.org"), work)
    assert (memory.action, memory.rule) == ("deny", "rules[0]")
    assert (url.action, url.rule) == ("allow", "default")

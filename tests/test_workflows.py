"""The example GitHub Actions workflows, checked by real workflow linters: GitHub's
workflow schema (check-jsonschema's bundled copy) and zizmor's audits, both offline."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

WORKFLOWS = sorted((Path(__file__).resolve().parents[1] / ".github" / "workflows").glob("*.yml"))
BIN = Path(sys.executable).parent


def test_there_are_the_two_example_workflows() -> None:
    assert [path.name for path in WORKFLOWS] == ["nightly-docs.yml", "review-repos.yml"]


@pytest.mark.parametrize(
    "command",
    [
        ["check-jsonschema", "--builtin-schema", "vendor.github-workflows"],
        ["zizmor", "--offline", "--no-progress"],
    ],
    ids=["github-schema", "zizmor"],
)
def test_workflows_pass_the_linter(command: list[str]) -> None:
    linted = subprocess.run(
        [str(BIN / command[0]), *command[1:], *map(str, WORKFLOWS)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert linted.returncode == 0, linted.stdout + linted.stderr

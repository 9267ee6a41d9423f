"""The pinned Copilot CLI version is written once in the package and once for npm."""

from __future__ import annotations

import json
from pathlib import Path

from copilot_batch.errors import CliNotFoundError
from copilot_batch.runtime.cli_binary import PINNED_CLI_VERSION, find_cli

REPOSITORY = Path(__file__).resolve().parents[2]


def test_package_json_pins_the_version_the_package_names() -> None:
    package = json.loads((REPOSITORY / "package.json").read_text(encoding="utf-8"))
    assert package["dependencies"]["@github/copilot"] == PINNED_CLI_VERSION


def test_a_missing_cli_names_the_pinned_version(tmp_path: Path) -> None:
    try:
        find_cli(str(tmp_path / "no-such-copilot"))
    except CliNotFoundError as error:
        assert f"@github/copilot@{PINNED_CLI_VERSION}" in str(error)
    else:
        raise AssertionError("a missing --cli-path was accepted")

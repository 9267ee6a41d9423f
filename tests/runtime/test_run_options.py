"""The options of a run, as the command line and the Python API give them."""

from __future__ import annotations

import click

from copilot_batch import RunOptions
from copilot_batch.cli import main


def test_the_command_line_and_the_python_api_default_to_the_same_concurrency() -> None:
    assert isinstance(main, click.Group)
    for command in ("run", "resume"):
        [option] = [p for p in main.commands[command].params if p.name == "concurrency"]
        assert option.default == RunOptions().concurrency == 8, command

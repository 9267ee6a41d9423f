"""The checks of option values: any text is accepted or refused with click's error."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from copilot_batch import cli_options
from copilot_batch.cli import main
from copilot_batch.run_folder.reader import NAME_PATTERN

REPOSITORY = Path(__file__).resolve().parents[1]
HOSTILE = st.one_of(
    st.text(),
    st.sampled_from(["", ".", "..", "../x", "/", "\0", "a" * 10_000, "٣٣", "８０", "1" * 5000]),
)


@given(HOSTILE)
def test_a_run_id_is_a_name_or_refused(text: str) -> None:
    try:
        accepted = cli_options.run_id(text)
    except click.BadParameter:
        return
    assert accepted == text
    assert os.sep not in text and "\0" not in text and text not in (".", "..")
    assert len(text.encode()) <= 128
    assert re.fullmatch(NAME_PATTERN, text)


@given(st.one_of(HOSTILE, st.from_regex(r"\A(https?://)?[a-z0-9.]{0,9}:[0-9]{1,6}\Z")))
def test_a_cli_url_is_an_address_or_refused(text: str) -> None:
    try:
        accepted = cli_options.cli_url(text)
    except click.BadParameter:
        return
    assert accepted == text
    port = text.rpartition(":")[2] if ":" in text.removeprefix("http://") else text
    assert port.isascii() and 1 <= int(port) <= 65535


@given(HOSTILE)
def test_a_host_is_printable_or_refused(text: str) -> None:
    try:
        cli_options.host(text)
    except click.BadParameter:
        return
    assert text and text.isprintable() and " " not in text


@given(HOSTILE.filter(lambda text: not text.startswith("/")))
def test_any_out_folder_gets_an_answer_and_nothing_is_made(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        problem = cli_options.writable_folder_problem(Path(folder) / "out" / text)
        assert problem is None or isinstance(problem, str)
        assert os.listdir(folder) == []


def test_an_out_folder_that_is_a_file_or_under_proc(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    assert (
        cli_options.writable_folder_problem(tmp_path / "file")
        == f"{tmp_path / 'file'} is not a folder"
    )
    assert cli_options.writable_folder_problem(tmp_path / "file" / "runs") is not None
    assert "cannot make folders in /proc" in str(
        cli_options.writable_folder_problem(Path("/proc/x"))
    )
    assert cli_options.writable_folder_problem(tmp_path / "new" / "runs") is None
    assert os.listdir(tmp_path) == ["file"]


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_numbers_must_be_finite(value: float) -> None:
    with pytest.raises(click.BadParameter):
        cli_options.finite(value)


def _a_count(text: str) -> bool:
    try:
        return int(text) >= 0
    except ValueError:
        return False


@given(st.one_of(HOSTILE, st.integers(max_value=-1).map(str), st.floats().map(str)))
def test_recycle_after_takes_a_count_of_sessions_or_exits_2(text: str) -> None:
    """What is not a whole number ≥ 0 is refused before anything runs, naming the option."""
    if _a_count(text) or "\0" in text:  # the OS refuses NUL in an argument before click
        return
    job = str(REPOSITORY / "jobs" / "hello-matrix.yaml")
    result = CliRunner().invoke(main, ["run", job, "--recycle-after", text])
    assert result.exit_code == 2, result.output
    assert "--recycle-after" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)

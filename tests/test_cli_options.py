"""The checks of option values: any text is accepted or refused with click's error."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import click
import pytest
from hypothesis import given
from hypothesis import strategies as st

from copilot_batch import cli_options
from copilot_batch.run_folder.reader import NAME_PATTERN

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

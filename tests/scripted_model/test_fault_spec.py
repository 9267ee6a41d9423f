"""`--fault` text as scripted-model faults: every field of Fault, and no input a traceback."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from hypothesis import assume, given
from hypothesis import strategies as st

from copilot_batch.cli import main
from copilot_batch.scripted_model import Fault, parse_fault
from copilot_batch.scripted_model.fault_spec import FAULT_KINDS


@pytest.mark.parametrize(
    ("text", "fault"),
    [
        ("rate_limit", Fault("rate_limit")),
        ("hang:times=all", Fault("hang", times=None)),
        ("server_error:times=3,after=2", Fault("server_error", times=3, after=2)),
        ("rate_limit:retry-after=0", Fault("rate_limit", retry_after=0)),
        ("disconnect:prompt=Review a, b=c", Fault("disconnect", prompt_contains="Review a, b=c")),
        (
            "malformed:after=1,times=2,prompt=x",
            Fault("malformed", prompt_contains="x", times=2, after=1),
        ),
    ],
)
def test_a_fault_is_read_field_by_field(text: str, fault: Fault) -> None:
    assert parse_fault(text) == fault


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "unknown fault kind ''"),
        ("ratelimit", "unknown fault kind 'ratelimit'"),
        ("hang:times=0", "times=0 is out of range"),
        ("hang:times=-1", "times='-1' is not a whole number"),
        ("hang:after=1.5", "after='1.5' is not a whole number"),
        ("hang:times=99999999999", "is not a whole number"),
        ("hang:retry-after=2", "retry-after is for rate_limit faults only"),
        ("rate_limit:retry-after=90000", "more than a day"),
        ("hang:times=1,times=2", "times is given twice"),
        ("hang:task-id", "'task-id' is not KEY=VALUE"),
        ("hang:speed=3", "unknown key 'speed'"),
        ("hang:prompt=", "prompt= needs the text"),
        ("hang:times=1,", "ends in a comma"),
    ],
)
def test_a_bad_fault_says_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_fault(text)
    assert problem in str(raised.value)


_PIECES = st.sampled_from(
    [*FAULT_KINDS, ":", ",", "=", "times", "after", "retry-after", "prompt", "all", "0", "7"]
)


@given(st.one_of(st.text(), st.lists(_PIECES | st.text(max_size=3)).map("".join)))
def test_no_text_makes_anything_but_a_fault_or_a_value_error(text: str) -> None:
    try:
        fault = parse_fault(text)
    except ValueError as error:
        assert str(error)
    else:
        assert fault.kind == text.partition(":")[0]


@given(st.text(max_size=40))
def test_a_bad_fault_option_is_a_usage_error_naming_it(text: str) -> None:
    try:
        parse_fault(text)
    except ValueError:
        pass
    else:
        assume(False)  # a good fault would start the server
    result = CliRunner().invoke(main, ["model-server", "--script", ".", "--fault", text])
    assert result.exit_code == 2
    assert "Invalid value for '--fault': " in result.stderr
    assert "Traceback" not in result.output + result.stderr


def test_model_server_refuses_a_bad_fault_naming_the_option() -> None:
    result = CliRunner().invoke(main, ["model-server", "--fault", "hang:times=0", "--script", "."])
    assert result.exit_code == 2
    assert "Invalid value for '--fault': times=0 is out of range" in result.stderr


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--barrier", "0"], "Invalid value for '--barrier'"),
        (["--root"], "requires an argument"),
        *((["--rate", rate], "Invalid value for '--rate'") for rate in ("0", "-1", "nan", "x")),
    ],
)
def test_model_server_refuses_a_bad_knob(options: list[str], message: str) -> None:
    result = CliRunner().invoke(main, ["model-server", "--script", ".", *options])
    assert result.exit_code == 2
    assert message in result.stderr

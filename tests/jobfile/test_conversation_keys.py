"""``steps:`` and ``attachments:`` read from job files: what a task gets, and each problem
at its FILE:LINE:COL."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from loading import load, problems

HEAD = "version: 1\ntasks:\n  - id: t\n    prompt: First.\n"


def files(folder: Path) -> None:
    (folder / "a.txt").write_text("one\ntwo\nthree\n")
    (folder / "d").mkdir(exist_ok=True)
    (folder / "pixel.png").write_bytes(b"\x89PNG")
    (folder / "step.txt").write_text("From a file, {{ 1 + 1 }}.")


def test_steps_and_attachments_load_rendered_with_absolute_paths(tmp_path: Path) -> None:
    files(tmp_path)
    [task] = load(
        tmp_path,
        "version: 1\nmatrix: {f: [a]}\ntasks:\n  - id: t-{{ f }}\n    prompt: First.\n"
        "    attachments: [{file: '{{ f }}.txt', lines: [2, 3]}, {directory: d}]\n"
        "    steps:\n"
        "      - {prompt: 'Then {{ f }}.', model: gpt-5, reasoning_effort: high, mode: plan,\n"
        "         timeout: 90s, output_schema: {type: object},\n"
        "         attachments: [{selection: a.txt, lines: [1, 2]}, {blob: pixel.png}]}\n"
        "      - prompt_file: step.txt\n",
    )
    file, folder = task.attachments
    assert (file.kind, file.path, file.lines) == ("file", tmp_path / "a.txt", (2, 3))
    assert (folder.kind, folder.path, folder.display_name) == ("directory", tmp_path / "d", "d")
    first, second = task.steps
    assert (first.prompt, first.model, first.reasoning_effort, first.mode) == (
        "Then a.",
        "gpt-5",
        "high",
        "plan",
    )
    assert (first.timeout_seconds, first.output_schema) == (90.0, {"type": "object"})
    selection, blob = first.attachments
    assert (selection.kind, selection.text) == ("selection", "one\ntwo")
    assert (blob.kind, blob.mime_type) == ("blob", "image/png")
    assert second.prompt == "From a file, 2."
    assert task.describe()["steps"][1] == {"prompt": "From a file, 2."}


def test_a_task_without_steps_describes_and_hashes_as_before(tmp_path: Path) -> None:
    [task] = load(tmp_path, HEAD)
    assert "steps" not in task.describe() and "attachments" not in task.describe()


def test_each_problem_is_reported_at_its_place(tmp_path: Path) -> None:
    files(tmp_path)
    found = problems(
        tmp_path,
        HEAD + "    attachments:\n"
        "      - {file: missing.txt}\n"
        "      - {file: a.txt, lines: [3, 9]}\n"
        "      - {directory: a.txt}\n"
        "      - {blob: step.bin}\n",
    )
    assert found == [
        "6:16: $.tasks[0].attachments[0].file: attachment 'missing.txt' "
        f"({tmp_path}/missing.txt) does not exist",
        "7:30: $.tasks[0].attachments[1].lines: lines [3, 9] are not a range of 'a.txt', "
        "which has 3 lines",
        f"8:21: $.tasks[0].attachments[2].directory: attachment 'a.txt' ({tmp_path}/a.txt) "
        "is a file, not a folder",
        f"9:16: $.tasks[0].attachments[3].blob: attachment 'step.bin' ({tmp_path}/step.bin) "
        "does not exist",
    ]
    found = problems(
        tmp_path,
        HEAD + "    steps:\n      - {prompt: Two., timeout: 0s}\n      - {prompt_file: none.txt}\n",
    )
    assert found == [
        "6:33: $.tasks[0].steps[0].timeout: invalid duration '0s': must be greater than zero",
        f"7:23: $.tasks[0].steps[1].prompt_file: prompt file {tmp_path}/none.txt does not exist",
    ]


def test_lines_need_a_file_and_a_selection_needs_lines(tmp_path: Path) -> None:
    files(tmp_path)
    found = problems(
        tmp_path,
        HEAD + "    attachments: [{directory: d, lines: [1, 1]}, {selection: a.txt}]\n",
    )
    assert len(found) == 2 and all("attachments[" in problem for problem in found)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    first=st.integers(min_value=1, max_value=6),
    last=st.integers(min_value=1, max_value=6),
)
def test_any_line_range_loads_or_is_refused_at_its_lines(
    tmp_path: Path, first: int, last: int
) -> None:
    files(tmp_path)
    text = HEAD + f"    attachments: [{{selection: a.txt, lines: {json.dumps([first, last])}}}]\n"
    if first <= last <= 3:
        [task] = load(tmp_path, text)
        [attachment] = task.attachments
        assert attachment.text == "\n".join(["one", "two", "three"][first - 1 : last])
    else:
        [problem] = problems(tmp_path, text)
        assert problem.startswith("5:45: $.tasks[0].attachments[0].lines:")

"""``model_capabilities`` read from job files (on a task, its defaults and a step), each
problem at its FILE:LINE:COL, and the SDK's form of it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from copilot.session import (
    ModelCapabilitiesOverride,
    ModelLimitsOverride,
    ModelSupportsOverride,
    ModelVisionLimitsOverride,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from loading import load, problems

from copilot_batch import JobFilesInvalid
from copilot_batch.jobfile.model_capabilities import sdk_capabilities

HEAD = "version: 1\ntasks:\n  - id: t\n    prompt: First.\n"
FULL = {
    "supports": {"vision": True, "reasoning_effort": False},
    "limits": {
        "max_prompt_tokens": 1000,
        "max_output_tokens": 500,
        "max_context_window_tokens": 2000,
        "vision": {
            "supported_media_types": ["image/png", "image/jpeg"],
            "max_prompt_images": 2,
            "max_prompt_image_size": 1024,
        },
    },
}


def test_a_task_and_its_steps_carry_their_capabilities(tmp_path: Path) -> None:
    [task] = load(
        tmp_path,
        "version: 1\ndefaults:\n  model_capabilities: {supports: {vision: false}}\n"
        "tasks:\n  - id: t\n    prompt: First.\n    steps:\n"
        "      - {prompt: Two., model_capabilities: {supports: {vision: true}}}\n"
        "      - {prompt: Three., model: gpt-5, model_capabilities: "
        + yaml.safe_dump(FULL, default_flow_style=True).strip()
        + "}\n"
        "      - {prompt: Four.}\n",
    )
    assert task.model_capabilities == {"supports": {"vision": False}}
    two, three, four = task.steps
    assert (two.model, two.model_capabilities) == (None, {"supports": {"vision": True}})
    assert (three.model, three.model_capabilities) == ("gpt-5", FULL)
    assert four.model_capabilities is None
    described = task.describe()
    assert described["model_capabilities"] == {"supports": {"vision": False}}
    assert described["steps"][1]["model_capabilities"] == FULL
    assert "model_capabilities" not in described["steps"][2]


def test_a_task_without_capabilities_describes_as_before(tmp_path: Path) -> None:
    [task] = load(tmp_path, HEAD)
    assert task.model_capabilities is None
    assert "model_capabilities" not in task.describe()


def test_the_sdks_form_has_every_field_and_leaves_unset_ones_none() -> None:
    assert sdk_capabilities(FULL) == ModelCapabilitiesOverride(
        supports=ModelSupportsOverride(vision=True, reasoning_effort=False),
        limits=ModelLimitsOverride(
            max_prompt_tokens=1000,
            max_output_tokens=500,
            max_context_window_tokens=2000,
            vision=ModelVisionLimitsOverride(
                supported_media_types=["image/png", "image/jpeg"],
                max_prompt_images=2,
                max_prompt_image_size=1024,
            ),
        ),
    )
    assert sdk_capabilities({"supports": {"vision": False}}) == ModelCapabilitiesOverride(
        supports=ModelSupportsOverride(vision=False)
    )
    assert sdk_capabilities({"limits": {"max_output_tokens": 5}}) == ModelCapabilitiesOverride(
        limits=ModelLimitsOverride(max_output_tokens=5)
    )


def test_each_problem_is_reported_at_its_place(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        HEAD + "    model_capabilities: {supports: {vision: yes please}}\n"
        "    steps:\n"
        "      - {prompt: Three., model_capabilities: {supports: {vison: true}}}\n"
        "      - {prompt: Four., model_capabilities: {}}\n",
    )
    assert found == [
        "5:45: $.tasks[0].model_capabilities.supports.vision: must be a boolean, not a string",
        "7:58: $.tasks[0].steps[0].model_capabilities.supports.vison: unknown key 'vison' "
        "(did you mean 'vision'?)",
        "8:45: $.tasks[0].steps[1].model_capabilities: {} should be non-empty",
    ]
    found = problems(
        tmp_path,
        "version: 1\ndefaults:\n"
        "  model_capabilities: {limits: {max_output_tokens: 9, max_context_window_tokens: 8}}\n"
        "tasks:\n  - id: t\n    prompt: First.\n",
    )
    assert found == [
        "3:52: $.defaults.model_capabilities.limits.max_output_tokens: max_output_tokens (9) "
        "exceeds max_context_window_tokens (8)"
    ]
    found = problems(
        tmp_path,
        HEAD + "    steps:\n      - prompt: Two.\n        model_capabilities:\n"
        "          limits: {max_prompt_tokens: 900, max_context_window_tokens: 800}\n",
    )
    assert found == [
        "8:39: $.tasks[0].steps[0].model_capabilities.limits.max_prompt_tokens: "
        "max_prompt_tokens (900) exceeds max_context_window_tokens (800)"
    ]


values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.text(max_size=5),
    st.lists(st.text(max_size=3), max_size=2),
)
capabilities = st.dictionaries(
    st.sampled_from(["supports", "limits", "vision", "other"]),
    st.one_of(
        values,
        st.dictionaries(
            st.sampled_from(
                ["vision", "reasoning_effort", "max_prompt_tokens", "max_output_tokens",
                 "max_context_window_tokens", "supported_media_types", "max_prompt_images"]
            ),
            st.one_of(values, st.dictionaries(st.sampled_from(["max_prompt_images",
                                                               "supported_media_types"]),
                                              values, max_size=2)),
            max_size=3,
        ),
    ),
    max_size=3,
)  # fmt: skip


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=st.one_of(values, capabilities))
def test_any_capabilities_load_as_the_sdk_takes_them_or_are_refused_at_their_place(
    tmp_path: Path, raw: Any
) -> None:
    text = (
        HEAD
        + "    model_capabilities: "
        + yaml.safe_dump(raw, default_flow_style=True).strip().removesuffix("\n...")
        + "\n"
    )
    try:
        [task] = load(tmp_path, text)
    except JobFilesInvalid as invalid:
        assert all(".model_capabilities" in str(error) for error in invalid.errors)
        return
    assert task.model_capabilities is not None
    sdk_capabilities(task.model_capabilities)  # every loaded value makes the SDK's form

"""``model_capabilities``: what the runtime is told the model can do (the SDK's
``ModelCapabilitiesOverride``), on a task (the session's model) or a step (``set_model``).

The job file writes the SDK's fields in snake_case; the schema checks their shape, this
module what the schema cannot (limits that contradict each other) and makes the SDK's form.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .problems import Problems, Where

if TYPE_CHECKING:
    from copilot.session import (
        ModelCapabilitiesOverride,
        ModelLimitsOverride,
        ModelVisionLimitsOverride,
    )

# Limits that cannot exceed the context window, which holds prompt and answer.
_WITHIN_WINDOW = ("max_prompt_tokens", "max_output_tokens")


def capabilities_option(
    raw: Mapping[str, Any] | None, where: Where, problems: Problems
) -> Mapping[str, Any] | None:
    """Schema-valid ``model_capabilities`` as written; ``None`` when unset or contradictory
    (reported)."""
    if raw is None:
        return None
    limits = raw.get("limits", {})
    window = limits.get("max_context_window_tokens")
    failed = False
    for key in _WITHIN_WINDOW:
        if window is not None and limits.get(key, 0) > window:
            failed = True
            problems.add(
                (*where, "limits", key),
                f"{key} ({limits[key]}) exceeds max_context_window_tokens ({window})",
            )
    return None if failed else _plain(raw)


def sdk_capabilities(capabilities: Mapping[str, Any]) -> ModelCapabilitiesOverride:
    """The SDK's form of a job file's ``model_capabilities``."""
    # Imported here: validating a job file must not pay for the SDK's import; a run does.
    from copilot.session import ModelCapabilitiesOverride, ModelSupportsOverride

    supports = capabilities.get("supports")
    return ModelCapabilitiesOverride(
        supports=ModelSupportsOverride(**supports) if supports is not None else None,
        limits=_limits(capabilities.get("limits")),
    )


def _limits(limits: Mapping[str, Any] | None) -> ModelLimitsOverride | None:
    from copilot.session import ModelLimitsOverride  # only a run needs it (see above)

    if limits is None:
        return None
    return ModelLimitsOverride(**{**limits, "vision": _vision(limits.get("vision"))})


def _vision(vision: Mapping[str, Any] | None) -> ModelVisionLimitsOverride | None:
    from copilot.session import ModelVisionLimitsOverride  # only a run needs it

    if vision is None:
        return None
    types = vision.get("supported_media_types")
    listed = list(types) if types is not None else None
    return ModelVisionLimitsOverride(**{**vision, "supported_media_types": listed})


def _plain(value: Any) -> Any:
    """A JSON-ready copy of YAML data (plain dicts and lists), for describe() and hashing."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value

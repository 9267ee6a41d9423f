"""``hooks`` entries → the functions the SDK calls as session hooks.

An entry names ``package.module:function``, a hook function called with the hook's input
and the invocation (``{"session_id": …}``), or ``{use: package.module:factory, with:
{options}}``, a factory called with the options (and ``working_directory`` and ``task_id``
when it has parameters of those names) that returns the hook function. Either is imported,
and every factory called, when the job file is loaded; a function that cannot take the two
arguments is refused there. A function may carry ``secrets`` (strings): they are masked in
everything the run writes, as provider keys are.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..errors import HookImportError, ToolImportError
from .custom_tools import import_attribute

# The job file's hook names, in the order the SDK documents them.
HOOK_KINDS = (
    "pre_tool_use",
    "post_tool_use",
    "post_tool_use_failure",
    "user_prompt_submitted",
    "session_start",
    "session_end",
    "error_occurred",
    "agent_stop",
)


def imported(import_path: str, job_folder: Path) -> Any:
    """The object at ``module:attribute``, imported as ``tools.custom`` entries are."""
    try:
        return import_attribute(import_path, job_folder)
    except ToolImportError as exc:
        raise HookImportError(str(exc)) from None


def hook_function(
    value: Any,
    import_path: str,
    options: Mapping[str, Any] | None,
    context: Mapping[str, Any],
) -> Callable[..., Any]:
    """The hook function ``value`` (an imported attribute) stands for: itself, or what the
    factory returns when the entry has ``with`` options. ``context`` holds what a factory
    may ask for by parameter name (``working_directory``, ``task_id``)."""
    if not callable(value):
        raise HookImportError(f"{import_path!r} is not a function (it is {type(value).__name__})")
    if options is None:
        return _checked(value, repr(import_path))
    parameters = _parameters(value)
    arguments = {**options, **{key: item for key, item in context.items() if key in parameters}}
    try:
        made = value(**arguments)
    except (TypeError, ValueError) as exc:
        raise HookImportError(f"hook factory {import_path!r}: {str(exc)[:300]}") from None
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # a factory may raise anything, SystemExit too
        raise HookImportError(
            f"hook factory {import_path!r} raised {type(exc).__name__}: {str(exc)[:300]}"
        ) from None
    if not callable(made):
        raise HookImportError(
            f"hook factory {import_path!r} returned {type(made).__name__}, not a function"
        )
    return _checked(made, f"the function {import_path!r} returned")


def hook_secrets(function: Callable[..., Any]) -> tuple[str, ...]:
    """The values a hook function says must never be written (its ``secrets``)."""
    secrets = getattr(function, "secrets", ())
    if isinstance(secrets, list | tuple) and all(isinstance(item, str) for item in secrets):
        return tuple(secrets)
    return ()


def _parameters(function: Callable[..., Any]) -> Mapping[str, inspect.Parameter]:
    try:
        return inspect.signature(function).parameters
    except (TypeError, ValueError):
        return {}


def _checked(function: Callable[..., Any], named: str) -> Callable[..., Any]:
    """``function``, if it can be called with a hook's input and invocation."""
    try:
        inspect.signature(function).bind(None, None)
    except TypeError:
        raise HookImportError(
            f"{named} cannot be called as a hook: it must take two arguments, the hook's "
            "input and the invocation (pass options with {use: ..., with: ...})"
        ) from None
    except ValueError:
        pass  # no signature to read (a builtin): called as it is
    return function

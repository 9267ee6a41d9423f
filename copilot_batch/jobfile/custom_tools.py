"""``tools.custom`` entries → SDK tools: import, and call factories with their options.

An entry names ``package.module:attribute``. The attribute is a tool made with
``copilot.define_tool``, a list of them, or a *factory*: a function returning either,
called with the entry's ``with`` options and, if it has a parameter of that name,
``working_directory`` (the task's, absolute). A factory raises ``ValueError`` for bad
options; the message is reported at the entry in the job file. Whatever else a module or a
factory raises (``SystemExit`` too; only ``KeyboardInterrupt`` passes) is reported there.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ToolImportError
from .located_yaml import shown

if TYPE_CHECKING:
    from copilot import Tool


def import_attribute(import_path: str, job_folder: Path) -> Any:
    """The object at ``module:attribute``. The job file's folder is first on ``sys.path``
    while the module is imported, and taken off again: a job file's own tools beside it
    are found, and nothing stays changed for later imports."""
    module_name, attribute = import_path.split(":", 1)
    _forget_if_shadowed(module_name, job_folder)
    sys.path.insert(0, str(job_folder))
    try:
        module = importlib.import_module(module_name)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # a module may raise anything at import, SystemExit too
        raise ToolImportError(f"cannot import module {shown(module_name)}: {_named(exc)}") from None
    finally:
        sys.path.remove(str(job_folder))
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise ToolImportError(
            f"module {shown(module_name)} has no attribute {shown(attribute)}"
        ) from None
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # a module's __getattr__ may raise anything
        raise ToolImportError(
            f"module {shown(module_name)}: {shown(attribute)}: {_named(exc)}"
        ) from None


def _forget_if_shadowed(module_name: str, job_folder: Path) -> None:
    """Drop an imported module of this name from elsewhere when the job folder has its own.

    Two job files may each keep a ``tools.py`` beside them; each must get its own.
    """
    top = module_name.split(".", 1)[0]
    here = [job_folder / top / "__init__.py", job_folder / f"{top}.py"]
    # os.path.isfile, not Path.is_file: a name too long for the file system is just absent.
    local = next((path.resolve() for path in here if os.path.isfile(path)), None)
    cached = sys.modules.get(top)
    if local is None or cached is None:
        return
    cached_file = getattr(cached, "__file__", None)
    if cached_file is None or Path(cached_file).resolve() != local:
        for name in [name for name in sys.modules if name == top or name.startswith(top + ".")]:
            del sys.modules[name]


def tools_from(
    value: Any,
    import_path: str,
    options: Mapping[str, Any] | None,
    working_directory: Path,
) -> tuple[Tool, ...]:
    """The tools ``value`` (an imported attribute) stands for, calling it if a factory."""
    if _is_tools(value):
        if options is not None:
            raise ToolImportError(f"{import_path!r} is a tool, not a factory; it takes no 'with'")
        return _as_tuple(value)
    if not callable(value):
        raise ToolImportError(
            f"{import_path!r} is not a tool made with copilot.define_tool "
            f"(it is {type(value).__name__})"
        )
    arguments = dict(options or {})
    try:
        parameters = inspect.signature(value).parameters
    except (TypeError, ValueError):
        parameters = {}  # type: ignore[assignment]
    if "working_directory" in parameters:
        arguments["working_directory"] = working_directory
    try:
        made = value(**arguments)
    except (TypeError, ValueError) as exc:
        if options is None:
            raise ToolImportError(
                f"{import_path!r} is neither a tool made with copilot.define_tool nor a tool "
                f"factory: calling it raised {_named(exc)}"
            ) from None
        raise ToolImportError(f"tool factory {import_path!r}: {str(exc)[:300]}") from None
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # a factory may raise anything, SystemExit too
        raise ToolImportError(f"tool factory {import_path!r} raised {_named(exc)}") from None
    if not _is_tools(made):
        raise ToolImportError(
            f"tool factory {import_path!r} returned {type(made).__name__}, "
            "not a tool made with copilot.define_tool"
        )
    return _as_tuple(made)


def _named(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc)[:300]}"


def _is_tools(value: Any) -> bool:
    # The SDK is imported here, not at the top: only job files naming custom tools need it.
    from copilot import Tool

    if isinstance(value, Tool):
        return True
    return (
        isinstance(value, list | tuple)
        and bool(value)
        and all(isinstance(item, Tool) for item in value)
    )


def _as_tuple(value: Tool | list[Tool] | tuple[Tool, ...]) -> tuple[Tool, ...]:
    return tuple(value) if isinstance(value, list | tuple) else (value,)

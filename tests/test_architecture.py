"""The package's layers, as docs/architecture.md draws them: no unit imports one above it,
and the command line imports each subpackage only through its ``__init__``."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "copilot_batch"

# What each unit may import from (besides itself); a unit is a subpackage or a top-level
# module. The shared top-level modules at the bottom import only each other.
SHARED = {"errors", "redact", "files", "git", "bugs", "tools", "hooks", "lazy"}
ALLOWED = {
    "__init__": {"errors", "jobfile", "records", "runtime"},
    "__main__": {"cli"},
    "cli": {
        "cli_options",
        "terminal",
        "runtime",
        "scripted_model",
        "run_folder",
        "records",
        "jobfile",
    },
    "cli_options": {"run_folder", "jobfile"},
    "testing": {"__init__", "runtime", "run_folder", "scripted_model"},
    "terminal": {"run_folder", "records", "jobfile"},
    "runtime": {"run_folder", "records", "jobfile", "scripted_model"},
    "run_folder": {"records", "jobfile"},
    "records": {"jobfile"},
    "jobfile": set(),
    "scripted_model": set(),
    **{name: set() for name in SHARED},
}


def _unit(module: str) -> str:
    parts = module.split(".")
    return "__init__" if len(parts) == 1 else parts[1]


def _imports(path: Path) -> Iterator[tuple[str, str]]:
    """(the module imported from, its name) for every copilot_batch import in ``path``."""
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(relative.parts)
    package = parts[:-1]  # a module's package, or the package an __init__ opens
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - node.level + 1]
            module = ".".join([*base, *([node.module] if node.module else [])])
            for alias in node.names:
                yield module, alias.name
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("copilot_batch"):
            for alias in node.names:
                yield node.module or "", alias.name


def _target(module: str, name: str) -> str:
    """The module an import reaches: ``from . import files`` reaches ``….files``."""
    candidate = PACKAGE.parent / Path(*f"{module}.{name}".split("."))
    return f"{module}.{name}" if candidate.with_suffix(".py").exists() else module


def test_no_unit_imports_one_above_it() -> None:
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = _unit(".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts))
        if path.parent == PACKAGE:
            source = path.stem
        for module, name in _imports(path):
            target = _unit(_target(module, name))
            allowed = ALLOWED[source] | SHARED
            if target != source and target not in allowed:
                upward.append(f"{path.relative_to(PACKAGE)} imports {module}.{name}")
    assert upward == []


def test_the_command_line_imports_subpackages_through_their_init_only() -> None:
    reaching_in = [
        f"{path.name} imports {module}"
        for path in (PACKAGE / "cli.py", PACKAGE / "cli_options.py")
        for module, name in _imports(path)
        if (PACKAGE / _unit(_target(module, name))).is_dir() and module.count(".") > 1
    ]
    assert reaching_in == []

"""Finding the Copilot CLI binary. copilot-batch never lets the SDK download one."""

from __future__ import annotations

import os
import platform
import shutil
from collections.abc import Mapping
from pathlib import Path

from ..errors import CliNotFoundError

# The Copilot CLI copilot-batch is built and tested against (package.json pins the same).
PINNED_CLI_VERSION = "1.0.102"
# The repository checkout that holds package.json (when installed from source).
_REPOSITORY = Path(__file__).resolve().parents[2]


def platform_package() -> str:
    """The npm package that carries the CLI binary for this machine, e.g. copilot-linux-x64."""
    system = {"Linux": "linux", "Darwin": "darwin", "Windows": "win32"}.get(platform.system(), "")
    machine = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine().lower(), platform.machine().lower()
    )
    return f"copilot-{system}-{machine}"


def find_cli(explicit: str | None = None, environ: Mapping[str, str] | None = None) -> Path:
    """The Copilot CLI to run: --cli-path, then COPILOT_CLI_PATH, node_modules, then PATH.

    An explicit path or COPILOT_CLI_PATH that does not exist is an error rather than a
    reason to look elsewhere: the user asked for that binary.
    """
    environ = os.environ if environ is None else environ
    for source, value in (
        ("--cli-path", explicit),
        ("COPILOT_CLI_PATH", environ.get("COPILOT_CLI_PATH")),
    ):
        if value:
            path = Path(value).expanduser()
            if path.is_file() and os.access(path, os.X_OK):
                return path.resolve()
            raise CliNotFoundError(
                [f"{source}={value} (not an executable file)"], PINNED_CLI_VERSION
            )

    searched = []
    binary = "copilot.exe" if platform.system() == "Windows" else "copilot"
    for root in dict.fromkeys((_REPOSITORY, Path.cwd())):
        candidate = root / "node_modules" / "@github" / platform_package() / binary
        searched.append(str(candidate))
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    on_path = shutil.which("copilot", path=environ.get("PATH"))
    searched.append("`copilot` on PATH")
    if on_path:
        return Path(on_path)
    raise CliNotFoundError(searched, PINNED_CLI_VERSION)

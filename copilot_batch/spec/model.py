"""The validated, expanded form of job files: what the runtime consumes."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from copilot import Tool

PermissionMode = Literal["approve-all", "deny-all"]

# Provider fields whose values are credentials.
SECRET_PROVIDER_FIELDS = ("api_key", "bearer_token")

DEFAULT_TIMEOUT_SECONDS = 30 * 60.0


@dataclass(frozen=True)
class SourcePosition:
    """Where a value came from, for error messages (1-based line and column)."""

    path: Path
    line: int
    column: int
    json_path: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


@dataclass(frozen=True)
class CustomToolRef:
    """A custom tool import path and the SDK tools it resolved to at load time."""

    import_path: str
    tools: tuple[Tool, ...] = field(compare=False, repr=False)


@dataclass(frozen=True)
class TaskSpec:
    """One expanded task: everything needed to run one session, nothing shared."""

    id: str
    job_name: str
    job_file: Path
    position: SourcePosition
    prompt: str
    matrix_values: Mapping[str, Any]
    working_directory: Path
    timeout_seconds: float
    permissions: PermissionMode
    streaming: bool
    model: str | None = None
    provider: Mapping[str, Any] | None = None
    system_message: Mapping[str, str] | None = None
    custom_tools: tuple[CustomToolRef, ...] = ()

    def secrets(self) -> tuple[str, ...]:
        """Credential values this task carries; they must never be written anywhere."""
        if self.provider is None:
            return ()
        values = [self.provider[name] for name in SECRET_PROVIDER_FIELDS if self.provider.get(name)]
        values.extend(self.provider.get("headers", {}).values())
        return tuple(values)

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description of the task, with credentials replaced by ``***``."""
        return {
            "id": self.id,
            "job": self.job_name,
            "job_file": str(self.job_file),
            "prompt": self.prompt,
            "matrix": dict(self.matrix_values),
            "model": self.model,
            "provider": redact_provider(self.provider),
            "system_message": dict(self.system_message) if self.system_message else None,
            "working_directory": str(self.working_directory),
            "timeout_seconds": self.timeout_seconds,
            "permissions": self.permissions,
            "streaming": self.streaming,
            "custom_tools": [ref.import_path for ref in self.custom_tools],
        }

    def spec_hash(self) -> str:
        """A stable hash of what the task would do; changes when its expanded spec changes."""
        canonical = json.dumps(self.describe(), sort_keys=True, separators=(",", ":"))
        # describe() redacts credentials; mix in their digest so a new key counts as a change.
        secrets_digest = hashlib.sha256("\0".join(self.secrets()).encode()).hexdigest()
        return hashlib.sha256((canonical + secrets_digest).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class JobSpec:
    """One job file after validation and expansion."""

    name: str
    path: Path
    sha256: str
    description: str | None
    tasks: tuple[TaskSpec, ...]


def redact_provider(provider: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The provider block with every credential replaced by ``***``."""
    if provider is None:
        return None
    redacted = dict(provider)
    for name in SECRET_PROVIDER_FIELDS:
        if name in redacted:
            redacted[name] = "***"
    if "headers" in redacted:
        redacted["headers"] = {key: "***" for key in redacted["headers"]}
    return redacted

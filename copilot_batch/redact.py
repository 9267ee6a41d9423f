"""Keeping credentials out of everything a run writes or prints."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

# What a secret value is written as.
MASK = "***"
# Tokens the Copilot CLI reads from the environment.
TOKEN_VARIABLES = ("COPILOT_GITHUB_TOKEN", "GH_TOKEN", "GITHUB_TOKEN")
# Also never written: the shared secret of a CLI server reached with --cli-url.
SECRET_VARIABLES = (*TOKEN_VARIABLES, "COPILOT_CONNECTION_TOKEN")

# Shorter values would match ordinary words; such secrets are still masked in their own
# fields (provider blocks are always written as ***), just not searched for in free text.
MIN_SECRET_LENGTH = 6


class Redactor:
    """Replaces every known secret value with ``***`` in text and JSON-like data."""

    def __init__(self, secrets: Iterable[str]) -> None:
        unique = {secret for secret in secrets if len(secret) >= MIN_SECRET_LENGTH}
        # Longest first, so a secret that contains another is masked whole.
        self._secrets = sorted(unique, key=len, reverse=True)

    @classmethod
    def for_run(
        cls, task_secrets: Iterable[str], environ: Mapping[str, str] | None = None
    ) -> Redactor:
        environ = os.environ if environ is None else environ
        tokens = (environ[name] for name in SECRET_VARIABLES if environ.get(name))
        return cls([*task_secrets, *tokens])

    def text(self, value: str) -> str:
        for secret in self._secrets:
            if secret in value:
                value = value.replace(secret, MASK)
        return value

    def data(self, value: Any) -> Any:
        """A copy of JSON-like ``value`` with secrets masked in every string, keys included."""
        if not self._secrets:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.data(key): self.data(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.data(item) for item in value]
        return value

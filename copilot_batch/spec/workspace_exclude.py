"""``workspace_exclude``: gitignore patterns a ``copy`` workspace leaves out, checked when
the job file is loaded."""

from __future__ import annotations

import re
from collections.abc import Sequence

from pathspec import GitIgnoreSpec

from .problems import Problems, Where


def workspace_exclude_option(
    patterns: Sequence[str] | None, where: Where, problems: Problems
) -> tuple[str, ...]:
    """The patterns, each checked to be one git would accept (a bad one is reported)."""
    for index, pattern in enumerate(patterns or ()):
        try:
            GitIgnoreSpec.from_lines([pattern])
        except (ValueError, re.error) as exc:
            problems.add((*where, index), f"not a gitignore pattern: {exc}")
    return tuple(patterns or ())

"""Writing messages as script YAML: what ``copilot-batch script`` prints and what a
no-match diagnosis offers to paste. :func:`.script.parse_script` reads it back to the
same normal form."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml

from .normalize import Message


class _Dumper(yaml.SafeDumper):
    """Multi-line text as ``|`` blocks, so prompts and file contents stay readable."""


# Line breaks YAML knows besides \n: a plain or block scalar would turn them into one.
_OTHER_BREAKS = ("\r", "\x85", "\u2028", "\u2029")


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    if any(mark in value for mark in _OTHER_BREAKS):
        style = '"'  # escaped, so they read back as written
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def _comment(line: str) -> str:
    """A comment line YAML reads: characters it rejects or breaks lines at, escaped."""
    return "# " + "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in line) + "\n"


_Dumper.add_representer(str, _text)


def _to_yaml(value: Any) -> str:
    return yaml.dump(value, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


def dump_messages(messages: Sequence[Message]) -> str:
    """``messages`` as a YAML list, ready to paste under a conversation's ``messages:``."""
    return _to_yaml([message.to_json() for message in messages])


def dump_script(
    messages: Sequence[Message], models: Sequence[str] = (), notes: Sequence[str] = ()
) -> str:
    """A script of one conversation, with each of ``notes`` as a comment at its top."""
    comments = "".join(_comment(line) for note in notes for line in note.split("\n"))
    body = {
        "models": list(models),
        "conversations": [{"messages": [m.to_json() for m in messages]}],
    }
    return comments + _to_yaml(body)

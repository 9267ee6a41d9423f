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


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


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
    comments = "".join(f"# {line}\n" for note in notes for line in note.splitlines())
    body = {
        "models": list(models),
        "conversations": [{"messages": [m.to_json() for m in messages]}],
    }
    return comments + _to_yaml(body)

"""Finding the scripted reply to a request, and explaining why there is none.

A request matches a conversation when its normalised messages are a strict prefix of the
conversation's and the next stored message is the assistant's: that message is the reply.
Scripts are tried in load order and conversations in file order; the first match wins.
When nothing matches, the diagnosis names the conversation that came closest and the
first message that differs, so a failing test says what the CLI sent that the script
did not expect, the message the script expected next (or, when the request goes on past
the script, the request's extra messages) as YAML to paste, and the request's last message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .dump import dump_messages
from .normalize import Message
from .script import RecordedError, Script

_SHOWN = 300  # characters of each differing message quoted in a diagnosis
_PASTED = 4000  # characters of YAML a diagnosis offers to paste


@dataclass(frozen=True)
class Match:
    """The reply found for a request: ``reply`` is message ``position`` of the conversation."""

    script: Path
    conversation: int
    position: int
    reply: Message


@dataclass(frozen=True)
class Difference:
    """The first message where a request and a conversation part, each as canonical JSON."""

    index: int
    role: str
    requested: str
    stored: str


@dataclass(frozen=True)
class Diagnosis:
    """Why no conversation matched; ``str()`` is the explanation sent back to the client.

    ``script``/``conversation`` name the conversation sharing the most leading messages
    with the request; ``difference`` is where they part, or ``note`` says why a request
    that agrees with it all along still has no reply. ``expected`` is the script's message
    after the shared ones, or the request's messages past the script's end (what to add);
    ``last`` is the request's last message.
    """

    request_length: int
    script: Path | None = None
    conversation: int | None = None
    matching: int = 0
    difference: Difference | None = None
    note: str = ""
    expected: tuple[Message, ...] = ()
    last: Message | None = None

    def __str__(self) -> str:
        return self._explanation() + self._yaml()

    def _yaml(self) -> str:
        parts = []
        if self.expected:
            parts.append(f"\n\n{self._expected_label()} (YAML):\n{_cut(self.expected)}")
        if self.last is not None:
            parts.append(f"\n\nthe request's last message:\n{_cut((self.last,))}")
        return "".join(parts)

    def _expected_label(self) -> str:
        if self.difference is None and self.expected and self.expected[0].role != "assistant":
            return "to add at the conversation's end, then an assistant reply"
        return "the script expected next"

    def _explanation(self) -> str:
        head = f"no scripted reply for this request ({self.request_length} normalised messages)"
        if self.script is None:
            return f"{head}; no script has a conversation"
        closest = (
            f"closest: {self.script} conversation {self.conversation} "
            f"({self.matching} leading messages match)"
        )
        found = self.difference
        if found is None:
            return f"{head}; {closest}; {self.note}"
        return (
            f"{head}; {closest}; first difference at message {found.index} ({found.role}): "
            f"request {found.requested} vs script {found.stored}"
        )


def _leading_matches(request: Sequence[str], stored: Sequence[Message]) -> int:
    count = 0
    for requested, message in zip(request, stored, strict=False):
        if requested != message.canonical():
            break
        count += 1
    return count


def _cut(messages: Sequence[Message]) -> str:
    text = dump_messages(messages).rstrip("\n")
    return text if len(text) <= _PASTED else text[:_PASTED] + "… (cut)"


def _shorten(text: str) -> str:
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


def find_reply(scripts: Sequence[Script], request: Sequence[Message]) -> Match | Diagnosis:
    """The first stored reply for ``request`` (normalised), or why there is none."""
    canonical = [message.canonical() for message in request]
    closest: tuple[int, Script, int] | None = None
    for script in scripts:
        for conversation in script.conversations:
            stored = conversation.messages
            matching = _leading_matches(canonical, stored)
            if matching == len(request) < len(stored) and stored[matching].role == "assistant":
                return Match(script.path, conversation.index, matching, stored[matching])
            if closest is None or matching > closest[0]:
                closest = (matching, script, conversation.index)
    if closest is None:
        return Diagnosis(request_length=len(request), last=request[-1] if request else None)
    matching, script, index = closest
    last = request[-1] if request else None
    stored = script.conversations[index].messages
    if matching < len(request) and matching < len(stored):
        difference = Difference(
            index=matching,
            role=request[matching].role,
            requested=_shorten(canonical[matching]),
            stored=_shorten(stored[matching].canonical()),
        )
        return Diagnosis(
            len(request),
            script.path,
            index,
            matching,
            difference,
            expected=(stored[matching],),
            last=last,
        )
    expected = tuple(request[matching:]) if matching < len(request) else ()
    if matching < len(request):
        note = f"the request goes on after the script's last message ({len(stored) - 1})"
    elif matching < len(stored):
        note = f"the script's next message is {stored[matching].role}, not assistant"
        expected = (stored[matching],)
    else:
        note = "the script ends where the request ends, with no reply"
    return Diagnosis(
        len(request), script.path, index, matching, note=note, expected=expected, last=last
    )


def find_error(
    scripts: Sequence[Script], request: Sequence[Message], model: str
) -> RecordedError | None:
    """The recorded HTTP error for exactly ``request`` (normalised) sent to ``model``."""
    for script in scripts:
        for error in script.errors:
            if (error.model is None or error.model == model) and tuple(request) == error.messages:
                return error
    return None

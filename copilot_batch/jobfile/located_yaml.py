"""YAML read as JSON values, keeping the line and column of every value and mapping key.

Job files, and the data files they name, are read with the YAML 1.2 core schema: ``NO``,
``yes`` and ``2001-12-14`` are strings, ``3.10`` is a number whose text is kept (see
``LocatedDocument.written``). ruamel.yaml parses; this module builds the values from its
events, so that only JSON values come out (strings, finite numbers, booleans, null, lists
and string-keyed mappings) and every limit holds before anything big is built. What it
refuses is reported as a ``YamlProblem`` at its place; nothing here raises for bad input.
Anchors, aliases and ``<<`` merge keys work.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    DocumentStartEvent,
    Event,
    MappingStartEvent,
    ScalarEvent,
)

JsonPathSegment = str | int

MAX_DEPTH = 64  # lists and mappings inside each other
MAX_VALUES = 200_000  # values in the document once aliases are expanded
MAX_TEXT = 16 * 1024 * 1024  # characters of its strings once aliases are expanded
MAX_INT_DIGITS = 4300  # Python's own limit for turning an integer into text

_INT_BOUND = 10**MAX_INT_DIGITS
_CORE = "tag:yaml.org,2002:"
# The YAML 1.2 core schema: how a plain scalar resolves.
_NULL = re.compile(r"null|Null|NULL|~|")
_BOOL = re.compile(r"true|True|TRUE|false|False|FALSE")
_INT = re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+")
_FLOAT = re.compile(
    r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)"
)
# Characters YAML does not allow anywhere in a file, comments included.
_NOT_PRINTABLE = re.compile(
    "[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"
)
_LINE_BREAK = re.compile("\r\n|[\n\r\x85\u2028\u2029]")  # as ruamel.yaml counts lines


@dataclass(frozen=True)
class Position:
    """A 1-based line and column."""

    line: int
    column: int


@dataclass(frozen=True)
class YamlProblem:
    """Why (part of) a document was not read, and where."""

    position: Position
    message: str


@dataclass
class _ContainerPositions:
    start: Position
    keys: dict[Any, Position] = field(default_factory=dict)
    values: dict[Any, Position] = field(default_factory=dict)
    written: dict[Any, str] = field(default_factory=dict)  # the text of number values


class LocatedDocument:
    """A parsed YAML document, the source position of each part of it, and its problems.

    ``data`` is ``None`` for an empty document, and for one with a problem that stopped
    the reading (``fatal``). Duplicate keys and keys that are not strings are problems
    too, but the rest of the document is read.
    """

    def __init__(
        self,
        data: Any,
        containers: dict[int, _ContainerPositions],
        problems: Sequence[YamlProblem],
        *,
        fatal: bool,
    ) -> None:
        self.data = data
        self._containers = containers
        self.problems = tuple(problems)
        self.fatal = fatal

    def position(self, path: Sequence[JsonPathSegment], *, of_key: bool = False) -> Position:
        """Where the value at ``path`` starts, or its mapping key with ``of_key``.

        A path that leaves the parsed data (a missing key) gives the deepest value it reached.
        """
        container = self.data
        root = self._containers.get(id(container))
        best = root.start if root is not None else Position(1, 1)
        for depth, segment in enumerate(path):
            positions = self._containers.get(id(container))
            if positions is None or segment not in positions.values:
                return best
            if of_key and depth == len(path) - 1 and segment in positions.keys:
                return positions.keys[segment]
            best = positions.values[segment]
            container = container[segment]
        return best

    def written(self, path: Sequence[JsonPathSegment]) -> str | None:
        """The text a number at ``path`` was written as (``3.10``, ``0x1F``), else None."""
        container = self.data
        for segment in path[:-1]:
            container = container[segment]
        positions = self._containers.get(id(container))
        return positions.written.get(path[-1]) if positions is not None and path else None


def read_yaml(text: str) -> LocatedDocument:
    """Read one YAML document. Never raises for bad input: see ``LocatedDocument.problems``."""
    bad = _NOT_PRINTABLE.search(text)
    if bad is not None:
        character = f"U+{ord(bad.group()):04X}"
        message = f"control character {character} is not allowed in YAML (not even in a comment)"
        return _failed(position_of(text, bad.start()), message)
    builder = _Builder()
    events = YAML(typ="safe", pure=True).parse(text)
    while builder.fatal is None:
        try:
            event = next(events)
        except StopIteration:
            break
        except MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            where = Position(mark.line + 1, mark.column + 1) if mark else Position(1, 1)
            return _failed(where, f"YAML syntax error: {exc.problem or exc.context}")
        except Exception as exc:  # ruamel.yaml fails in other ways too (%YAML 1.3 asserts)
            return _failed(Position(1, 1), f"YAML syntax error: {exc or type(exc).__name__}")
        builder.take(event)
    if builder.fatal is not None:
        return LocatedDocument(None, {}, [*builder.problems, builder.fatal], fatal=True)
    return LocatedDocument(builder.root, builder.containers, builder.problems, fatal=False)


def position_of(text: str, offset: int) -> Position:
    """The line and column of character ``offset`` in ``text``."""
    line, start = 1, 0
    for match in _LINE_BREAK.finditer(text, 0, offset):
        line, start = line + 1, match.end()
    return Position(line, offset - start + 1)


def json_path(path: Sequence[JsonPathSegment]) -> str:
    """Render a path as JSONPath, the way jsonschema's ``error.json_path`` does."""
    return "$" + "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in path)


def shown(value: Any, limit: int = 60) -> str:
    """``repr(value)``, cut short: messages stay one readable line."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _failed(position: Position, message: str) -> LocatedDocument:
    return LocatedDocument(None, {}, [YamlProblem(position, message)], fatal=True)


def _at(event: Event) -> Position:
    return Position(event.start_mark.line + 1, event.start_mark.column + 1)


@dataclass(frozen=True)
class _Value:
    value: Any
    values: int  # how many values it holds, itself included, aliases expanded
    characters: int  # how many characters its strings hold, aliases expanded
    written: str | None = None


class _MergeKey:
    """The plain key ``<<``: its value's mappings are merged into the mapping."""


class _BadKey:
    """A key that was not a string (reported): its value is read and dropped."""


_MERGE, _BAD_KEY = _MergeKey(), _BadKey()
_OPEN = _Value(None, 0, 0)  # an anchor whose node is still being read


@dataclass
class _Open:
    """A list or mapping being read."""

    container: dict[str, Any] | list[Any]
    positions: _ContainerPositions
    anchor: str | None
    values: int = 1
    characters: int = 0
    key: tuple[Any, Position] | None = None  # a mapping's key waiting for its value
    merges: list[tuple[Any, Position]] = field(default_factory=list)


class _Builder:
    """Values from parser events; records positions; stops at the first fatal problem."""

    def __init__(self) -> None:
        self.stack: list[_Open] = []
        self.anchors: dict[str, _Value] = {}
        self.containers: dict[int, _ContainerPositions] = {}
        self.problems: list[YamlProblem] = []
        self.fatal: YamlProblem | None = None
        self.root: Any = None
        self.documents = 0
        self.values = 0
        self.characters = 0

    def take(self, event: Event) -> None:
        if isinstance(event, ScalarEvent):
            self._scalar(event)
        elif isinstance(event, CollectionStartEvent):
            self._start(event)
        elif isinstance(event, CollectionEndEvent):
            self._end()
        elif isinstance(event, AliasEvent):
            self._alias(event)
        elif isinstance(event, DocumentStartEvent):
            self.documents += 1
            if self.documents > 1:
                self._stop(_at(event), "a job file holds one YAML document; this is a second")

    def _stop(self, position: Position, message: str) -> None:
        if self.fatal is None:
            self.fatal = YamlProblem(position, message)

    def _count(self, position: Position, values: int, characters: int) -> bool:
        self.values += values
        self.characters += characters
        if self.values > MAX_VALUES:
            self._stop(
                position,
                f"the document holds more than {MAX_VALUES:,} values once its aliases are expanded",
            )
        elif self.characters > MAX_TEXT:
            self._stop(
                position,
                f"the document holds more than {MAX_TEXT // 1024**2} MiB of text once its "
                "aliases are expanded",
            )
        return self.fatal is None

    def _scalar(self, event: ScalarEvent) -> None:
        position = _at(event)
        if not self._count(position, 1, len(event.value)):
            return
        value, written, problem = _scalar_value(event)
        if problem is not None:
            self._stop(position, problem)
            return
        if event.anchor is not None:
            self.anchors[event.anchor] = _Value(value, 1, len(event.value), written)
        merge = event.tag is None and event.style is None and event.value == "<<"
        self._deliver(_Value(value, 1, len(event.value), written), position, merge=merge)

    def _start(self, event: CollectionStartEvent) -> None:
        position = _at(event)
        mapping = isinstance(event, MappingStartEvent)
        allowed = (None, "!", _CORE + ("map" if mapping else "seq"))
        if event.tag not in allowed:
            self._stop(position, _tag_refused(event.tag))
        elif len(self.stack) >= MAX_DEPTH:
            self._stop(position, f"lists and mappings are nested more than {MAX_DEPTH} deep")
        elif self._count(position, 1, 0):
            container: dict[str, Any] | list[Any] = {} if mapping else []
            positions = _ContainerPositions(position)
            self.containers[id(container)] = positions
            if event.anchor is not None:
                self.anchors[event.anchor] = _OPEN
            self.stack.append(_Open(container, positions, event.anchor))

    def _end(self) -> None:
        frame = self.stack.pop()
        if isinstance(frame.container, dict) and frame.merges:
            self._merge(frame, frame.container)
        done = _Value(frame.container, frame.values, frame.characters)
        if frame.anchor is not None:
            self.anchors[frame.anchor] = done
        self._deliver(done, frame.positions.start, merge=False)

    def _alias(self, event: AliasEvent) -> None:
        position = _at(event)
        anchored = self.anchors.get(event.anchor)
        if anchored is None:
            self._stop(position, f"alias *{event.anchor} names no anchor before it")
        elif anchored is _OPEN:
            self._stop(position, f"alias *{event.anchor} is inside the node it names")
        elif self._count(position, anchored.values, anchored.characters):
            self._deliver(anchored, position, merge=False)

    def _deliver(self, value: _Value, position: Position, *, merge: bool) -> None:
        """A finished value: the document, a list item, a mapping key or its value."""
        if not self.stack:
            self.root = value.value
            return
        frame = self.stack[-1]
        frame.values += value.values
        frame.characters += value.characters
        if isinstance(frame.container, list):
            index = len(frame.container)
            frame.container.append(value.value)
            frame.positions.values[index] = position
            if value.written is not None:
                frame.positions.written[index] = value.written
        elif frame.key is None:
            frame.key = self._key(value.value, position, merge), position
        else:
            self._entry(frame, frame.container, frame.key, value, position)
            frame.key = None

    def _key(self, key: Any, position: Position, merge: bool) -> Any:
        if merge:
            return _MERGE
        if isinstance(key, str):
            return key
        kind = _kind(key)
        self.problems.append(
            YamlProblem(position, f"mapping keys must be strings, not {kind} (quote the key)")
        )
        return _BAD_KEY

    def _entry(
        self,
        frame: _Open,
        mapping: dict[str, Any],
        pending: tuple[Any, Position],
        value: _Value,
        position: Position,
    ) -> None:
        key, key_position = pending
        if key is _MERGE:
            frame.merges.append((value.value, position))
        elif key is _BAD_KEY:
            return
        elif key in mapping:
            first = frame.positions.keys[key]
            self.problems.append(
                YamlProblem(
                    key_position, f"duplicate key {shown(key)} (first at line {first.line})"
                )
            )
        else:
            mapping[key] = value.value
            frame.positions.keys[key] = key_position
            frame.positions.values[key] = position
            if value.written is not None:
                frame.positions.written[key] = value.written

    def _merge(self, frame: _Open, mapping: dict[str, Any]) -> None:
        """Apply ``<<``: keys of the merged mappings, in order, then the mapping's own."""
        merged: dict[str, Any] = {}
        positions = _ContainerPositions(frame.positions.start)
        for value, position in frame.merges:
            sources = value if isinstance(value, list) else [value]
            if not all(isinstance(source, dict) for source in sources):
                self.problems.append(
                    YamlProblem(position, "a merge key (<<) takes a mapping or a list of mappings")
                )
                continue
            for source in sources:
                _copy_new_keys(source, self.containers[id(source)], merged, positions)
        _copy_new_keys(mapping, frame.positions, merged, positions, replace=True)
        mapping.clear()
        mapping.update(merged)
        frame.positions.keys, frame.positions.values = positions.keys, positions.values
        frame.positions.written = positions.written


def _copy_new_keys(
    source: dict[str, Any],
    source_positions: _ContainerPositions,
    target: dict[str, Any],
    positions: _ContainerPositions,
    *,
    replace: bool = False,
) -> None:
    for key, value in source.items():
        if key in target and not replace:
            continue
        target[key] = value
        positions.keys[key] = source_positions.keys[key]
        positions.values[key] = source_positions.values[key]
        if key in source_positions.written:
            positions.written[key] = source_positions.written[key]
        else:
            positions.written.pop(key, None)


def _scalar_value(event: ScalarEvent) -> tuple[Any, str | None, str | None]:
    """A scalar's value, the text of a number, and the problem that refuses it."""
    text: str = event.value
    tag = event.tag
    if tag in ("!", _CORE + "str") or (tag is None and event.style is not None):
        return text, None, None
    if tag is None:
        kind = next(
            (name for name, form in _FORMS.items() if form.fullmatch(text)),
            "str",
        )
    elif tag.startswith(_CORE) and tag[len(_CORE) :] in _FORMS:
        kind = tag[len(_CORE) :]
        if not _FORMS[kind].fullmatch(text):
            return None, None, f"!!{kind} {shown(text)} is not {_KIND_NAMES[kind]}"
    else:
        return None, None, _tag_refused(tag)
    if kind == "str":
        return text, None, None
    if kind == "null":
        return None, None, None
    if kind == "bool":
        return text.lower() == "true", None, None
    if kind == "int":
        return _integer(text)
    return _float(text)


def _integer(text: str) -> tuple[Any, str | None, str | None]:
    too_long = f"an integer of more than {MAX_INT_DIGITS:,} digits is not allowed"
    if text.startswith(("0o", "0x")):
        value = int(text[2:], 8 if text[1] == "o" else 16)
        return (value, text, None) if abs(value) < _INT_BOUND else (None, None, too_long)
    if len(text.lstrip("+-")) > MAX_INT_DIGITS:
        return None, None, too_long
    return int(text), text, None


def _float(text: str) -> tuple[Any, str | None, str | None]:
    special = text.lower().lstrip("+-")
    if special in (".inf", ".nan"):
        what = "infinite" if special == ".inf" else "not a number"
        return None, None, f"{text} is {what}: only finite numbers are allowed"
    value = float(text)
    if not math.isfinite(value):
        return None, None, f"{shown(text)} is too large for a number"
    return value, text, None


_FORMS = {"null": _NULL, "bool": _BOOL, "int": _INT, "float": _FLOAT}
_KIND_NAMES = {"null": "null", "bool": "a boolean", "int": "an integer", "float": "a number"}


def _tag_refused(tag: str | None) -> str:
    name = "!!" + tag[len(_CORE) :] if tag and tag.startswith(_CORE) else str(tag)
    return (
        f"the tag {name[:40]} is not allowed: a job file holds only strings, numbers, "
        "booleans, null, lists and mappings"
    )


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", list: "a list"}.get(
        type(value), "a mapping"
    )

"""YAML parsed once, keeping the line and column of every value and mapping key."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

JsonPathSegment = str | int


@dataclass(frozen=True)
class Position:
    """A 1-based line and column."""

    line: int
    column: int

    @classmethod
    def of(cls, mark: yaml.Mark) -> Position:
        return cls(mark.line + 1, mark.column + 1)


@dataclass
class _ContainerPositions:
    start: Position
    keys: dict[Any, Position] = field(default_factory=dict)
    values: dict[Any, Position] = field(default_factory=dict)


@dataclass(frozen=True)
class DuplicateKey:
    key: str
    position: Position
    first: Position


class LocatedDocument:
    """A parsed YAML document and the source position of each part of it."""

    def __init__(
        self,
        data: Any,
        containers: dict[int, _ContainerPositions],
        duplicates: Sequence[DuplicateKey],
    ) -> None:
        self.data = data
        self._containers = containers
        self.duplicate_keys = tuple(duplicates)

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


class _PositionRecordingLoader(yaml.SafeLoader):
    """A SafeLoader that records where every mapping and sequence entry starts."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.containers: dict[int, _ContainerPositions] = {}
        self.duplicates: list[DuplicateKey] = []

    def construct_located_map(self, node: MappingNode) -> Iterator[dict[Any, Any]]:
        data: dict[Any, Any] = {}
        yield data
        data.update(self.construct_mapping(node))
        positions = _ContainerPositions(Position.of(node.start_mark))
        for key_node, value_node in node.value:
            key = self.construct_object(key_node)
            key_position = Position.of(key_node.start_mark)
            if key in positions.keys:
                self.duplicates.append(DuplicateKey(str(key), key_position, positions.keys[key]))
                continue
            positions.keys[key] = key_position
            positions.values[key] = Position.of(value_node.start_mark)
        self.containers[id(data)] = positions

    def construct_located_seq(self, node: SequenceNode) -> Iterator[list[Any]]:
        data: list[Any] = []
        yield data
        data.extend(self.construct_sequence(node))
        positions = _ContainerPositions(Position.of(node.start_mark))
        for index, item in enumerate(node.value):
            positions.values[index] = Position.of(item.start_mark)
        self.containers[id(data)] = positions


_PositionRecordingLoader.add_constructor(
    "tag:yaml.org,2002:map", _PositionRecordingLoader.construct_located_map
)
_PositionRecordingLoader.add_constructor(
    "tag:yaml.org,2002:seq", _PositionRecordingLoader.construct_located_seq
)


def parse_located_yaml(text: str) -> LocatedDocument:
    """Parse one YAML document. Raises ``yaml.YAMLError`` (with marks) on bad syntax."""
    loader = _PositionRecordingLoader(text)
    try:
        node: Node | None = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
        return LocatedDocument(data, loader.containers, loader.duplicates)
    finally:
        loader.dispose()


def json_path(path: Sequence[JsonPathSegment]) -> str:
    """Render a path as JSONPath, the way jsonschema's ``error.json_path`` does."""
    return "$" + "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in path)

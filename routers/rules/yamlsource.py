"""Read a rules file safely and remember where every value came from.

PyYAML's ``SafeLoader`` builds the node tree (no tags that run code); we turn the nodes into
plain dicts/lists/scalars ourselves so that every path (``("route", "routes", 2, "match")``)
keeps its line and column for error messages. Duplicate keys, which plain ``yaml.safe_load``
silently overwrites, are refused; alias expansion is capped so a "billion laughs" file is
refused instead of eating the worker's memory.

    >>> doc = read_yaml("version: '1'\\nroute:\\n  id: root\\n", "rules.yaml")
    >>> doc.where(("route", "id"))
    'rules.yaml:3:7'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from routers.rules.problems import Problem, RulesFileError

PathKey = tuple[str | int, ...]

# A realistic ruleset has a few thousand nodes; anything far above that is an alias bomb.
MAX_NODES = 200_000


@dataclass(frozen=True, slots=True)
class Position:
    line: int  # 1-based
    column: int  # 1-based


@dataclass(frozen=True)
class YamlDocument:
    """Plain data plus where each value (and each mapping key) starts in the text."""

    data: Any
    source: str
    values: dict[PathKey, Position]
    keys: dict[PathKey, Position]

    def position(self, path: PathKey, *, key: bool = False) -> Position | None:
        """The position of ``path`` (of its key when ``key``); falls back to the nearest parent."""
        table = self.keys if key else self.values
        probe = tuple(path)
        while True:
            found = table.get(probe) or self.values.get(probe)
            if found is not None:
                return found
            if not probe:
                return None
            probe = probe[:-1]

    def where(self, path: PathKey, *, key: bool = False) -> str:
        pos = self.position(path, key=key)
        return self.source if pos is None else f"{self.source}:{pos.line}:{pos.column}"


def _pos(node: yaml.Node) -> Position:
    mark = node.start_mark
    return Position(mark.line + 1, mark.column + 1)


class _Builder:
    def __init__(self, loader: yaml.SafeLoader, source: str) -> None:
        self.loader = loader
        self.source = source
        self.values: dict[PathKey, Position] = {}
        self.keys: dict[PathKey, Position] = {}
        self.count = 0

    def build(self, node: yaml.Node, path: PathKey) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            p = _pos(node)
            raise RulesFileError(self.source, [Problem(p.line, p.column, f"more than {MAX_NODES} YAML nodes "
                                                                          "(alias expansion?); refused")])
        self.values.setdefault(path, _pos(node))
        if isinstance(node, yaml.MappingNode):
            self.loader.flatten_mapping(node)  # resolves "<<: *anchor" merge keys
            result: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    p = _pos(key_node)
                    raise RulesFileError(self.source, [Problem(p.line, p.column, "mapping keys must be plain names")])
                key = str(self.loader.construct_object(key_node))
                if key in result:
                    p = _pos(key_node)
                    raise RulesFileError(self.source, [Problem(p.line, p.column, f"duplicate key {key!r}")])
                self.keys[(*path, key)] = _pos(key_node)
                result[key] = self.build(value_node, (*path, key))
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, index)) for index, item in enumerate(node.value)]
        if node.tag == "tag:yaml.org,2002:timestamp":
            return node.value  # keep dates as written; the rules code parses them in Asia/Ho_Chi_Minh
        return self.loader.construct_object(node)


def read_yaml(text: str, source: str = "<rules>") -> YamlDocument:
    """Parse one YAML document; syntax errors become :class:`RulesError` naming line:column."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise RulesFileError(source, [Problem(1, 1, "the rules file is empty")])
        builder = _Builder(loader, source)
        data = builder.build(node, ())
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        raise RulesFileError(source, [Problem(line, column, f"YAML syntax error: {problem}")]) from None
    except yaml.YAMLError as exc:
        raise RulesFileError(source, [Problem(1, 1, f"YAML error: {exc}")]) from None
    finally:
        loader.dispose()
    return YamlDocument(data, source, builder.values, builder.keys)

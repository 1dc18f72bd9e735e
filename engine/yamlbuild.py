"""Build plain data from a YAML parser's events, and where each value and key starts.

:mod:`engine.yamldoc` feeds the events of libyaml (or PyYAML's Python parser) to
:func:`build`, which turns them into dicts, lists and scalars in one loop without recursion,
under the safe-loading rules: nesting deeper than ``MAX_DEPTH`` is refused at the event that
opens it; aliases are copied (positions inside a copy lead to the anchored text), and the
values they add are counted (a file without aliases never counts any); only standard tags;
duplicate keys name both places.

Positions are kept small, since a 10 MB file holds a million values: each container's child
positions sit in one dict (mapping) or list (sequence) of packed ints, indexed by the
container's document path (:class:`PositionTree`). Lines and columns are 1-based.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)

from engine.errors import LoadError
from engine.yamlscalars import (
    FIRST_SPECIAL,
    MERGE,
    ScalarError,
    describe,
    explicit_scalar,
    plain_scalar,
    shorten,
)

MAX_EXPANDED_NODES = 200_000
"""Values aliases may add to one document (each expansion counts every value it copies).
Generous for any real scenario, fatal for alias bombs; values written out do not count."""
MAX_DEPTH = 100
"""Mappings and lists one document may nest (the built-ins need under 10)."""

PathT = tuple[str | int, ...]

_T = "tag:yaml.org,2002:"
_BITS = 24
"""Bits for one line or column number: 10 MB documents have fewer lines and columns."""
_MASK = (1 << _BITS) - 1
_VALUE_BITS = 2 * _BITS

Children = dict[str, int] | list[int]
"""One container's child positions: per key (mapping) or per index (list), packed ints."""


def render_path(path: PathT) -> str:
    """``("agents", 2, "tasks")`` -> ``agents[2].tasks``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def unpack(packed: int) -> tuple[int, int]:
    """The (line, column) of a packed entry's value.

    An entry is ``line << 24 | column``; a mapping entry's key sits 48 bits above it.
    """
    return (packed >> _BITS) & _MASK, packed & _MASK


def key_position(packed: int) -> tuple[int, int] | None:
    """Where a mapping entry's key starts; None for a list item."""
    key = packed >> _VALUE_BITS
    return unpack(key) if key else None


@dataclass
class PositionTree:
    """Every container's child positions, by the container's document path.

    A value an alias copied has no entries of its own: ``aliases`` sends its paths to the
    anchored text it copies (a merge sends the merging mapping's missing keys there).
    """

    root: int | None = None
    """The packed position of the document's top value."""
    children: dict[PathT, Children] = field(default_factory=dict)
    aliases: dict[PathT, PathT] = field(default_factory=dict)
    """Where an alias's copy sits -> where the anchored value it copies is written."""

    def entry(self, path: PathT) -> int | None:
        """The packed entry of the value at ``path`` (a non-empty path), or None."""
        for _ in range(MAX_DEPTH):  # each hop lands in an anchor written earlier
            children = self.children.get(path[:-1])
            last = path[-1]
            if isinstance(children, dict):
                return children.get(last) if isinstance(last, str) else None
            if isinstance(children, list):
                if isinstance(last, int) and 0 <= last < len(children):
                    return children[last]
                return None
            for i in range(len(path) - 1, -1, -1):
                src = self.aliases.get(path[:i])
                if src is not None:
                    path = (*src, *path[i:])
                    break
            else:
                return None
        return None


@dataclass
class _Anchor:
    value: Any
    path: PathT
    count: int
    """Values the anchored value holds (itself included): what each alias to it adds."""
    height: int | None = None
    """How deep it nests (worked out at its first alias)."""


_KEY, _VALUE, _MERGE, _ITEM = range(4)
"""What an open container waits for: a mapping a key, a key's value or a value to merge in;
a list its next item."""


class _Frame:
    """An open mapping or list: its value and child positions so far."""

    __slots__ = ("anchor", "count", "key", "key_at", "merge_at", "merged", "merged_at",
                 "path", "slot", "value", "want", "weak", "where")

    def __init__(self, is_map: bool, path: PathT, slot: int, anchor: str | None, count: int,
                 weak: bool) -> None:
        self.value: Any = {} if is_map else []
        self.where: Any = {} if is_map else []
        self.want = _KEY if is_map else _ITEM
        self.path = path
        self.slot = slot
        """Its own packed position, for the container it goes into."""
        self.anchor = anchor
        self.count = count
        self.weak = weak
        """Built as (part of) a value merged in: its positions never replace explicit ones."""
        self.key = ""
        self.key_at = 0
        self.merge_at = 0
        self.merged: dict[str, Any] = {}
        self.merged_at: dict[str, int] = {}


def build(get: Callable[[], Any], source: str) -> tuple[Any, PositionTree]:
    """Consume a parser's events (``get`` returns the next one); return the data and positions.

    Raises:
        LoadError: for an empty stream, several documents, unsupported tags, complex or
            duplicate keys, undefined or recursive aliases, alias bombs and deep nesting.
        yaml.YAMLError: for syntax errors, as the parser raises them.
    """
    builder = _Builder(source)
    get()  # the stream's start
    event = get()
    if isinstance(event, StreamEndEvent):
        raise LoadError(source, "a YAML mapping", line=1, column=1, found="an empty document")
    assert isinstance(event, DocumentStartEvent)
    data = builder.document(get)
    event = get()
    if isinstance(event, DocumentStartEvent):
        raise builder.fail(event, (), "a single YAML document", "another document")
    return data, builder.tree


class _Builder:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tree = PositionTree()
        self.anchors: dict[str, _Anchor] = {}
        self.open_anchors: set[str] = set()
        self.count = 0
        self.expanded = 0
        self.root: Any = None

    def fail(self, event: Any, path: PathT, expected: str, found: str) -> LoadError:
        mark = event.start_mark
        where = render_path(path)
        if len(where) > 80:  # a path a hundred levels deep: its two ends say where
            where = f"{where[:38]}...{where[-38:]}"
        return LoadError(self.source, expected, line=mark.line + 1, column=mark.column + 1,
                         path=where, found=found)

    def document(self, get: Callable[[], Any]) -> Any:
        """Build the events up to the document's end: the hot loop, kept flat on purpose."""
        stack: list[_Frame] = []
        top: _Frame | None = None
        children = self.tree.children
        while True:
            event = get()
            kind = type(event)
            if kind is ScalarEvent:
                mark = event.start_mark
                at = (mark.line + 1) << _BITS | (mark.column + 1)
                tag = event.tag
                text = event.value
                plain = tag is None and event.implicit[0]
                if plain:
                    value = text if text and text[0] not in FIRST_SPECIAL else plain_scalar(text)
                elif tag is None or tag == "!":
                    value = text
                elif tag == _T + "merge" and top is not None and top.want == _KEY:
                    value = MERGE
                else:
                    try:
                        value = explicit_scalar(tag, text)
                    except ScalarError as exc:
                        path = top.path if top is not None and top.want == _KEY else (
                            self.child_path(top))
                        raise self.fail(event, path, exc.expected, exc.found) from None
                if event.anchor is not None:
                    self.anchors[event.anchor] = _Anchor(value, self.child_path(top), 1)
                if top is not None and top.want == _KEY:
                    if type(value) is str and value not in top.value and value != MERGE:
                        top.key = value  # the common case of self.key, inline
                        top.key_at = at << _VALUE_BITS
                        top.want = _VALUE
                    elif (plain and text == MERGE) or tag == _T + "merge":
                        top.want = _MERGE
                        top.merge_at = at
                    else:
                        self.key(top, event, value, at)
                    continue
                self.count += 1
            elif kind is MappingStartEvent or kind is SequenceStartEvent:
                is_map = kind is MappingStartEvent
                if top is not None and top.want == _KEY:
                    raise self.fail(event, top.path, "a plain string key", "a complex key")
                path = self.child_path(top)
                if len(stack) + (top is not None) >= MAX_DEPTH:
                    raise self.fail(event, path, f"YAML nested at most {MAX_DEPTH} levels deep",
                                    "deeper nesting")
                tag = event.tag
                if tag is not None and tag != "!" and tag != _T + ("map" if is_map else "seq"):
                    raise self.fail(event, path, "a plain YAML "
                                    f"{'mapping' if is_map else 'list'} (no custom tags)",
                                    f"tag {shorten(tag)}")
                mark = event.start_mark
                if event.anchor is not None:
                    self.open_anchors.add(event.anchor)
                weak = top is not None and (top.want == _MERGE or top.weak)
                self.count += 1
                if top is not None:
                    stack.append(top)
                top = _Frame(is_map, path, (mark.line + 1) << _BITS | (mark.column + 1),
                             event.anchor, self.count - 1, weak)
                continue
            elif kind is MappingEndEvent or kind is SequenceEndEvent:
                assert top is not None
                frame = top
                value = frame.value
                where = frame.where
                for k, v in frame.merged.items():
                    if k not in value:
                        value[k] = v
                        where[k] = frame.merged_at[k]
                if frame.weak:
                    children.setdefault(frame.path, where)
                else:
                    children[frame.path] = where
                if frame.anchor is not None:
                    self.anchors[frame.anchor] = _Anchor(value, frame.path,
                                                         self.count - frame.count)
                    self.open_anchors.discard(frame.anchor)
                at = frame.slot
                top = stack.pop() if stack else None
                if top is not None and top.want == _MERGE:
                    self.merge(top, event, value, where, at)
                    continue
            elif kind is AliasEvent:
                mark = event.start_mark
                at = (mark.line + 1) << _BITS | (mark.column + 1)
                if top is not None and top.want == _KEY:
                    self.key(top, event, self.alias_key(event, top.path), at)
                    continue
                path = self.child_path(top)
                value, where = self.alias(event, path, len(stack) + (top is not None))
                if top is not None and top.want == _MERGE:
                    self.merge(top, event, value, where, at)
                    continue
            elif kind is DocumentEndEvent:
                return self.root
            else:
                raise self.fail(event, self.child_path(top), "a YAML value",
                                type(event).__name__)
            # A finished value goes into its list, or its mapping under the waiting key.
            if top is None:
                self.root = value
                self.tree.root = at
            elif top.want == _ITEM:
                top.value.append(value)
                top.where.append(at)
            elif top.want == _VALUE:
                key = top.key
                top.value[key] = value
                top.where[key] = top.key_at | at
                top.want = _KEY
            else:
                raise self.fail(event, top.path, "a mapping to merge", "not a mapping")

    def child_path(self, top: _Frame | None) -> PathT:
        """The document path of the value about to start inside ``top``."""
        if top is None:
            return ()
        if top.want == _VALUE:
            return (*top.path, top.key)
        if top.want == _ITEM:
            return (*top.path, len(top.value))
        return top.path  # a value merged in, at the mapping it goes into

    def key(self, frame: _Frame, event: Any, key: Any, at: int) -> None:
        """Take a mapping key: a string, or an integer written as one; once per mapping."""
        if type(key) is not str:
            if key is None or isinstance(key, bool | float | dict | list):
                found = "a complex key" if isinstance(key, dict | list) else describe(key)
                raise self.fail(event, frame.path, "a plain string key", found)
            key = str(key)
        if key in frame.value:
            first = key_position(frame.where[key])
            assert first is not None
            raise self.fail(event, (*frame.path, key), "each key once per mapping",
                            f"duplicate key {shorten(repr(key))}, first at line {first[0]}, "
                            f"column {first[1]}")
        frame.key = key
        frame.key_at = at << _VALUE_BITS
        frame.want = _VALUE

    def alias_key(self, event: Any, path: PathT) -> Any:
        """The value of an alias used as a key (aliases to mappings or lists are refused)."""
        name = cast(str, event.anchor)
        if name in self.open_anchors or name not in self.anchors:
            self.alias(event, path, 0)  # raises: recursive or undefined
        return self.anchors[name].value

    def merge(self, frame: _Frame, event: Any, value: Any, where: Children | None,
              at: int) -> None:
        """Merge a mapping (or a list of them) in; the mapping's own keys win, wherever written."""
        frame.want = _KEY
        sources = [(value, where)] if isinstance(value, dict) else [
            (item, None) for item in value] if isinstance(value, list) else [(value, None)]
        for source, positions in sources:
            if not isinstance(source, dict):
                raise self.fail(event, frame.path, "a mapping to merge", "not a mapping")
            for k, v in source.items():
                if k not in frame.merged:
                    frame.merged[k] = v
                    child = positions.get(k) if isinstance(positions, dict) else None
                    frame.merged_at[k] = child if child is not None else (
                        frame.merge_at << _VALUE_BITS | at)

    def alias(self, event: Any, path: PathT, depth: int) -> tuple[Any, Children | None]:
        """A copy of the anchored value and its child positions; expansion bounded."""
        name = event.anchor
        if name in self.open_anchors:
            raise self.fail(event, path, "a document without recursive aliases",
                            "an alias that contains itself")
        anchor = self.anchors.get(name)
        if anchor is None:
            raise self.fail(event, path, "an alias to an anchor defined before it",
                            f"undefined alias *{shorten(name)}")
        self.expanded += anchor.count
        self.count += anchor.count
        if self.expanded > MAX_EXPANDED_NODES:
            raise self.fail(
                event, path, f"a document whose aliases add at most {MAX_EXPANDED_NODES} "
                "values", "an alias expansion bomb")
        if type(anchor.value) is not dict and type(anchor.value) is not list:
            return anchor.value, None
        if anchor.height is None:
            anchor.height = _height(anchor.value)
        if depth + anchor.height > MAX_DEPTH:
            raise self.fail(event, path, f"YAML nested at most {MAX_DEPTH} levels deep",
                            "deeper nesting through an alias")
        self.tree.aliases.setdefault(path, anchor.path)
        return _copy(anchor.value), self.tree.children.get(anchor.path)


def _copy(value: Any) -> Any:
    """A fresh copy of a container (aliases give independent values, as before)."""
    if type(value) is dict:
        return {k: _copy(v) if type(v) is dict or type(v) is list else v
                for k, v in value.items()}
    return [_copy(v) if type(v) is dict or type(v) is list else v for v in value]


def _height(value: Any) -> int:
    """How many containers deep a value goes (0 for a scalar)."""
    if type(value) is dict:
        return 1 + max((_height(v) for v in value.values()), default=0)
    if type(value) is list:
        return 1 + max((_height(v) for v in value), default=0)
    return 0

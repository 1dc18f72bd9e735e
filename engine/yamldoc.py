"""Safe YAML loading that remembers the line and column of every key and value.

libyaml (through PyYAML's C parser; PyYAML's pure-Python parser where libyaml is missing)
turns the text into events, and :mod:`engine.yamlbuild` turns the events into plain Python
data, so no tag can construct an object, nesting is refused at the line that goes too deep,
alias expansion is bounded by the values aliases add (a file without aliases never trips
it), duplicate keys are errors naming both places, and every error names the file, the line
and column and the document path. Plain scalars mean what YAML 1.2's core schema says
(:mod:`engine.yamlscalars`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.error import MarkedYAMLError, YAMLError
from yaml.reader import ReaderError

from engine.errors import LoadError
from engine.yamlbuild import (
    MAX_DEPTH,
    MAX_EXPANDED_NODES,
    PathT,
    PositionTree,
    build,
    key_position,
    render_path,
    unpack,
)
from engine.yamlscalars import describe

__all__ = ["LIBYAML", "MAX_DEPTH", "MAX_DOCUMENT_BYTES", "MAX_EXPANDED_NODES", "PathT",
           "Position", "Positions", "YamlDocument", "decode", "describe", "load_yaml",
           "read_text", "render_path"]

MAX_DOCUMENT_BYTES = 10 * 1024 * 1024

_C_PARSER: Any = getattr(yaml, "CSafeLoader", None)
LIBYAML = _C_PARSER is not None
"""Whether libyaml's C parser is there (else PyYAML's Python parser: same rules, slower)."""

Position = tuple[int, int]


class Positions(Mapping[PathT, Position]):
    """Where values (or, with ``keys``, mapping keys) start, by document path.

    A read-only view of a :class:`~engine.yamlbuild.PositionTree`, which keeps them compact.
    Iterating lists the paths written out; values copied by aliases are found by lookup.
    """

    def __init__(self, tree: PositionTree, *, keys: bool = False) -> None:
        self._tree = tree
        self._keys = keys

    def _find(self, path: PathT) -> Position | None:
        if not path:
            root = self._tree.root
            return None if self._keys or root is None else unpack(root)
        packed = self._tree.entry(path)
        if packed is None:
            return None
        return key_position(packed) if self._keys else unpack(packed)

    def __getitem__(self, path: PathT) -> Position:
        pos = self._find(tuple(path))
        if pos is None:
            raise KeyError(path)
        return pos

    def __contains__(self, path: object) -> bool:
        return isinstance(path, tuple) and self._find(path) is not None

    def __iter__(self) -> Iterator[PathT]:
        if not self._keys and self._tree.root is not None:
            yield ()
        for parent, children in self._tree.children.items():
            if isinstance(children, dict):
                yield from ((*parent, k) for k in children if (*parent, k) in self)
            else:
                yield from ((*parent, i) for i in range(len(children)) if not self._keys)

    def __len__(self) -> int:
        return sum(1 for _ in self)


@dataclass(frozen=True)
class YamlDocument:
    """A loaded document: plain data plus the (line, column) of each value and mapping key.

    Lines and columns are 1-based. ``positions`` maps a document path to where its value
    starts; ``key_positions`` maps the path of a mapping entry to where its key starts.
    """

    source: str
    data: Any
    positions: Mapping[PathT, Position] = field(default_factory=dict)
    key_positions: Mapping[PathT, Position] = field(default_factory=dict)

    def position(self, path: PathT, *, key: bool = False) -> Position | None:
        """The position of ``path``, or of its nearest ancestor that has one."""
        if key and path in self.key_positions:
            return self.key_positions[path]
        p = tuple(path)
        while True:
            if p in self.positions:
                return self.positions[p]
            if not p:
                return None
            p = p[:-1]

    def error(self, path: PathT, expected: str, found: str | None = None, *, key: bool = False
              ) -> LoadError:
        """A LoadError located at ``path`` in this document."""
        pos = self.position(path, key=key)
        return LoadError(
            self.source,
            expected,
            line=pos[0] if pos else None,
            column=pos[1] if pos else None,
            path=render_path(path),
            found=found,
        )


def read_text(path: Path, source: str | None = None) -> str:
    """Read a document from disk, refusing oversized and non-UTF-8 files with a LoadError."""
    name = source or str(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise LoadError(name, "an existing file", found="no such file") from None
    except OSError as exc:
        raise LoadError(name, "a readable file", found=exc.strerror or str(exc)) from None
    if path.is_dir():
        raise LoadError(name, "a file", found="a directory")
    if size > MAX_DOCUMENT_BYTES:
        raise LoadError(
            name, f"a document of at most {MAX_DOCUMENT_BYTES // (1024 * 1024)} MB",
            found=f"{size} bytes",
        )
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise LoadError(name, "a readable file", found=exc.strerror or str(exc)) from None
    return decode(raw, name)


def decode(raw: bytes, source: str) -> str:
    """Decode UTF-8 document bytes, with a LoadError naming the byte offset on failure."""
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise LoadError(
            source, f"a document of at most {MAX_DOCUMENT_BYTES // (1024 * 1024)} MB",
            found=f"{len(raw)} bytes",
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise LoadError(source, "UTF-8 text", line=line, found=f"byte 0x{raw[exc.start]:02x}"
                        ) from None


def load_yaml(text: str, source: str, *, pure: bool = False) -> YamlDocument:
    """Parse one YAML document safely into plain data with positions.

    Args:
        text: The document.
        source: How messages name it.
        pure: Use PyYAML's pure-Python parser even where libyaml is available (the
            fallback; same rules and results, slower).

    Raises:
        LoadError: for syntax errors, several documents, unsupported tags, duplicate keys,
            alias bombs, nesting deeper than MAX_DEPTH and oversized input, located in
            ``source``.
    """
    if len(text) > MAX_DOCUMENT_BYTES:
        raise LoadError(source, "a document of at most 10 MB", found=f"{len(text)} characters")
    python = pure or not LIBYAML
    parser: Any = None
    try:
        # PyYAML's Python reader checks every character here, before the first event.
        parser = yaml.SafeLoader(text) if python else _C_PARSER(text)
        data, tree = build(parser.get_event, source)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = (exc.problem or exc.context or "malformed YAML").removeprefix("found ")
        deep = "maximum nesting depth" in problem  # libyaml's own limit, scanning ahead
        raise LoadError(
            source, f"YAML nested at most {MAX_DEPTH} levels deep" if deep else "valid YAML",
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
            found="deeper nesting" if deep else problem,
        ) from None
    except ReaderError as exc:
        raise _reader_error(exc, text, source, python) from None
    except UnicodeEncodeError as exc:  # libyaml reads UTF-8: a lone surrogate has none
        before = text[: exc.start]
        raise LoadError(source, "printable text (YAML allows no control characters)",
                        line=before.count("\n") + 1,
                        column=exc.start - (before.rfind("\n") + 1) + 1,
                        found=f"character U+{ord(text[exc.start]):04X}") from None
    except YAMLError as exc:
        raise LoadError(source, "valid YAML", found=str(exc).splitlines()[0]) from None
    finally:
        if parser is not None:
            parser.dispose()
    return YamlDocument(source, data, Positions(tree), Positions(tree, keys=True))


def _reader_error(exc: ReaderError, text: str, source: str, python: bool) -> LoadError:
    """A character YAML does not allow, at its line and column.

    PyYAML's parser counts the offset in characters, libyaml in bytes of the UTF-8 text.
    """
    before = text[: exc.position] if python else text.encode()[: exc.position].decode(
        errors="ignore")
    line = before.count("\n") + 1
    column = len(before) - (before.rfind("\n") + 1) + 1
    char = exc.character
    found = f"character U+{ord(char) if isinstance(char, str) else char:04X}"
    return LoadError(source, "printable text (YAML allows no control characters)",
                     line=line, column=column, found=found)

"""Safe YAML loading that remembers the line and column of every key and value.

Documents are composed into ruamel.yaml nodes and built into plain Python data by hand, so
no tag can construct an object, alias expansion is bounded (no "billion laughs"), duplicate
keys are errors, and every error names the file, the line and column and the document path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from engine.errors import LoadError

MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
# Values built from one document, aliases counted each time they are expanded. Generous for
# any real scenario (the largest built-in builds a few thousand), fatal for alias bombs.
MAX_EXPANDED_NODES = 200_000

PathT = tuple[str | int, ...]
Position = tuple[int, int]

_T = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_T + t for t in ("str", "int", "float", "bool", "null", "timestamp", "binary")}


@dataclass(frozen=True)
class YamlDocument:
    """A loaded document: plain data plus the (line, column) of each value and mapping key.

    Lines and columns are 1-based. ``positions`` maps a document path to where its value
    starts; ``key_positions`` maps the path of a mapping entry to where its key starts.
    """

    source: str
    data: Any
    positions: dict[PathT, Position] = field(default_factory=dict)
    key_positions: dict[PathT, Position] = field(default_factory=dict)

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


def render_path(path: PathT) -> str:
    """``("agents", 2, "tasks")`` -> ``agents[2].tasks``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def describe(value: Any) -> str:
    """A short rendering of a found value for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    kind = type(value).__name__
    return {"str": "string", "int": "integer", "float": "number"}.get(kind, kind) + " " + text


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


def load_yaml(text: str, source: str) -> YamlDocument:
    """Parse one YAML document safely into plain data with positions.

    Raises:
        LoadError: for syntax errors, several documents, unsupported tags, duplicate keys,
            alias bombs and oversized input, located in ``source``.
    """
    if len(text) > MAX_DOCUMENT_BYTES:
        raise LoadError(source, "a document of at most 10 MB", found=f"{len(text)} characters")
    yaml = YAML(typ="safe", pure=True)
    try:
        node = yaml.compose(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = (exc.problem or exc.context or "malformed YAML").removeprefix("found ")
        raise LoadError(
            source, "valid YAML",
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
            found=problem,
        ) from None
    except YAMLError as exc:
        raise LoadError(source, "valid YAML", found=str(exc).splitlines()[0]) from None
    except RecursionError:
        raise LoadError(source, "YAML nested less deeply", found="nesting too deep") from None
    if node is None:
        raise LoadError(source, "a YAML mapping", line=1, column=1, found="an empty document")
    builder = _Builder(source)
    try:
        data = builder.build(node, ())
    except RecursionError:
        raise LoadError(source, "YAML nested less deeply", found="nesting too deep") from None
    return YamlDocument(source, data, builder.positions, builder.key_positions)


class _Builder:
    def __init__(self, source: str) -> None:
        self.source = source
        self.positions: dict[PathT, Position] = {}
        self.key_positions: dict[PathT, Position] = {}
        self.expanded = 0
        self.active: set[int] = set()

    def fail(self, node: Node, path: PathT, expected: str, found: str) -> LoadError:
        return LoadError(
            self.source, expected,
            line=node.start_mark.line + 1, column=node.start_mark.column + 1,
            path=render_path(path), found=found,
        )

    def build(self, node: Node, path: PathT) -> Any:
        self.expanded += 1
        if self.expanded > MAX_EXPANDED_NODES:
            raise self.fail(
                node, path, f"a document of at most {MAX_EXPANDED_NODES} values once aliases "
                "are expanded", "an alias expansion bomb",
            )
        if path not in self.positions:
            self.positions[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if id(node) in self.active:
            raise self.fail(node, path, "a document without recursive aliases",
                            "an alias that contains itself")
        tag = str(node.tag)
        if isinstance(node, ScalarNode):
            return self.scalar(node, tag, path)
        self.active.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                if tag not in (_T + "seq",):
                    raise self.fail(node, path, "a plain YAML list (no custom tags)",
                                    f"tag {tag}")
                return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
            if isinstance(node, MappingNode):
                if tag not in (_T + "map",):
                    raise self.fail(node, path, "a plain YAML mapping (no custom tags)",
                                    f"tag {tag}")
                return self.mapping(node, path)
        finally:
            self.active.discard(id(node))
        raise self.fail(node, path, "a YAML value", f"node {type(node).__name__}")

    def mapping(self, node: MappingNode, path: PathT) -> dict[str, Any]:
        out: dict[str, Any] = {}
        merged: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if str(key_node.tag) == _T + "merge":
                # "<<: *defaults" — explicit keys win over merged ones, as YAML 1.1 says.
                value = self.build(value_node, path)
                sources = value if isinstance(value, list) else [value]
                for src in sources:
                    if not isinstance(src, dict):
                        raise self.fail(value_node, path, "a mapping to merge", "not a mapping")
                    for k, v in src.items():
                        merged.setdefault(k, v)
                continue
            if not isinstance(key_node, ScalarNode):
                raise self.fail(key_node, path, "a plain string key", "a complex key")
            key = self.scalar(key_node, str(key_node.tag), path)
            if isinstance(key, bool) or key is None or isinstance(key, float):
                raise self.fail(key_node, path, "a string key", describe(key))
            key = str(key)
            if key in out:
                raise self.fail(key_node, (*path, key), "each key once per mapping",
                                f"duplicate key {key!r}")
            self.key_positions[(*path, key)] = (
                key_node.start_mark.line + 1, key_node.start_mark.column + 1,
            )
            out[key] = self.build(value_node, (*path, key))
        for k, v in merged.items():
            out.setdefault(k, v)
        return out

    def scalar(self, node: ScalarNode, tag: str, path: PathT) -> Any:
        value: str = node.value
        if tag not in _SCALAR_TAGS:
            raise self.fail(node, path, "a plain YAML value (no custom tags)", f"tag {tag}")
        if tag == _T + "null":
            return None
        if tag == _T + "bool":
            return value.lower() in ("true", "yes", "on")
        if tag == _T + "int":
            try:
                return int(value.replace("_", ""), 0)
            except ValueError:
                try:
                    return int(value.replace("_", ""), 10)
                except ValueError:
                    raise self.fail(node, path, "an integer", repr(value)) from None
        if tag == _T + "float":
            text = value.replace("_", "").lower()
            if text in (".inf", "+.inf"):
                return float("inf")
            if text == "-.inf":
                return float("-inf")
            if text == ".nan":
                return float("nan")
            try:
                return float(text)
            except ValueError:
                raise self.fail(node, path, "a number", repr(value)) from None
        return value

"""Bounded reading of JSON Lines: each line read with a length cap, parsed with a depth limit.

Every reader of a log or an events file goes through here (:mod:`engine.audit.query`,
``sim.audit_sink``, ``sim.replay`` and the commands on top of them), so a file that is not what
it should be -- empty, binary, one endless line, ``/dev/zero``, JSON nested a hundred thousand
deep, a directory -- is refused with the file and line named, in bounded memory and time. The
limits (:data:`MAX_LINE_BYTES`, :data:`MAX_DEPTH`) are described in docs/audit-log.md,
"Reading a log".
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from types import TracebackType
from typing import IO, Any

import orjson

from engine.audit.errors import AuditFileError

MAX_LINE_BYTES = 2 * 1024 * 1024
"""The longest line a reader accepts, newline excluded (the simulator's longest is ~10 KB).

A line this long parses into at most ~60 MB of Python objects (a line of ``{},{},...``), so a
command reading it stays under 200 MB whatever the file holds (measured: 117 MB at peak)."""

MAX_DEPTH = 64
"""The deepest nesting of objects and arrays a reader accepts (the simulator writes 6)."""

_DEPTH_CHARS = b'"[]{}'
_NOT_DEPTH_CHARS = bytes(b for b in range(256) if b not in _DEPTH_CHARS)
_TO_PARENS = bytes.maketrans(b"[]{}", b"()()")
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
_ORJSON_DIGITS = b"0" * 19
"""orjson reads an integer outside [-2**63, 2**64) as a float; such a number has 19 digits or
more (-9223372036854775809 has 19)."""


class OpenError(AuditFileError):
    """A file that cannot be opened for reading.

    Attributes:
        why: Why, in a few words ("no such file", "a directory, not a file").
    """

    def __init__(self, path: str | os.PathLike[str], why: str, expected: str) -> None:
        self.why = why
        super().__init__(path, f"cannot read: {why}; expected {expected}")


class LineError(AuditFileError):
    """A line that is not what its reader expects; names the file, the line and what was expected.

    Attributes:
        line: The 1-based line number.
        problem: What is wrong, as it follows "line N" (``is not JSON (...)``).
        expected: What the reader expected there.
    """

    def __init__(self, path: str | os.PathLike[str], line: int, problem: str,
                 expected: str) -> None:
        self.line = line
        self.problem = problem
        self.expected = expected
        super().__init__(path, f"line {line} {problem}; expected {expected}")


class LineLimitError(LineError):
    """A line beyond the readers' bounds (too long or nested too deep): nothing reads past it."""


class JsonLineError(ValueError):
    """Why a line's bytes are not JSON a reader accepts (:func:`parse_json`).

    Attributes:
        problem: What is wrong, as it follows "line N" (``is not JSON (...)``).
        column: The 1-based column where the parser stopped, when known.
        cut: Whether the JSON ends early, as a line cut off mid-write does.
        limit: Whether the line is beyond the readers' bounds rather than malformed.
    """

    def __init__(self, problem: str, *, column: int | None = None, cut: bool = False,
                 limit: bool = False) -> None:
        self.problem = problem
        self.column = column
        self.cut = cut
        self.limit = limit
        super().__init__(problem)


def nesting_within(raw: bytes, max_depth: int = MAX_DEPTH) -> bool | None:
    """Whether the brackets of a JSON text nest at most ``max_depth`` deep, without parsing it.

    Brackets inside strings do not count. The check runs at C speed (``bytes.translate``,
    ``split`` and ``replace``), at most ``max_depth`` passes over the line's brackets.

    Returns:
        True when the brackets balance within ``max_depth`` levels; False when they nest
        deeper (as far as ``max_depth`` passes can tell: an unbalanced text with as many
        closing as opening brackets counts as deeper too); None when they cannot balance, so
        the text is not JSON.
    """
    if raw.count(b"[") + raw.count(b"{") <= max_depth:
        return True
    # Escaped backslashes first, then escaped quotes: what remains of '"' delimits strings.
    text = raw.replace(b"\\\\", b"").replace(b'\\"', b"").translate(None, _NOT_DEPTH_CHARS)
    brackets = b"".join(text.split(b'"')[::2]).translate(_TO_PARENS)
    for _ in range(max_depth):
        if not brackets:
            return True
        inner = brackets.replace(b"()", b"")  # one pass removes exactly one level
        if len(inner) == len(brackets):
            return None
        brackets = inner
    if not brackets:
        return True
    # Deeper than allowed, or unbalanced: equal counts decide which (not exactly, but the
    # message only), without the unbounded passes that would tell them apart.
    return False if brackets.count(b"(") == brackets.count(b")") else None


def parse_json(raw: bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse one line of JSON, refusing nesting deeper than ``max_depth`` before parsing it.

    orjson reads the line, unless it holds a run of 19 digits (maybe an integer beyond 64 bits,
    which orjson would read as a float); that line, and any orjson refuses (NaN, a lone surrogate),
    is read by :func:`json.loads`, which never recurses past ``max_depth`` here.

    Raises:
        JsonLineError: when the line is not UTF-8 JSON or nests too deep.
    """
    depth = nesting_within(raw, max_depth)
    if depth is False:
        raise JsonLineError(f"nests objects and arrays more than {max_depth} deep",
                            limit=True)
    if depth is None:
        raise JsonLineError("is not JSON (its brackets do not balance)",
                            cut=raw.count(b"[") + raw.count(b"{")
                            > raw.count(b"]") + raw.count(b"}"))
    if _ORJSON_DIGITS not in raw.translate(_DIGITS_TO_ZERO):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JsonLineError(f"is not UTF-8 text (byte {exc.start + 1} is "
                            f"0x{raw[exc.start]:02x})", column=exc.start + 1) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise JsonLineError(f"is not JSON ({exc.msg} at column {exc.colno})",
                            column=exc.colno,
                            cut=exc.pos >= len(text.rstrip())
                            or exc.msg.startswith("Unterminated string")) from None
    except RecursionError:  # pragma: no cover - nesting_within bounds the depth
        raise JsonLineError(f"nests objects and arrays more than {max_depth} deep",
                            limit=True) from None


def describe(value: object) -> str:
    """A short, safe account of a parsed value for an error message (keys, not contents)."""
    if isinstance(value, dict):
        keys = sorted(str(k) for k in value)
        shown = ", ".join(k if len(k) <= 20 else k[:20] + "..." for k in keys[:6])
        more = f" and {len(keys) - 6} more" if len(keys) > 6 else ""
        return f"an object with keys {ascii(shown)[1:-1]}{more}" if keys else "an empty object"
    names = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def open_binary(path: str | os.PathLike[str], expected: str) -> IO[bytes]:
    """Open a file for bounded reading, or say in one line why it cannot be.

    Raises:
        OpenError: naming the file, why it cannot be read and what was expected.
    """
    try:
        return open(path, "rb")
    except FileNotFoundError:
        why = "no such file"
    except IsADirectoryError:
        why = "a directory, not a file"
    except OSError as exc:
        why = exc.strerror or str(exc)
    raise OpenError(path, why, expected)


class JsonLines:
    """One JSON Lines file read with a bound on every line: a context manager of its lines.

    Iterating yields ``(number, raw)``: the 1-based line number and the line's bytes, newline
    included; a last line without its newline (a file cut off mid-write) is yielded as it is,
    for the caller to judge. :meth:`parse` parses a line with the depth limit and turns any
    problem into a :class:`LineError` that names the file and line.

    Args:
        path: The file.
        expected: What the file should be, for messages ("an agentrange audit log").
        max_line_bytes: The longest line accepted, newline excluded.
        max_depth: The deepest nesting accepted.

    Raises:
        OpenError: (on entering) when the file cannot be opened;
        LineError: (iterating) on a line holding a NUL byte (binary data);
        LineLimitError: (iterating) on a line longer than ``max_line_bytes``.
    """

    def __init__(self, path: str | os.PathLike[str], expected: str, *,
                 max_line_bytes: int = MAX_LINE_BYTES, max_depth: int = MAX_DEPTH) -> None:
        self.path = os.fspath(path)
        self.expected = expected
        self.max_line_bytes = max_line_bytes
        self.max_depth = max_depth
        self._handle: IO[bytes] | None = None

    def __enter__(self) -> JsonLines:
        self._handle = open_binary(self.path, self.expected)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        if self._handle is None:
            raise RuntimeError("JsonLines is read inside its 'with' block")
        readline = self._handle.readline
        limit = self.max_line_bytes + 1
        number = 0
        while True:
            try:
                raw = readline(limit)
            except OSError as exc:
                raise AuditFileError(self.path, f"cannot read line {number + 1}: "
                                     f"{exc.strerror or exc}") from None
            if not raw:
                return
            number += 1
            nul = raw.find(b"\0")
            if nul >= 0:
                raise LineError(self.path, number, f"holds binary data (a NUL byte at byte "
                                f"{nul + 1})", f"{self.expected}, which is text")
            if len(raw) == limit and raw[-1:] != b"\n":
                raise LineLimitError(self.path, number, "is longer than "
                                     f"{self.max_line_bytes:,} bytes",
                                     f"{self.expected}, whose lines are shorter")
            yield number, raw

    def parse(self, number: int, raw: bytes, expected: str = "one JSON object per line"
              ) -> Any:
        """Parse line ``number`` with the depth limit.

        Raises:
            LineError: when it is not JSON; LineLimitError when it nests too deep.
        """
        try:
            return parse_json(raw, max_depth=self.max_depth)
        except JsonLineError as exc:
            error = LineLimitError if exc.limit else LineError
            raise error(self.path, number, exc.problem, expected) from None

    def error(self, number: int, problem: str, expected: str) -> LineError:
        """A :class:`LineError` for line ``number`` of this file, to raise."""
        return LineError(self.path, number, problem, expected)

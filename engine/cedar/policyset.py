"""Cedar policy text read into policies with their annotations, files and lines.

A Cedar file is split into its policies (each ends with ``;`` outside strings and comments)
so every policy keeps the file and line it starts on; each is parsed by Cedar itself
(cedarpy's ``policies_to_pst``) for its effect and annotations. The annotations carry what
agentrange needs to account for a decision (see ``docs/cedar.md``):

- ``@id("rule-id")``: the rule id decisions report (default ``<file stem>-<line>``);
- ``@effect("allow" | "deny" | "require_approval")``: ``require_approval`` on a ``forbid``
  (default: ``allow`` for ``permit``, ``deny`` for ``forbid``);
- ``@envelope("business" | "security" | "legal")`` (default ``security``), ``@mode("enforce" |
  "shadow")`` (default ``enforce``), ``@description``, ``@frameworks("ASI01, ASI02")``,
  ``@obligations("a, b")``; ``@owner`` is informative (the owner follows from the envelope).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields, is_dataclass
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from engine.cedar.errors import CedarError
from engine.cedar.runtime import cedarpy
from engine.policy.decision import Effect

EFFECTS = {"permit": ("allow",), "forbid": ("deny", "require_approval")}
ENVELOPES = ("business", "security", "legal")
MODES = ("enforce", "shadow")
MAX_FILE_BYTES = 10 * 1024 * 1024
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")  # engine.fields.Id
_EFFECT_WORD = re.compile(r"\b(permit|forbid)\b")


@dataclass(frozen=True)
class CedarPolicy:
    """One Cedar policy with what agentrange reads from its annotations.

    Attributes:
        id: The rule id decisions report.
        effect: What it asks for when it is determining.
        envelope: Whose envelope it belongs to.
        mode: ``enforce``, or ``shadow`` (evaluated and reported, never enforced).
        text: Its Cedar text, annotations included.
        file: The file it was read from.
        line: The line it starts on.
        description: Its ``@description``.
        frameworks: Its ``@frameworks`` references.
        obligations: Its ``@obligations``.
        notes: What was assumed for a missing annotation (for the import report).
    """

    id: str
    effect: Effect
    envelope: str
    mode: str
    text: str
    file: str
    line: int
    description: str = ""
    frameworks: tuple[str, ...] = ()
    obligations: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=(), compare=False)

    @property
    def where(self) -> str:
        """``file:line``."""
        return f"{self.file}:{self.line}"

    def as_permit(self) -> str:
        """The same policy as a ``permit`` (how shadow policies are asked whether they match)."""
        return flip_to_permit(self.text)


@dataclass(frozen=True)
class Chunk:
    """One policy's text as it stands in a file."""

    text: str
    line: int


def mask(text: str) -> str:
    """The text with string contents and comments blanked (newlines kept), same length."""
    out = list(text)
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == '"':
            i += 1
            while i < n and text[i] != '"':
                if text[i] == "\\" and i + 1 < n:
                    out[i] = " "
                    i += 1
                if text[i] != "\n":
                    out[i] = " "
                i += 1
            i += 1
        elif ch == "/" and i + 1 < n and text[i + 1] == "/":
            while i < n and text[i] != "\n":
                out[i] = " "
                i += 1
        else:
            i += 1
    return "".join(out)


def split(text: str) -> list[Chunk]:
    """The policies of a Cedar text, each with the line its first token is on.

    Text after the last ``;`` that is not blank becomes a chunk of its own, for Cedar to
    report as incomplete.
    """
    masked = mask(text)
    chunks: list[Chunk] = []
    start = 0
    for m in re.finditer(";", masked):
        chunks.append(_chunk(text, masked, start, m.end()))
        start = m.end()
    if masked[start:].strip():
        chunks.append(_chunk(text, masked, start, len(text)))
    return [c for c in chunks if c.text.strip()]


def _chunk(text: str, masked: str, start: int, end: int) -> Chunk:
    body = masked[start:end]
    offset = len(body) - len(body.lstrip())
    first = start + offset
    return Chunk(text[first:end], text.count("\n", 0, first) + 1)


def flip_to_permit(text: str) -> str:
    """A policy's text with its effect keyword turned into ``permit``."""
    m = _EFFECT_WORD.search(mask(text))
    if m is None or m.group(1) == "permit":
        return text
    return text[:m.start()] + "permit" + text[m.end():]


def _split_list(value: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in value.split(",") if p.strip())


def parse_chunk(chunk: Chunk, file: str) -> CedarPolicy:
    """Parse one policy with Cedar and read its annotations.

    Raises:
        CedarError: naming ``file:line`` for text Cedar does not parse, a template, or an
            annotation with a value agentrange does not know.
    """
    cp = cedarpy()
    where = f"{file}:{chunk.line}"
    try:
        pst = cp.policies_to_pst(chunk.text)
    except ValueError as exc:
        raise CedarError(f"{where}: Cedar cannot parse this policy: {_first_line(exc)}") \
            from None
    if pst.templates:
        raise CedarError(f"{where}: a template (?principal or ?resource): agentrange "
                         "rehearses static policies; link the template first")
    (policy,) = pst.static_policies.values()
    notes: list[str] = []
    ann: dict[str, str] = dict(policy.annotations)
    stem = Path(file).stem
    pid = ann.get("id") or f"{stem}-{chunk.line}"
    if "id" not in ann:
        notes.append(f"no @id: reported as rule {pid}")
    if not _ID.match(pid) or len(pid) > 128:
        raise CedarError(f"{where}: @id {pid!r}: an id of letters, digits, '.', '-' and '_' "
                         "starting with a letter or digit")
    allowed = EFFECTS[policy.effect]
    effect = ann.get("effect", allowed[0])
    if effect not in allowed:
        raise CedarError(f"{where}: @effect({effect!r}) on a {policy.effect}: expected "
                         f"{' or '.join(allowed)}")
    envelope = ann.get("envelope")
    if envelope is None:
        envelope = "security"
        notes.append("no @envelope: taken as security")
    if envelope not in ENVELOPES:
        raise CedarError(f"{where}: @envelope({envelope!r}): expected one of "
                         f"{', '.join(ENVELOPES)}")
    mode = ann.get("mode", "enforce")
    if mode not in MODES:
        raise CedarError(f"{where}: @mode({mode!r}): expected enforce or shadow")
    return CedarPolicy(pid, Effect(effect), envelope, mode, chunk.text, file, chunk.line,
                       ann.get("description", ""), _split_list(ann.get("frameworks", "")),
                       _split_list(ann.get("obligations", "")), tuple(notes))


def _first_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:400]


def parse_text(text: str, file: str) -> list[CedarPolicy]:
    """Every policy of one Cedar text (see :func:`parse_chunk` for errors)."""
    return [parse_chunk(c, file) for c in split(text)]


def cedar_files(path: Path | Traversable) -> list[Path | Traversable]:
    """The ``.cedar`` files a path names: itself, or a directory's, sorted by name.

    Raises:
        CedarError: when the path does not exist or a directory holds no ``.cedar`` file.
    """
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise CedarError(f"{path}: no such Cedar file or directory")
    files = sorted((p for p in path.iterdir() if p.name.endswith(".cedar") and p.is_file()),
                   key=lambda p: p.name)
    if not files:
        raise CedarError(f"{path}: a directory holding .cedar files (found none)")
    return files


def read_text(file: Path | Traversable, source: str) -> str:
    """A Cedar file's text (UTF-8, at most 10 MB).

    Raises:
        CedarError: when the file cannot be read, is too large or is not UTF-8.
    """
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise CedarError(f"{source}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_FILE_BYTES:
        raise CedarError(f"{source}: a Cedar file of at most 10 MB (found {len(data)} bytes)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CedarError(f"{source}: UTF-8 text (found an invalid byte at offset "
                         f"{exc.start})") from None


def read_policies(path: Path | Traversable, source: str | None = None
                  ) -> list[CedarPolicy]:
    """Every policy of a Cedar file or directory, in file then text order.

    Args:
        path: A ``.cedar`` file or a directory of them.
        source: How messages name ``path`` (default: the path).

    Raises:
        CedarError: as :func:`cedar_files`, :func:`read_text` and :func:`parse_chunk`, and
            for two policies with the same id.
    """
    base = source or str(path)
    out: list[CedarPolicy] = []
    files = cedar_files(path)
    for f in files:
        name = base if f is path else f"{base.rstrip('/')}/{f.name}"
        out += parse_text(read_text(f, name), name)
    unique(out)
    return out


def unique(policies: Sequence[CedarPolicy]) -> None:
    """Raise CedarError naming both places when two policies share an id."""
    seen: dict[str, CedarPolicy] = {}
    for p in policies:
        if p.id in seen:
            raise CedarError(f"{p.where}: @id {p.id!r} is also the id of the policy at "
                             f"{seen[p.id].where}; rule ids must be unique")
        seen[p.id] = p


# --- what the policies read -------------------------------------------------------------------

EVERYTHING = "*"


def context_reads(policies: Iterable[CedarPolicy]) -> frozenset[tuple[str, str]]:
    """The ``context`` fields the policies read: (field, attribute) pairs.

    ``(field, "*")`` when a policy reads a whole field, ``("*", "*")`` when it reads the whole
    context (then every field counts).
    """
    cp = cedarpy()
    found: set[tuple[str, str]] = set()
    text = "\n".join(p.text for p in policies)
    if not text.strip():
        return frozenset()
    pst = cp.policies_to_pst(text)
    for policy in pst.static_policies.values():
        for clause in policy.clauses:
            _walk(clause.expr, found)
    return frozenset(found)


def _walk(node: Any, found: set[tuple[str, str]]) -> None:
    chain = _context_chain(node)
    if chain is not None:
        found.add((chain[0], chain[1] if len(chain) > 1 else EVERYTHING))
        return
    if isinstance(node, tuple | list):
        for item in node:
            _walk(item, found)
        return
    if isinstance(node, dict):
        for item in node.values():
            _walk(item, found)
        return
    if is_dataclass(node) and not isinstance(node, type):
        if type(node).__name__ == "Var" and getattr(node, "name", None) == "context":
            found.add((EVERYTHING, EVERYTHING))
            return
        for f in fields(node):
            _walk(getattr(node, f.name), found)


def _context_chain(node: Any) -> list[str] | None:
    """For ``context.a.b...`` (or ``context.a has b``) the attribute names; else None."""
    names: list[str] = []
    cur = node
    while True:
        kind = type(cur).__name__
        if kind == "GetAttr":
            names.append(cur.attr)
            cur = cur.base
        elif kind == "HasAttr" and not names:
            names.append(cur.attrs[0])
            cur = cur.base
        else:
            break
    if type(cur).__name__ == "Var" and getattr(cur, "name", None) == "context" and names:
        return list(reversed(names))
    return None

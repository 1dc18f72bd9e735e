"""Shared by the audit log tests: realistic records, a log writer, and a forger's tools.

The forger knows the format but not the key: it can edit, delete, insert, renumber and re-hash
records (:func:`relink`), and move or drop checkpoint lines, but never sign one.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from engine.audit.canonical import canonical_json
from engine.audit.signing import derive_signing_key

KEY = derive_signing_key(42)
AGENTS = ("support-bot", "planner", "coder")
NONCE = "0123456789abcdef" * 2


def record(i: int) -> dict[str, Any]:
    """A realistic decision record; the i-th one is deterministic."""
    agent = AGENTS[i % 3]
    return {
        "time": 30.0 * i,
        "agent": f"spiffe://acme.example/agent/{agent}",
        "chain": [f"spiffe://acme.example/agent/{a}" for a in AGENTS[: i % 3 + 1]],
        "task": f"task-{i // 2:04d}",
        "tool": "crm.read" if i % 2 else "email.send",
        "resource": "crm/customers",
        "data_class": "customer_pii",
        "records": i * 3,
        "jti": f"acme-{i:08d}",
        "decision": {
            "effect": ("allow", "deny", "require_approval")[i % 3],
            "rule": f"rule-{i % 4}",
            "matched": [f"rule-{i % 4}", "baseline"],
            "envelope": "security",
        },
        "owners": {"business": "ana@acme.example", "security": "bo@acme.example"},
        "outcome": "executed",
        "note": "résumé ✓",  # non-ASCII survives the canonical encoding unescaped
    }


def write_log(
    path: Path,
    n: int = 10,
    every: int = 4,
    key: Any = KEY,
    run_id: str = "run-1",
    **options: Any,
) -> Path:
    """A closed log of records 1..n with a checkpoint every ``every`` records."""
    from engine.audit.writer import AuditWriter

    with AuditWriter(path, key, run_id=run_id, checkpoint_every=every, **options) as log:
        for i in range(1, n + 1):
            log.append(record(i))
    return path


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def rewrite(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"".join(lines))
    return path


def rehashed(obj: dict[str, Any]) -> bytes:
    """A line for obj with a freshly computed hash, as a forger who knows the format writes it."""
    body = {k: v for k, v in obj.items() if k != "hash"}
    data = canonical_json(body).encode()
    return data[:-1] + b',"hash":"' + hashlib.sha256(data).hexdigest().encode() + b'"}\n'


def objects(path: Path) -> list[dict[str, Any]]:
    """The log's lines, parsed."""
    return [json.loads(raw) for raw in lines_of(path)]


def is_checkpoint(obj: dict[str, Any]) -> bool:
    return "checkpoint" in obj


def index_of_seq(objs: list[dict[str, Any]], seq: int) -> int:
    """The index (0-based line) of the record with this seq."""
    return next(i for i, o in enumerate(objs) if not is_checkpoint(o) and o.get("seq") == seq)


def index_of_checkpoint(objs: list[dict[str, Any]], seq: int, final: bool = False) -> int:
    return next(
        i
        for i, o in enumerate(objs)
        if is_checkpoint(o) and o["checkpoint"]["seq"] == seq and o["checkpoint"]["final"] is final
    )


def relink(
    objs: list[dict[str, Any]], start: int, stop: int | None = None, *, renumber: bool = True
) -> list[bytes]:
    """Re-hash (and renumber) the records in lines ``start..stop`` so the chain holds there.

    Checkpoint lines are kept as they are (the forger cannot sign). Returns every line as bytes;
    lines outside the range are written back unchanged.
    """
    stop = len(objs) if stop is None else stop
    prev = None
    seq = 0
    for i in range(start - 1, -1, -1):
        if not is_checkpoint(objs[i]):
            prev, seq = objs[i]["hash"], objs[i]["seq"]
            break
    out: list[bytes] = []
    for i, obj in enumerate(objs):
        if is_checkpoint(obj):
            out.append(canonical_json(obj).encode() + b"\n")
            continue
        if start <= i < stop:
            seq += 1
            obj = {**obj, "prev": prev, **({"seq": seq} if renumber else {})}
            line = rehashed(obj)
            obj["hash"] = json.loads(line)["hash"]
            objs[i] = obj
            out.append(line)
        else:
            out.append(rehashed(obj))
        prev = objs[i]["hash"]
    return out

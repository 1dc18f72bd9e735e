"""JSON Lines files of scores that many processes append to at once (drill results, --scores).

Each record is one line written with a single ``write`` on a descriptor opened with
``O_APPEND``, under an exclusive ``flock`` on the file: the kernel puts every append at the
end, and the lock keeps two long lines from interleaving, so a room of participants finishing
together never tears or loses a line. Readers take a shared lock and name the file and line
of anything that is not a JSON object.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.errors import AgentrangeError


class ScoreLogError(AgentrangeError):
    """A scores file could not be written or read."""


def append_record(path: Path, record: Mapping[str, Any]) -> None:
    """Append ``record`` to ``path`` as one JSON line, atomically (creating the file).

    Raises:
        ScoreLogError: the file cannot be opened or written.
    """
    line = (json.dumps(record, sort_keys=False, separators=(",", ":")) + "\n").encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as exc:
        raise ScoreLogError(f"{path}: cannot open for appending: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        written = os.write(fd, line)
        if written != len(line):  # a full disk: say so rather than leave half a line unseen
            raise ScoreLogError(f"{path}: only {written} of {len(line)} bytes were written")
    except OSError as exc:
        raise ScoreLogError(f"{path}: cannot append: {exc.strerror}") from None
    finally:
        os.close(fd)  # closing releases the lock


def read_records(path: Path) -> list[dict[str, Any]]:
    """Every record of ``path`` in the order appended (an absent file holds none).

    Raises:
        ScoreLogError: the file cannot be read, or a line is not a JSON object.
    """
    try:
        with path.open("rb") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_SH)
            data = handle.read()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise ScoreLogError(f"{path}: cannot read: {exc.strerror}") from None
    records: list[dict[str, Any]] = []
    for number, raw in enumerate(data.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ScoreLogError(f"{path}:{number}: expected a JSON object, found "
                                f"unreadable text ({exc})") from None
        if not isinstance(record, dict):
            raise ScoreLogError(f"{path}:{number}: expected a JSON object, found "
                                f"{type(record).__name__}")
        records.append(record)
    return records

"""Audit log throughput: records/s written and verified, beside plain JSON of the same records.

Writing includes the hash chain, buffered writes and a signed checkpoint every 1,000 records
with flush + fsync at each; verifying checks every hash, link and signature.

The targets (write >= 100,000 records/s, verify >= 200,000) are printed beside each rate as
ratios to the canonical-bytes floor measured in the same run (``canonical_bytes`` alone over
the same records), which a loaded machine slows as much as the log itself.

Run: ``python benchmarks/audit.py [--records N] [--repeats R] [--profile write|verify]
[--json]``. Prints medians over the repeats and ratios; it is not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.audit.canonical import _orjson_safe, _reference_bytes, canonical_bytes
from engine.audit.signing import derive_signing_key
from engine.audit.verifier import verify_log
from engine.audit.writer import AuditWriter

WRITE_TARGET = 100_000.0
VERIFY_TARGET = 200_000.0
AGENTS = ("support-bot", "planner", "coder", "deployer", "vendor-crm-agent", "finance-bot")
TOOLS = ("crm.read", "crm.export", "email.send", "repo.push", "deploy.run", "refund.issue")


def make_records(n: int) -> list[dict[str, Any]]:
    """N distinct decision records shaped like the simulator's (17 fields, nested decision).

    Like ``sim.runner``'s: the chain is a tuple, most records have no incident (None), times
    are floats. One record in 500 carries a float below 1e-4 (written as ``1e-05``), which the
    orjson fast path hands to the standard library encoder.
    """
    out = []
    for i in range(n):
        agent = AGENTS[i % len(AGENTS)]
        rule = f"{agent}-{TOOLS[i % len(TOOLS)]}"
        out.append(
            {
                "event": i * 3 + 1,
                "time": round(i * 0.731, 3) if i % 500 else i * 1e-9,
                "agent": f"spiffe://acme.example/agent/{agent}",
                "chain": tuple(f"spiffe://acme.example/agent/{a}" for a in AGENTS[: 1 + i % 3]),
                "task": f"task-{i // 7:06d}",
                "tool": TOOLS[i % len(TOOLS)],
                "resource": f"crm/customers/{i % 5000}",
                "data_class": ("customer_pii", "internal", "credentials", "public")[i % 4],
                "records": (i * 7919) % 250,
                "jti": f"acme-{i // 7:08d}",
                "decision": {
                    "effect": ("allow", "allow", "deny", "require_approval")[i % 4],
                    "rule": rule,
                    "matched": [rule, "baseline-allow"],
                    "envelope": ("business", "security", "legal")[i % 3],
                },
                "owners": {
                    "business": "ana@acme.example",
                    "security": "bo@acme.example",
                    "incident": "cy@acme.example",
                },
                "destination": "internal" if i % 5 else "external",
                "session": f"s-{i % 97}",
                "outcome": "executed" if i % 4 != 2 else "blocked",
                "incident": None if i % 50 else "prompt-injection",
                "attacker": i % 50 == 0,
            }
        )
    return out


CPU_TIMES: dict[str, float] = {}
"""Median process CPU seconds per measured operation, by label (see :func:`median_seconds`)."""


def median_seconds(fn: Callable[[], object], repeats: int, label: str = "") -> float:
    """Median wall seconds of ``fn`` over the repeats; the CPU median goes to CPU_TIMES.

    On a shared machine the wall figure includes time spent waiting for a core; the CPU
    figure (which leaves out fsync waits) shows what the code itself costs.
    """
    times = []
    cpu = []
    for _ in range(repeats):
        start = time.perf_counter()
        start_cpu = time.process_time()
        fn()
        cpu.append(time.process_time() - start_cpu)
        times.append(time.perf_counter() - start)
    if label:
        CPU_TIMES[label] = statistics.median(cpu)
    return statistics.median(times)


def write_audit(path: Path, records: list[dict[str, Any]]) -> None:
    key = derive_signing_key(1)
    with AuditWriter(path, key, run_id="bench", overwrite=True) as log:
        append = log.append
        for rec in records:
            append(rec)


def write_plain(path: Path, records: list[dict[str, Any]]) -> None:
    """The floor: canonical JSON Lines with no chain, no hashing, no signatures, no fsync."""
    dumps = json.dumps
    with open(path, "w", encoding="utf-8", buffering=1 << 20) as out:
        for rec in records:
            out.write(dumps(rec, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n")


def encode_only(records: list[dict[str, Any]]) -> None:
    """The floor for any writer of this format: the canonical encoding alone."""
    for rec in records:
        canonical_bytes(rec)


def encode_stdlib(records: list[dict[str, Any]]) -> None:
    """The canonical encoding by the standard library alone (the encoder before orjson)."""
    for rec in records:
        _reference_bytes(rec)


def read_plain(path: Path) -> None:
    """The floor for reading: parse every line, check nothing."""
    loads = json.loads
    with open(path, "rb") as handle:
        for raw in handle:
            loads(raw)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--profile", choices=("write", "verify"), help="pyinstrument one pass")
    parser.add_argument("--json", action="store_true",
                        help="print the figures as one JSON line (for benchmarks/against.py)")
    args = parser.parse_args()
    records = make_records(args.records)
    n = len(records)

    with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:
        log = Path(tmp) / "bench.audit.jsonl"
        plain = Path(tmp) / "bench.plain.jsonl"
        if args.profile:
            from pyinstrument import Profiler

            write_audit(log, records)
            profiler = Profiler()
            with profiler:
                if args.profile == "write":
                    write_audit(log, records)
                else:
                    verify_log(log)
            print(profiler.output_text(unicode=True, color=False))
            return

        t_write = median_seconds(lambda: write_audit(log, records), args.repeats, "write")
        t_plain_w = median_seconds(lambda: write_plain(plain, records), args.repeats)
        t_encode = median_seconds(lambda: encode_only(records), args.repeats)
        t_stdlib = median_seconds(lambda: encode_stdlib(records), args.repeats)
        report = verify_log(log)
        assert report.ok and report.records == n, report
        t_verify = median_seconds(lambda: verify_log(log), args.repeats, "verify")
        t_plain_r = median_seconds(lambda: read_plain(plain), args.repeats)
        size = log.stat().st_size

    write_rate = n / t_write
    verify_rate = n / t_verify
    floor = n / t_encode
    figures = {
        "write": write_rate,
        "verify": verify_rate,
        "write_per_cpu_s": n / CPU_TIMES["write"],
        "verify_per_cpu_s": n / CPU_TIMES["verify"],
        "canonical_bytes": floor,
        "write_floor_ratio_x1000": 1000 * write_rate / floor,
        "verify_floor_ratio_x1000": 1000 * verify_rate / floor,
    }
    # With --json the report goes to stderr and one JSON line to stdout (benchmarks/against.py).
    out = sys.stderr if args.json else sys.stdout
    lines = [
        f"audit log benchmark: {n:,} records ({size / n:.0f} bytes/line), "
        f"median of {args.repeats}, checkpoint every 1,000 (fsync each)",
        f"  machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end",
        f"  canonical-bytes floor     {floor:>10,.0f} records/s   (canonical_bytes alone, this "
        "run: the ratios below are to it, so they hold however loaded the machine)",
    ]
    for name, rate, target in (
        ("write", write_rate, WRITE_TARGET),
        ("verify", verify_rate, VERIFY_TARGET),
    ):
        lines.append(
            f"  {name:<6}  {rate:>10,.0f} records/s = {rate / floor:.2f}x the floor   "
            f"target {target:,.0f} = {target / floor:.2f}x the floor "
            f"({rate / target:.2f}x target; {figures[name + '_per_cpu_s']:,.0f} records per "
            "CPU-second)"
        )
    lines += [
        f"  plain json.dumps + write  {n / t_plain_w:>10,.0f} records/s   "
        f"(audit write costs {t_write / t_plain_w:.2f}x)",
        f"  stdlib canonical encoder  {n / t_stdlib:>10,.0f} records/s   "
        f"(canonical_bytes is {t_stdlib / t_encode:.2f}x faster; orjson fast path taken by "
        f"{sum(map(_orjson_safe, records)) / n:.1%} of records)",
        f"  plain json.loads per line {n / t_plain_r:>10,.0f} records/s   "
        f"(audit verify costs {t_verify / t_plain_r:.2f}x)",
    ]
    print("\n".join(lines), file=out)
    if args.json:
        print(json.dumps({"benchmark": "audit", "records": n, "figures": figures}))


if __name__ == "__main__":
    main()

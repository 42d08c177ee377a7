"""CPU time of processes on this machine, read from /proc: what a benchmark's processes
used while it ran, so that its figures can be put per document."""

from __future__ import annotations

import os
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def _cpu(pid: int | str) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def descendants(pid: int) -> list[int]:
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []
    found: list[int] = []
    for child in map(int, children):
        found += [child, *descendants(child)]
    return found


def tree_cpu(pids: list[int]) -> float:
    """CPU seconds used so far by these processes and all their descendants."""
    return sum(_cpu(p) for pid in pids for p in [pid, *descendants(pid)])


def postgres_backends_cpu(database: str) -> float | None:
    """CPU seconds used so far by the local PostgreSQL server's backends connected to this
    database (their command line names it); None when no such backend runs here. The
    server's shared processes (WAL writer, checkpointer) are not counted."""
    total, found = 0.0, False
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if not (entry / "comm").read_text().startswith("postgres"):
                continue
            words = (entry / "cmdline").read_bytes().replace(b"\0", b" ").split()
        except OSError:
            continue
        if database.encode() in words:
            found = True
            total += _cpu(entry.name)
    return total if found else None


def load_average() -> float:
    return os.getloadavg()[0]

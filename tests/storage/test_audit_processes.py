"""Two processes appending to the audit chain of one SQLite file at the same time (the API
and a worker do) form one unbroken chain: each append takes SQLite's write lock before it
reads the chain head."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from gateway.audit import chain as audit
from gateway.kit.db import engine_for, make_engine, session_factory, transaction, upgrade

APPENDS = 150


def append_many(url: str, name: str, start: multiprocessing.synchronize.Barrier) -> list[str]:
    """Append APPENDS one-entry transactions, as a read's audit entry is; return failures."""
    engine = make_engine(url)
    sessions = session_factory(engine)
    failures = []
    start.wait()
    for n in range(APPENDS):
        try:
            with transaction(sessions) as session:
                audit.append(session, [audit.Record(name, "patient.read", "document", str(n))])
        except Exception as error:  # every kind of failure is reported, not only the known one
            failures.append(f"{type(error).__name__}: {error}"[:200])
    engine.dispose()
    return failures


def test_two_processes_append_one_chain(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'audit.sqlite'}"
    upgrade(url)
    context = multiprocessing.get_context("spawn")
    start = context.Manager().Barrier(2)
    with context.Pool(2) as pool:
        runs = [pool.apply_async(append_many, (url, f"p{i}", start)) for i in range(2)]
        failures = [failure for run in runs for failure in run.get(timeout=300)]
    assert failures == []
    with session_factory(engine_for(url))() as session:
        verdict = audit.verify(session)
    engine_for(url).dispose()
    assert verdict == audit.Verdict(True, 2 * APPENDS)

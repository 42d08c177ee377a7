"""Services never commit and hold no SQL (docs/architecture.md, "Sessions and SQL").

A feature's ``service.py`` works in the session it is given: it never commits, rolls back
or begins a transaction, never opens one (``kit.db.transaction``), and builds no SQL
statement (SQLAlchemy's ``select``, ``update``, ``insert``, ``delete``, ``text``): those
are its repository's. The check reads each module's syntax tree, so a rule broken in a
branch no test runs is still caught.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

GATEWAY = Path(__file__).resolve().parents[2] / "gateway"
SERVICES = sorted(GATEWAY.rglob("service.py"))
STATEMENTS = {"select", "update", "insert", "delete", "text"}
TRANSACTION_CALLS = {"commit", "rollback", "begin", "begin_nested"}


def broken_rules(source: str) -> list[str]:
    """Each place ``source`` breaks the rule, as ``line: what``."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = {alias.name for alias in node.names}
            if node.module.split(".")[0] == "sqlalchemy" and names & STATEMENTS:
                found.append(f"{node.lineno}: imports {sorted(names & STATEMENTS)} from sqlalchemy")
            if node.module == "gateway.kit.db" and "transaction" in names:
                found.append(f"{node.lineno}: imports kit.db.transaction")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "sqlalchemy" or alias.name.startswith("sqlalchemy."):
                    found.append(f"{node.lineno}: imports {alias.name} whole")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in TRANSACTION_CALLS
        ):
            found.append(f"{node.lineno}: calls .{node.func.attr}()")
    return found


def test_there_are_services_to_check() -> None:
    assert len(SERVICES) >= 8, SERVICES


@pytest.mark.parametrize("path", SERVICES, ids=lambda p: str(p.relative_to(GATEWAY)))
def test_a_service_never_commits_and_holds_no_sql(path: Path) -> None:
    assert broken_rules(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("session.commit()", ["1: calls .commit()"]),
        ("with session.begin():\n    pass", ["1: calls .begin()"]),
        ("from sqlalchemy import func, select", ["1: imports ['select'] from sqlalchemy"]),
        ("from sqlalchemy.sql import text", ["1: imports ['text'] from sqlalchemy"]),
        ("import sqlalchemy as sa", ["1: imports sqlalchemy whole"]),
        ("from gateway.kit.db import transaction", ["1: imports kit.db.transaction"]),
        ("from sqlalchemy.orm import Session\nrepository.add(session, row)", []),
    ],
)
def test_the_check_sees_what_it_forbids(source: str, expected: list[str]) -> None:
    assert broken_rules(source) == expected

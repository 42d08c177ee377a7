"""SQL lives in repositories (docs/architecture.md, "Sessions and SQL").

Every module of ``gateway`` that builds a statement is a feature's ``repository.py``, a
migration, or one of the few modules named in ``ALLOWED`` with the reason it may. A
module builds statements when it imports a statement builder from SQLAlchemy (``select``,
``update``, ``insert``, ``delete``, ``text``, ``func`` and their kin), a dialect's module
(``postgresql.insert``) or SQLAlchemy whole. The check reads each module's syntax tree,
so a statement in a branch no test runs is still caught.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

GATEWAY = Path(__file__).resolve().parents[2] / "gateway"
BUILDERS = {
    "select",
    "update",
    "insert",
    "delete",
    "text",
    "func",
    "exists",
    "union",
    "union_all",
    "literal_column",
    "table",
    "column",
}
# Modules outside repositories that may build SQL, each for the reason given.
ALLOWED = {
    # The engine and session plumbing: SQLite's pragmas and the readiness probe's SELECT 1.
    "kit/db.py": "engine and session plumbing",
    # The bulk writer every repository uses (COPY on PostgreSQL, executemany elsewhere).
    "kit/bulk.py": "the repositories' bulk insert",
    # Server-side column defaults (``server_default=text(...)``): the schema, not a query.
    "storage/models.py": "server defaults of the schema",
}


def is_repository(relative: str) -> bool:
    return relative.endswith("/repository.py") or relative.startswith("storage/migrations/")


def builds_sql(source: str) -> list[str]:
    """Each import in ``source`` that builds SQL, as ``line: what``."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            parts = node.module.split(".")
            if parts[0] != "sqlalchemy":
                continue
            names = {alias.name for alias in node.names}
            if parts[:2] == ["sqlalchemy", "dialects"]:
                found.append(f"{node.lineno}: imports {sorted(names)} from {node.module}")
            elif names & BUILDERS:
                found.append(f"{node.lineno}: imports {sorted(names & BUILDERS)} from sqlalchemy")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "sqlalchemy" or alias.name.startswith("sqlalchemy."):
                    found.append(f"{node.lineno}: imports {alias.name} whole")
    return found


MODULES = sorted(
    path
    for path in GATEWAY.rglob("*.py")
    if not is_repository(path.relative_to(GATEWAY).as_posix())
    and path.relative_to(GATEWAY).as_posix() not in ALLOWED
)


def test_there_are_modules_to_check() -> None:
    assert len(MODULES) >= 100, len(MODULES)


def test_every_allowed_module_exists_and_still_builds_sql() -> None:
    """An exception that is no longer needed is dropped from the list."""
    for relative in ALLOWED:
        path = GATEWAY / relative
        assert path.is_file(), relative
        assert builds_sql(path.read_text(encoding="utf-8")), relative


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(GATEWAY)))
def test_only_repositories_build_sql(path: Path) -> None:
    assert builds_sql(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from sqlalchemy import func, select", ["1: imports ['func', 'select'] from sqlalchemy"]),
        ("from sqlalchemy.sql import text", ["1: imports ['text'] from sqlalchemy"]),
        (
            "from sqlalchemy.dialects import postgresql",
            ["1: imports ['postgresql'] from sqlalchemy.dialects"],
        ),
        (
            "from sqlalchemy.dialects.sqlite import insert as sqlite_insert",
            ["1: imports ['insert'] from sqlalchemy.dialects.sqlite"],
        ),
        ("import sqlalchemy as sa", ["1: imports sqlalchemy whole"]),
        ("from sqlalchemy.orm import Session\nfrom sqlalchemy import Engine", []),
        ("from gateway.audit import repository as store\nstore.head(session)", []),
    ],
)
def test_the_check_sees_what_it_forbids(source: str, expected: list[str]) -> None:
    assert builds_sql(source) == expected


def test_repositories_and_migrations_are_told_apart() -> None:
    assert is_repository("audit/repository.py")
    assert is_repository("storage/migrations/versions/0009_partitions.py")
    assert not is_repository("audit/chain.py")
    assert not is_repository("repository_helpers.py")

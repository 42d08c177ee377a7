"""Helpers for migration tests: where a revision sits in the chain."""

from __future__ import annotations

from alembic.script import ScriptDirectory

from gateway.kit.db import alembic_config


def parent_of(revision: str) -> str:
    """The revision this one follows (branches' migrations are relinked as they merge, so
    tests ask the chain rather than name a number)."""
    script = ScriptDirectory.from_config(alembic_config("sqlite://")).get_revision(revision)
    assert script is not None, revision
    down = script.down_revision
    assert isinstance(down, str), down
    return down

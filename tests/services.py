"""The real services tests use when they are reachable, and how to tell that they are."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import psycopg
import pytest

from gateway.kit.db import upgrade

POSTGRES_ADMIN_URL = os.environ.get(
    "GATEWAY_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
RABBITMQ_URL = os.environ.get("GATEWAY_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")
REDIS_URL = os.environ.get("GATEWAY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

# How long a test waits for a process or a worker to get something done before it gives up
# (saying what it waited for). Generous, as a busy machine is slow; every wait ends as soon
# as its condition holds, so an idle machine never waits this long.
WAIT_S = 240.0


def reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or default_port), 1
        ):
            return True
    except OSError:
        return False


def postgres_reachable() -> bool:
    try:
        with psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=2):
            return True
    except psycopg.Error:
        return False


@contextmanager
def temporary_postgres_database() -> Iterator[str]:
    """A fresh database for this test process, dropped afterwards; yields its SQLAlchemy URL."""
    name = f"gw_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def require_postgres() -> None:
    """Skip the calling test when PostgreSQL does not answer."""
    if not postgres_reachable():
        pytest.skip(f"PostgreSQL unreachable at {POSTGRES_ADMIN_URL}: test skipped")


@contextmanager
def migrated_postgres_database() -> Iterator[str]:
    """A fresh database at the newest migration, dropped afterwards; yields its SQLAlchemy
    URL (the test is skipped when PostgreSQL does not answer)."""
    require_postgres()
    with temporary_postgres_database() as url:
        upgrade(url)
        yield url

"""Shared fixtures: databases (SQLite always, PostgreSQL when reachable) and the API."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from gateway.app import create_app
from gateway.kit.db import engine_for, session_factory, upgrade
from gateway.settings import Settings
from tests import factories as f
from tests import services
from tests.factories import seed_sample_tariff

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def postgresql_url() -> Iterator[str]:
    with services.migrated_postgres_database() as url:
        seed_sample_tariff(session_factory(engine_for(url)))
        yield url
        engine_for(url).dispose()


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'gateway.sqlite'}"
    upgrade(url)
    seed_sample_tariff(session_factory(engine_for(url)))
    return url


@contextmanager
def _own_database(backend: str, folder: Path) -> Iterator[str]:
    """A fresh database at the newest migration with the sample reference data."""
    if backend == "sqlite":
        url = f"sqlite:///{folder / 'own.sqlite'}"
        upgrade(url)
        seed_sample_tariff(session_factory(engine_for(url)))
        yield url
        return
    with services.migrated_postgres_database() as url:
        seed_sample_tariff(session_factory(engine_for(url)))
        yield url
        engine_for(url).dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each test using it runs on the embedded SQLite and on the real PostgreSQL: on this
    process's database, or on one of its own when marked ``own_database``."""
    if request.node.get_closest_marker("own_database") is None:
        yield request.getfixturevalue(f"{request.param}_url")
        return
    with _own_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def sessions(database_url: str) -> sessionmaker[Session]:
    return session_factory(engine_for(database_url))


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        broker_url=f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}",
        max_body_bytes=256 * 1024,
        clock_date=f.TODAY,
        batch_spool_dir=tmp_path / "spool",
        # No shedding by the real clock on a loaded test machine: the overload tests set
        # the bound themselves, on a fake clock (tests/submissions/test_overload.py).
        ingest_max_wait_s=0,
        batch_max_wait_s=0,
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, relay=False)) as test_client:
        yield test_client


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked contract_last compare what the whole run was answered with the OpenAPI
    document, so they go after all the others."""
    items.sort(key=lambda item: item.get_closest_marker("contract_last") is not None)

"""The FHIR tests' settings: the shared ones with room for whole Synthea bundles."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.settings import Settings
from tests import factories as f


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        broker_url=f"sqla+sqlite:///{tmp_path / 'broker.sqlite'}",
        max_body_bytes=8 * 1024 * 1024,
        clock_date=f.TODAY,
    )

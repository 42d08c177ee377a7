"""Supplementary policies come from the registry's supplementary.csv: imported with the
other registry files, all or nothing, replacing the policies of the people it names."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from gateway.admin.registry import SAMPLE_REGISTRY_DIR, import_registry, read_registry
from gateway.errors import GatewayError
from gateway.kit.db import engine_for, session_factory, transaction, upgrade
from gateway.storage.models import InsuredCoverage, SupplementaryPolicy

HEADER = (
    "national_id,insurer_code,insurer_name,policy_number,priority,valid_from,valid_to,"
    "copay_share,uncovered_share,annual_ceiling\n"
)


@pytest.fixture
def sessions(tmp_path: Path):  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'registry.sqlite'}"
    upgrade(url)
    return session_factory(engine_for(url))


def _policies(sessions) -> list[tuple[str, str, int, Decimal, Decimal, int | None]]:  # type: ignore[no-untyped-def]
    with sessions() as session:
        rows = session.scalars(
            select(SupplementaryPolicy).order_by(
                SupplementaryPolicy.national_id,
                SupplementaryPolicy.priority,
                SupplementaryPolicy.valid_from,
            )
        )
        return [
            (r.national_id, r.insurer_code, r.priority, r.copay_share, r.uncovered_share,
             r.annual_ceiling)
            for r in rows
        ]  # fmt: skip


def test_sample_has_two_supplementary_insurers() -> None:
    registry = read_registry(SAMPLE_REGISTRY_DIR)
    assert registry.problems == []
    insurers = {p.insurer_code for held in registry.policies.values() for p in held}
    assert insurers == {"ALBORZ-SUP", "DANA-SUP"}


def test_import_stores_policies_and_replaces_them(sessions, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with transaction(sessions) as session:
        import_registry(session=session, directory=SAMPLE_REGISTRY_DIR)
    stored = _policies(sessions)
    assert len(stored) == 4
    assert stored[0] == ("0013542419", "ALBORZ-SUP", 1, Decimal("0.7"), Decimal("0.5"), 50_000_000)
    folder = tmp_path / "again"
    folder.mkdir()
    (folder / "supplementary.csv").write_text(
        HEADER + "0013542419,DANA-SUP,Dana supplementary,DN-1,1,2026-01-01,,1,1,\n"
    )
    with transaction(sessions) as session:
        import_registry(session=session, directory=folder)
    stored = _policies(sessions)
    # The person named is replaced whole; the other person's policy stays.
    assert [(p[0], p[1]) for p in stored] == [
        ("0013542419", "DANA-SUP"),
        ("0084575948", "DANA-SUP"),
    ]


@pytest.mark.parametrize(
    ("row", "column"),
    [
        ("0013542419,A,A,P1,1,2026-01-01,,1.5,0,", "copay_share"),
        ("0013542419,A,A,P1,0,2026-01-01,,0.5,0,", "priority"),
        ("0013542419,A,A,P1,1,2026-01-01,,0.5,0,-1", "annual_ceiling"),
        ("0013542418,A,A,P1,1,2026-01-01,,0.5,0,", "national_id"),
    ],
)
def test_a_bad_cell_is_reported_and_nothing_is_stored(
    sessions,
    tmp_path: Path,
    row: str,
    column: str,  # type: ignore[no-untyped-def]
) -> None:
    shutil.copy(SAMPLE_REGISTRY_DIR / "insured.csv", tmp_path / "insured.csv")
    (tmp_path / "supplementary.csv").write_text(HEADER + row + "\n")
    with pytest.raises(GatewayError) as caught, transaction(sessions) as session:
        import_registry(session=session, directory=tmp_path)
    assert [p.path for p in caught.value.problems] == [f"supplementary.csv:{column}"]
    with sessions() as session:
        assert session.scalars(select(InsuredCoverage)).first() is None
    assert _policies(sessions) == []


def test_two_policies_in_force_together_need_distinct_priorities(tmp_path: Path) -> None:
    (tmp_path / "supplementary.csv").write_text(
        HEADER
        + "0013542419,A,A,P1,1,2026-01-01,,0.5,0,\n"
        + "0013542419,B,B,P2,1,2026-06-01,,0.5,0,\n"
    )
    registry = read_registry(tmp_path)
    assert [p.code for p in registry.problems] == ["registry.overlapping-periods"]

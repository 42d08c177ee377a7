"""The programme's registry files: every bad cell reported, imported all or nothing; the
rollout table replaced as a whole."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.admin.registry import import_registry
from gateway.errors import GatewayError
from gateway.kit.db import engine_for, session_factory, transaction, upgrade
from gateway.referrals import service as referrals
from gateway.storage.models import FamilyPhysician, PatientListEntry
from tests import factories as f

HEADERS = {
    "family_physicians.csv": "medical_council_number,full_name,centre_code\n",
    "patient_lists.csv": "national_id,medical_council_number,valid_from,valid_to\n",
    "referral_rollout.csv": "province,required_from,levels,scope\n",
}


def write(folder: Path, **files: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in files.items():
        file = f"{name}.csv"
        (folder / file).write_text(HEADERS[file] + rows)
    return folder


def problems(sessions: sessionmaker[Session], folder: Path) -> list[tuple[str, str | None]]:
    with pytest.raises(GatewayError) as refused, transaction(sessions) as session:
        import_registry(session=session, directory=folder)
    return [(p.code, p.path) for p in refused.value.problems]


def test_every_bad_cell_is_reported_and_nothing_is_imported(sessions, tmp_path: Path) -> None:
    patient = f.new_national_id()
    folder = write(
        tmp_path,
        family_physicians="7654321,Dr. A,DEMO-001\n7654322,Dr. B,NO-SUCH\n",
        patient_lists=(
            f"{patient},7654321,2024-01-01,2025-01-01\n"
            f"{patient},7654321,2024-06-01,\n"  # overlaps the first
            "0013542418,7654321,2024-01-01,\n"  # a bad check digit
            f"{f.new_national_id()},9999999,2024-01-01,\n"  # no such physician
        ),
        referral_rollout="Qom,2027-01-01,1,all\nFars,2027-01-01,2,everywhere\n",
    )
    found = problems(sessions, folder)
    assert ("registry.invalid-value", "patient_lists.csv:national_id") in found
    assert ("registry.invalid-value", "referral_rollout.csv:levels") in found
    assert ("registry.invalid-value", "referral_rollout.csv:scope") in found
    assert ("registry.overlapping-periods", "patient_lists.csv") in found
    assert ("registry.unknown-centre", "family_physicians.csv:centre_code") in found
    assert ("registry.unknown-physician", "patient_lists.csv:medical_council_number") in found
    with sessions() as session:
        assert session.get(FamilyPhysician, "7654321") is None
        listed = select(func.count()).where(PatientListEntry.national_id == patient)
        assert session.scalar(listed) == 0


def test_the_rollout_table_is_replaced_as_a_whole(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'own.sqlite'}"
    upgrade(url)
    sessions = session_factory(engine_for(url))
    f.seed_sample_tariff(sessions)  # the sample: Tehran and Alborz
    with sessions() as session:
        assert set(referrals.rollout(session=session).entries) == {"Tehran", "Alborz"}
    folder = write(tmp_path / "next", referral_rollout="Isfahan,2027-03-21,2 3,owned\n")
    with transaction(sessions) as session:
        import_registry(session=session, directory=folder)
    with sessions() as session:
        rollout = referrals.rollout(session=session)
    (entry,) = rollout.entries.values()
    assert (entry.province, str(entry.required_from), sorted(entry.levels), entry.scope) == (
        "Isfahan",
        "2027-03-21",
        [2, 3],
        "owned",
    )
    engine_for(url).dispose()

"""The test factories hand each test people of its own."""

from __future__ import annotations

from tests import factories as f


def test_no_patient_is_handed_out_twice_and_each_is_registered() -> None:
    handed = [f.patient()["nationalId"] for _ in range(20)]
    handed += [f.outpatient_visit()["outpatientVisit"]["patient"]["nationalId"] for _ in range(20)]
    handed += [f.new_national_id() for _ in range(20)]
    assert len(set(handed)) == len(handed)
    assert set(handed) <= set(f.INSURED)

"""The split runs where a document is approved, in the decision's transaction, once per
document; a later decision reverses it; on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from gateway.domain import ledger
from gateway.domain.payers import EarmarkKind
from gateway.kit.db import transaction
from gateway.payers import repository as store
from gateway.payers import service as payers
from gateway.pricing.service import TariffCache, price_stored_documents
from gateway.storage.models import LedgerTransfer
from tests import factories as f
from tests.payers.support import (
    add_policy,
    give,
    ledger_is_whole,
    priced_visit,
    programme_with_patients,
)
from tests.review.test_lifecycle_api import ALWAYS_REVIEW, NEVER_REVIEW
from tests.submissions.test_submissions import auth


def _split(sessions, document_id) -> dict[str, dict[int, int]]:  # type: ignore[no-untyped-def]
    with sessions() as session:
        out: dict[str, dict[int, int]] = {}
        for _, payer, _, line_no, amount, _ in store.document_splits(session, [document_id]):
            out.setdefault(payer, {})[line_no] = out.setdefault(payer, {}).get(line_no, 0) + amount
        return out


def test_auto_approval_splits_once(client: TestClient, sessions) -> None:  # type: ignore[no-untyped-def]
    centre, token = f.make_centre(sessions)
    patient = f.new_national_id()
    add_policy(sessions, patient, "ALBORZ-SUP", copay="0.5")
    document_id = priced_visit(client, sessions, token, centre.code, patient, NEVER_REVIEW)
    # 0.5 x 195000 = 97500, 0.5 x 90000 = 45000; the patient keeps the rest.
    assert _split(sessions, document_id) == {
        "insurer:ALBORZ-SUP": {1: 97_500, 2: 45_000},
        f"patients:{centre.code}": {1: 97_500, 2: 45_000},
    }
    with transaction(sessions) as session:  # a redelivered split changes nothing
        assert payers.split_document(session, document_id=document_id, actor="t") == (
            "already-split"
        )
    with sessions() as session:
        assert store.account_balance(session, ledger.centre_account(centre.code)) == 285_000
    ledger_is_whole(sessions)


def test_no_payer_no_ledger(client: TestClient, sessions) -> None:  # type: ignore[no-untyped-def]
    centre, token = f.make_centre(sessions)
    document_id = priced_visit(
        client, sessions, token, centre.code, f.new_national_id(), NEVER_REVIEW
    )
    assert _split(sessions, document_id) == {}


def test_fund_covers_what_the_policy_leaves(client: TestClient, sessions) -> None:  # type: ignore[no-untyped-def]
    centre, token = f.make_centre(sessions)
    patient = f.new_national_id()
    add_policy(sessions, patient, "DANA-SUP", copay="0.5")
    programme = programme_with_patients(sessions, patient)
    # Earmarked for this centre: drawn before the general gifts other tests leave here.
    receipt = give(sessions, 1_000_000_000, earmark=(EarmarkKind.CENTRE, centre.code))
    document_id = priced_visit(client, sessions, token, centre.code, patient, NEVER_REVIEW)
    split = _split(sessions, document_id)
    assert split["insurer:DANA-SUP"] == {1: 97_500, 2: 45_000}
    assert split[f"fund:{programme}"] == {1: 97_500, 2: 45_000}
    assert f"patients:{centre.code}" not in split
    with sessions() as session:
        donation = store.donation_by_receipt(session, receipt)
        assert donation is not None
        held = store.account_balance(session, ledger.donation_account(donation.id))
    assert held == 1_000_000_000 - 142_500
    ledger_is_whole(sessions)


def test_decision_splits_and_denied_appeal_reverses(client: TestClient, sessions) -> None:  # type: ignore[no-untyped-def]
    centre, token = f.make_centre(sessions)
    auditor = f.make_staff_token(sessions)
    patient = f.new_national_id()
    add_policy(sessions, patient, "ALBORZ-SUP", copay="1", ceiling=100_000)
    document_id = priced_visit(client, sessions, token, centre.code, patient, ALWAYS_REVIEW)
    assert _split(sessions, document_id) == {}
    url = f"/v1/documents/{document_id}"
    approve = {"decision": "approve", "reason": "ok"}
    assert client.post(f"{url}/decision", json=approve, headers=auth(auditor)).status_code == 200
    # Ceiling 100000 over 195000 and 90000: 100000 x 195000 / 285000 = 68421.05 -> 68421.
    assert _split(sessions, document_id)["insurer:ALBORZ-SUP"] == {1: 68_421, 2: 31_579}
    appeal = {"reason": "line 1 was paid short", "lines": [1]}
    assert client.post(f"{url}/appeal", json=appeal, headers=auth(token)).status_code == 200
    deny = {"decision": "deny", "reason": "as decided"}
    assert client.post(f"{url}/decision", json=deny, headers=auth(auditor)).status_code == 200
    assert _split(sessions, document_id) == {}
    with sessions() as session:
        transfers = session.query(LedgerTransfer).filter_by(document_id=document_id).all()
        assert sorted(t.kind for t in transfers) == ["reversal", "reversal", "split", "split"]
        # The ceiling is whole again: the reversal gave the year's use back.
        assert store.account_balance(session, ledger.centre_account(centre.code)) == 0
    ledger_is_whole(sessions)


def test_document_and_remittance_show_every_payer_per_line(client: TestClient, sessions) -> None:  # type: ignore[no-untyped-def]
    centre, token = f.make_centre(sessions)
    auditor = f.make_staff_token(sessions)
    patient = f.new_national_id()
    add_policy(sessions, patient, "ALBORZ-SUP", copay="0.5", ceiling=100_000)
    document_id = priced_visit(client, sessions, token, centre.code, patient, NEVER_REVIEW)
    # 0.5 x 195000 = 97500 and 0.5 x 90000 = 45000 ask 142500, above the 100000 ceiling:
    # 100000 x 97500 / 142500 = 68421.05 -> 68421, then 31579.
    lines = client.get(f"/v1/documents/{document_id}", headers=auth(auditor)).json()["lines"]
    assert [line["pricing"]["payers"] for line in lines] == [
        [
            {"kind": "supplementary", "payer": "ALBORZ-SUP", "amount": 68_421},
            {"kind": "patient", "payer": "patient", "amount": 126_579},
        ],
        [
            {"kind": "supplementary", "payer": "ALBORZ-SUP", "amount": 31_579},
            {"kind": "patient", "payer": "patient", "amount": 58_421},
        ],
    ]
    assert [line["pricing"]["patient_pays"] for line in lines] == [126_579, 58_421]
    advice = client.get(f"/v1/documents/{document_id}/remittance", headers=auth(token)).json()
    assert advice["payers"] == [
        {"kind": "supplementary", "payer": "ALBORZ-SUP", "amount": 100_000},
        {"kind": "patient", "payer": "patient", "amount": 185_000},
    ]
    assert len(advice["payer_notes"]) == 1
    assert "reached its yearly ceiling" in advice["payer_notes"][0]
    assert [line["patient_share"] for line in advice["lines"]] == [195_000, 90_000]


def test_a_transaction_that_dies_after_the_split_leaves_nothing(
    client: TestClient, sessions
) -> None:  # type: ignore[no-untyped-def]
    """A worker killed after splitting but before its commit: the redelivered task prices
    and splits once, and the ledger is whole."""
    centre, token = f.make_centre(sessions)
    patient = f.new_national_id()
    add_policy(sessions, patient, "DANA-SUP", copay="0.5")
    document = f.outpatient_visit()
    document["outpatientVisit"]["patient"]["nationalId"] = patient
    answer = client.post(
        "/v1/submissions",
        content=f.as_json(f.submission(centre.code, document)),
        headers=auth(token, {"Content-Type": "application/json"}),
    )
    document_id = uuid.UUID(answer.json()["documents"][0]["id"])

    def price() -> dict[str, int]:
        with transaction(sessions) as session:
            return price_stored_documents(
                session=session, ids=[document_id], books=TariffCache(), policies=NEVER_REVIEW
            )

    def dies() -> None:
        with transaction(sessions) as session:
            price_stored_documents(
                session=session, ids=[document_id], books=TariffCache(), policies=NEVER_REVIEW
            )
            assert _split_in(session, document_id)
            raise RuntimeError("the worker dies before its commit")

    with pytest.raises(RuntimeError, match="dies"):
        dies()
    assert _split(sessions, document_id) == {}
    assert price() == {"priced": 1}
    assert price() == {"already-done": 1}
    assert set(_split(sessions, document_id)) == {"insurer:DANA-SUP", f"patients:{centre.code}"}
    with sessions() as session:
        assert len(store.split_transfers(session, document_id)) == 2
    ledger_is_whole(sessions)


def _split_in(session, document_id) -> list[object]:  # type: ignore[no-untyped-def]
    return list(store.document_splits(session, [document_id]))

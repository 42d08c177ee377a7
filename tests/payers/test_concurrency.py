"""Two documents drawing the last of a donation at once take it once: the donation's
account is locked while one split reads and spends it, and the database refuses a
balance below zero whatever the code does."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import IntegrityError

from gateway.domain import ledger
from gateway.kit.db import transaction
from gateway.payers import repository as store
from gateway.payers import service as payers
from tests import factories as f
from tests.payers.support import give, ledger_is_whole, priced_visit, programme_with_patients
from tests.review.test_lifecycle_api import NEVER_REVIEW


@pytest.mark.own_database
def test_two_splits_draw_the_last_of_a_donation_once(
    client: TestClient, sessions: Any, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("concurrent transactions are PostgreSQL's; SQLite has one writer")
    centre, token = f.make_centre(sessions)
    patients = [f.new_national_id(), f.new_national_id()]
    documents = [
        priced_visit(client, sessions, token, centre.code, p, NEVER_REVIEW) for p in patients
    ]
    # Approved before anyone pays: the splits below are the first, run at once.
    programme_with_patients(sessions, *patients)
    receipt = give(sessions, 400_000)
    start = threading.Barrier(2)
    outcomes: dict[uuid.UUID, str] = {}
    failures: list[BaseException] = []

    def split(document_id: uuid.UUID) -> None:
        try:
            with transaction(sessions) as session:
                start.wait(timeout=60)
                outcomes[document_id] = payers.split_document(
                    session, document_id=document_id, actor="test"
                )
        except BaseException as exc:  # reported below, with the other thread's outcome
            failures.append(exc)

    threads = [threading.Thread(target=split, args=(d,)) for d in documents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    assert failures == []
    assert sorted(outcomes.values()) == ["split", "split"]
    with sessions() as session:
        donation = store.donation_by_receipt(session, receipt)
        assert donation is not None
        assert store.account_balance(session, ledger.donation_account(donation.id)) == 0
        fund = {
            d: sum(
                a
                for _, payer, _, _, a, _ in store.document_splits(session, [d])
                if payer.startswith("fund:")
            )
            for d in documents
        }
    # One took its whole share (285000), the other what was left (115000).
    assert sorted(fund.values()) == [115_000, 285_000]
    ledger_is_whole(sessions)


def test_the_database_refuses_a_donation_below_zero(sessions: Any) -> None:
    receipt = give(sessions, 1_000)
    with sessions() as session:
        donation = store.donation_by_receipt(session, receipt)
        assert donation is not None
        donation_id = donation.id
    draft = ledger.transfer(
        f"overdraw/{uuid.uuid4()}",
        "split",
        ledger.donation_account(donation_id),
        ledger.move(ledger.donation_account(donation_id), "fund:X", 1_001),
    )
    with pytest.raises(IntegrityError), transaction(sessions) as session:
        store.add_transfer(session, draft, actor="test")
    with sessions() as session:
        assert store.account_balance(session, ledger.donation_account(donation_id)) == 1_000

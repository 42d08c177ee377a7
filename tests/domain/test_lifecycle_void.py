"""VOIDED in the lifecycle table: reached before approval only, and final."""

from __future__ import annotations

import pytest

from gateway.domain.lifecycle import (
    ALLOWED,
    ALLOWED_PAIRS,
    NOT_LIVE,
    VOIDABLE,
    DocumentStatus,
    InvalidTransitionError,
    transition,
)

S = DocumentStatus


def test_a_document_is_voidable_until_it_is_approved() -> None:
    assert {S.ACCEPTED, S.PRICED, S.UNDER_REVIEW, S.DENIED} <= VOIDABLE
    assert not VOIDABLE & {S.APPROVED, S.PAYMENT_ORDERED, S.PAID, S.REJECTED, S.VOIDED}
    for status in VOIDABLE:
        move = transition(status, S.VOIDED, actor="centre:C1", reason="sent by mistake")
        assert (move.from_status, move.to_status) == (status, S.VOIDED)
        assert (status.value, "VOIDED") in ALLOWED_PAIRS


@pytest.mark.parametrize("status", [S.APPROVED, S.PAYMENT_ORDERED, S.PAID, S.REJECTED, S.VOIDED])
def test_approved_rejected_or_voided_documents_are_not_voided(status: DocumentStatus) -> None:
    with pytest.raises(InvalidTransitionError):
        transition(status, S.VOIDED, actor="centre:C1", reason="too late")


def test_voided_is_final_and_not_live() -> None:
    assert ALLOWED[S.VOIDED] == frozenset()
    assert {S.REJECTED, S.VOIDED} == NOT_LIVE
    with pytest.raises(InvalidTransitionError) as caught:
        transition(S.VOIDED, S.PRICED, actor="worker:pricing", reason="late message")
    assert caught.value.allowed == []

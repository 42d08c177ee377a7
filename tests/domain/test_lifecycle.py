"""The lifecycle table and its one transition function."""

from __future__ import annotations

import itertools

import pytest

from gateway.domain.lifecycle import (
    ALLOWED,
    ALLOWED_PAIRS,
    DocumentStatus,
    InvalidTransitionError,
    birth,
    transition,
)

S = DocumentStatus
PATH = [S.RECEIVED, S.ACCEPTED, S.PRICED, S.UNDER_REVIEW, S.APPROVED, S.PAYMENT_ORDERED, S.PAID]


def test_the_happy_path_is_allowed() -> None:
    assert birth(actor="t").to_status is S.RECEIVED
    for current, target in itertools.pairwise(PATH):
        move = transition(current, target, actor="tester", reason="step")
        assert (move.from_status, move.to_status, move.actor) == (current, target, "tester")


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.RECEIVED, S.PRICED),
        (S.REJECTED, S.ACCEPTED),
        (S.PAID, S.APPROVED),
        (S.ACCEPTED, S.APPROVED),
        (S.PRICED, S.PAID),
        (S.UNDER_REVIEW, S.PAYMENT_ORDERED),
    ],
)
def test_illegal_moves_raise_with_the_allowed_ones(current, target) -> None:
    with pytest.raises(InvalidTransitionError) as caught:
        transition(current, target, actor="t", reason="r")
    assert caught.value.allowed == sorted(ALLOWED[current])


def test_appeal_returns_to_review() -> None:
    assert S.APPEALED in ALLOWED[S.APPROVED]
    assert S.APPEALED in ALLOWED[S.DENIED]
    assert ALLOWED[S.APPEALED] == {S.UNDER_REVIEW}


def test_final_states() -> None:
    assert ALLOWED[S.REJECTED] == ALLOWED[S.PAID] == frozenset()


def test_pairs_cover_every_move_and_birth() -> None:
    assert ("", "RECEIVED") in ALLOWED_PAIRS
    assert len(ALLOWED_PAIRS) == 1 + sum(len(v) for v in ALLOWED.values())

"""Money is integer rials; this is the one place where a fraction becomes rials."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal


def round_rials(value: Decimal) -> int:
    """Round a computed amount to whole rials, halves away from zero."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def allocate(total: int, weights: Sequence[int]) -> list[int]:
    """Split ``total`` rials over ``weights`` in proportion, exactly: the parts add up to
    ``total``. Each part is the rounded running sum less the one before it, so every
    remainder falls on a fixed place (the order given) and no part exceeds its weight
    when ``total`` does not exceed the weights' sum. All weights zero: all parts zero."""
    whole = sum(weights)
    if total < 0 or any(w < 0 for w in weights):
        raise ValueError("allocate takes non-negative amounts")
    if whole == 0:
        if total:
            raise ValueError("nothing to allocate over")
        return [0] * len(weights)
    parts: list[int] = []
    running = 0
    before = 0
    for weight in weights:
        running += weight
        reached = round_rials(Decimal(total) * running / whole)
        parts.append(reached - before)
        before = reached
    return parts

"""Money is integer rials; this is the one place where a fraction becomes rials."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal


def round_rials(value: Decimal) -> int:
    """Round a computed amount to whole rials, halves away from zero."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))

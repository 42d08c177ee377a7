"""The widest whole numbers the gateway takes from outside, in one place.

Every number in a query string, a path or a body is bounded where it arrives, so a value
past what its column holds (PostgreSQL ``integer`` or ``bigint``, SQLite's 64 bits) is
refused with 422 naming the parameter, instead of failing in the database driver (500).
"""

from __future__ import annotations

from typing import Annotated

from annotated_types import Ge, Le

INT32_MAX = 2**31 - 1  # an ``integer`` column: row ids, line numbers, quantities
INT64_MAX = 2**63 - 1  # a ``bigint`` column: rials, offsets

RowId = Annotated[int, Ge(1), Le(INT32_MAX)]
LineNo = Annotated[int, Ge(1), Le(INT32_MAX)]
Quantity = Annotated[int, Ge(0), Le(INT32_MAX)]
Rials = Annotated[int, Ge(0), Le(INT64_MAX)]
Offset = Annotated[int, Ge(0), Le(INT64_MAX)]


def fits(text: str, largest: int) -> bool:
    """Whether typed digits (already Latin) are a whole number from 0 to ``largest``."""
    return (
        text.isascii()
        and text.isdigit()
        and len(text) <= len(str(largest))
        and (int(text) <= largest)
    )

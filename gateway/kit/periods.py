"""A settlement period, ``YYYY-MM``, as the API, the workspace and the command line take
it: documents are searched by it and settlement closes it. The workspace also takes a
month typed in the Solar Hijri calendar (``parse_month``)."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

import jdatetime

from gateway.errors import GatewayError

_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def _malformed(period: str) -> GatewayError:
    return GatewayError(
        f"A period is YYYY-MM, got {period!r}.",
        422,
        code="period.malformed",
        params={"period": period[:30]},
    )


def period_end(period: str) -> date:
    match = _PERIOD.match(period)
    if match is None:
        raise _malformed(period)
    year, month = int(match.group(1)), int(match.group(2))
    try:
        return date(year, month, calendar.monthrange(year, month)[1])
    except ValueError:  # year 0000, or a month the pattern let through
        raise _malformed(period) from None


# Digits as people type them: Persian (U+06F0..) and Arabic-Indic (U+0660..) ones too.
_LATIN_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")
_TYPED = re.compile(r"^(\d{4})\s*[-/.]\s*(\d{1,2})$")
# A year before this is a Solar Hijri one: 1405 is 2026; no Gregorian claim is that old.
_FIRST_GREGORIAN_YEAR = 1700


@dataclass(frozen=True, slots=True)
class Month:
    """A month as typed, in either calendar, with the Gregorian days it covers."""

    text: str  # normalised: YYYY-MM in the calendar it was typed in
    solar: bool  # typed as a Solar Hijri (Jalali) month
    first: date
    last: date


def parse_month(typed: str) -> Month | None:
    """A month typed as ``1405-08`` (Solar Hijri) or ``2026-11`` (Gregorian), in Latin,
    Persian or Arabic-Indic digits, with ``-``, ``/`` or ``.`` between; None when it is not
    one. A year below 1700 is read as Solar Hijri."""
    match = _TYPED.match(typed.strip().translate(_LATIN_DIGITS))
    if match is None:
        return None
    year, month = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12 or year == 0:
        return None
    text = f"{year:04d}-{month:02d}"
    if year >= _FIRST_GREGORIAN_YEAR:
        last = calendar.monthrange(year, month)[1]
        return Month(text, False, date(year, month, 1), date(year, month, last))
    first = jdatetime.date(year, month, 1)
    following = jdatetime.date(year + (month == 12), month % 12 + 1, 1)
    return Month(text, True, first.togregorian(), following.togregorian() - timedelta(days=1))

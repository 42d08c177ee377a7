"""A settlement period, ``YYYY-MM``, as the API, the workspace and the command line take
it: documents are searched by it and settlement closes it."""

from __future__ import annotations

import calendar
import re
from datetime import date

from gateway.errors import GatewayError

_PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def period_end(period: str) -> date:
    match = _PERIOD.match(period)
    if match is None:
        raise GatewayError(f"A period is YYYY-MM, got {period!r}.", 422)
    year, month = int(match.group(1)), int(match.group(2))
    try:
        return date(year, month, calendar.monthrange(year, month)[1])
    except ValueError:  # year 0000, or a month the pattern let through
        raise GatewayError(f"A period is YYYY-MM, got {period!r}.", 422) from None

"""Fitting free FHIR values into the patterns of the gateway's schema, never failing."""

from __future__ import annotations

import hashlib
import re
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

DOCUMENT_NUMBER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/\-]{0,39}")
TARIFF_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9.\-]{0,19}")
TRACKING_CODE = re.compile(r"[A-Z0-9]{6,20}")
REFERRAL_CODE = re.compile(r"[0-9]{8,16}")
_FAR = Decimal("1E+30")
NATIONAL_ID = re.compile(r"[0-9]{10}")
INSURANCE_NUMBER = re.compile(r"[0-9]{6,16}")
MEDICAL_COUNCIL_NUMBER = re.compile(r"[A-Z]{0,2}[0-9]{2,8}")

_NOT_IN_NUMBER = re.compile(r"[^A-Za-z0-9._/\-]+")
_NOT_IN_CODE = re.compile(r"[^A-Za-z0-9.\-]+")


def digest(value: str | bytes) -> str:
    data = value.encode() if isinstance(value, str) else value
    return hashlib.sha256(data).hexdigest()


def short_text(value: Any, limit: int = 200) -> str | None:
    """Printable text of at most ``limit`` characters with single spaces, or None."""
    if not isinstance(value, str):
        return None
    printable = "".join(ch if ch.isprintable() else " " for ch in value)
    text = " ".join(printable.split())[:limit].rstrip()
    return text or None


def document_number(raw: str | None, seed: str) -> tuple[str, bool]:
    """``raw`` when it fits the pattern; else a fitting form with a hash of the original
    (so two different originals stay different), or one made from ``seed``. The flag
    says whether the number was changed."""
    if raw is not None and DOCUMENT_NUMBER.fullmatch(raw):
        return raw, False
    if raw is None:
        return f"FHIR-{digest(seed)[:24]}", True
    cleaned = _NOT_IN_NUMBER.sub("-", raw).lstrip("._/-")
    if not cleaned:
        return f"FHIR-{digest(raw)[:24]}", True
    return f"{cleaned[:31]}-{digest(raw)[:8]}", True


def estimate_number(number: str, tag: str) -> str:
    """``tag/number``, still fitting the pattern (40 characters at most)."""
    tagged = f"{tag}/{number}"
    if len(tagged) <= 40:
        return tagged
    return f"{tag}/{number[: 39 - len(tag) - 9]}-{digest(number)[:8]}"


def tariff_code(raw: str | None) -> tuple[str, bool]:
    """A code fitting the tariff-code pattern, and whether it had to be changed."""
    if raw is not None and TARIFF_CODE.fullmatch(raw):
        return raw, False
    cleaned = _NOT_IN_CODE.sub("-", raw or "").lstrip(".-")[:20]
    return (cleaned or "UNCODED"), True


def tracking_filler(seed: str) -> str:
    return f"FHIR{digest(seed)[:12].upper()}"


def to_date(value: Any) -> date | None:
    """The calendar date written in a FHIR date or dateTime (its own day, not UTC's);
    None for partial dates (``2014``, ``2014-08``) and anything else."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def decimal_of(value: Any) -> Decimal | None:
    """A JSON number (or numeric string) as an exact Decimal."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    if not number.is_finite():
        return None
    # Far past every bound the callers check (quantity, rials), so each is refused or fitted
    # by that check; unclamped, 1e999999 overflows arithmetic and makes a million-digit int.
    return max(-_FAR, min(number, _FAR))


def round_half_up(value: Decimal) -> int:
    # to_integral_value is exact at any size, where quantize gives up past 28 digits.
    return int(value.to_integral_value(rounding=ROUND_HALF_UP))

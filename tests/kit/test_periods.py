"""Months as people type them: Solar Hijri or Gregorian, Latin or Persian digits."""

from __future__ import annotations

from datetime import date

import pytest

from gateway.kit.periods import parse_month, period_end


def test_a_gregorian_month() -> None:
    month = parse_month("2026-11")
    assert month is not None
    assert (month.text, month.solar) == ("2026-11", False)
    assert (month.first, month.last) == (date(2026, 11, 1), date(2026, 11, 30))


@pytest.mark.parametrize("typed", ["1405-08", "۱۴۰۵-۰۸", "١٤٠٥/٨", " 1405/08 ", "۱۴۰۵.۸"])
def test_a_solar_hijri_month_in_any_digits(typed: str) -> None:
    month = parse_month(typed)
    assert month is not None
    assert (month.text, month.solar) == ("1405-08", True)
    # Aban 1405 runs from 23 October to 21 November 2026.
    assert (month.first, month.last) == (date(2026, 10, 23), date(2026, 11, 21))


def test_esfand_ends_the_day_before_nowruz() -> None:
    month = parse_month("1404-12")
    assert month is not None
    assert month.first == date(2026, 2, 20)
    assert month.last == date(2026, 3, 20)  # 1405-01-01 is 21 March 2026


def test_farvardin_starts_at_nowruz() -> None:
    month = parse_month("1405-01")
    assert month is not None
    assert month.first == date(2026, 3, 21)
    assert month.last == date(2026, 4, 20)


@pytest.mark.parametrize(
    "typed", ["", "1405", "1405-13", "2026-00", "0000-01", "abcd-ef", "2026-1-1"]
)
def test_what_is_not_a_month(typed: str) -> None:
    assert parse_month(typed) is None


def test_the_settlement_period_is_still_gregorian_only() -> None:
    assert period_end("2026-02") == date(2026, 2, 28)

"""Persian and English: the workspace's strings, and how it writes amounts and dates.

Every string the pages show is a key of ``CATALOGUE`` with its English and Persian text.
Dates are shown in the Solar Hijri and the Gregorian calendars; in Persian with Persian
digits and the Solar Hijri date first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jdatetime
from markupsafe import Markup, escape

from gateway.web.catalogue import CATALOGUE

LANGUAGES = ("fa", "en")
DEFAULT_LANGUAGE = "fa"
_PERSIAN_DIGITS = str.maketrans("0123456789,", "۰۱۲۳۴۵۶۷۸۹٬")


def choose_language(cookie: str | None, accept_language: str) -> str:
    """The language cookie, else the browser's first preference we have, else Persian."""
    if cookie in LANGUAGES:
        return cookie
    for part in accept_language.split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in LANGUAGES:
            return tag
    return DEFAULT_LANGUAGE


def zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


@dataclass(frozen=True, slots=True)
class Locale:
    """One language's way of writing things; templates get it as ``fmt`` (and ``t``)."""

    lang: str
    tz: tzinfo = UTC

    @property
    def rtl(self) -> bool:
        return self.lang == "fa"

    def t(self, key: str, **values: object) -> str:
        texts = CATALOGUE.get(key)
        text = key if texts is None else texts[0 if self.lang == "en" else 1]
        if values:
            text = text.format(**{k: self._number_text(v) for k, v in values.items()})
        return text

    def _number_text(self, value: object) -> str:
        if isinstance(value, int) and not isinstance(value, bool):
            return self.digits(f"{value:,}")
        return str(value)

    def digits(self, text: str) -> str:
        return text.translate(_PERSIAN_DIGITS) if self.lang == "fa" else text

    def amount(self, value: int | None) -> str:
        """Rials with thousands separators; an unknown amount is a dash."""
        return "—" if value is None else self.digits(f"{value:,}")

    def day(self, value: date | None) -> Markup:
        """A date in both calendars."""
        if value is None:
            return Markup("—")
        solar = jdatetime.date.fromgregorian(date=value).strftime("%Y/%m/%d")
        return self._both(solar, value.isoformat())

    def moment(self, value: datetime | None) -> Markup:
        """An instant in the display time zone, in both calendars."""
        if value is None:
            return Markup("—")
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        local = aware.astimezone(self.tz).replace(tzinfo=None)
        solar = jdatetime.datetime.fromgregorian(datetime=local).strftime("%Y/%m/%d %H:%M")
        return self._both(solar, local.strftime("%Y-%m-%d %H:%M"))

    def _both(self, solar: str, gregorian: str) -> Markup:
        first, second = ("solar", "gregorian") if self.rtl else ("gregorian", "solar")
        texts = {"solar": self.digits(solar), "gregorian": self.digits(gregorian)}
        return Markup(
            '<span class="date"><span class="{0}" dir="ltr">{1}</span> '
            '<span class="{2}" dir="ltr">{3}</span></span>'
        ).format(first, escape(texts[first]), second, escape(texts[second]))

    def status(self, value: str) -> str:
        return self.t(f"status.{value}") if f"status.{value}" in CATALOGUE else value

    def reason(self, code: str | None) -> str:
        """A deduction or review reason code with its label."""
        if not code:
            return "—"
        key = f"reason.{code}"
        return f"{self.t(key)} ({code})" if key in CATALOGUE else code

    def kind(self, value: str) -> str:
        return self.t(f"kind.{value}") if f"kind.{value}" in CATALOGUE else value

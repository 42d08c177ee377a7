"""Persian and English: the workspace's strings, and how it writes amounts and dates.

Every string the pages show is a message key translated by the catalogues of
``gateway.web.messages`` (Babel ``.po`` files). Dates are shown in the Solar Hijri and the
Gregorian calendars; in Persian with Persian digits, the Persian thousands separator and
percent sign, and the Solar Hijri date first. Values put into a sentence are isolated in
``<bdi>`` so numbers and Latin codes keep their place in right-to-left text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jdatetime
from markupsafe import Markup, escape

from gateway.web import messages

LANGUAGES = messages.LANGUAGES
DEFAULT_LANGUAGE = "fa"
_PERSIAN_DIGITS = str.maketrans("0123456789,.%", "۰۱۲۳۴۵۶۷۸۹٬٫٪")


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
class Rate:
    """A share (0.3) that a sentence shows as a percentage (30% or ۳۰٪)."""

    value: Decimal


@dataclass(frozen=True, slots=True)
class Locale:
    """One language's way of writing things; templates get it as ``fmt`` (and ``t``)."""

    lang: str
    tz: tzinfo = UTC

    @property
    def rtl(self) -> bool:
        return self.lang == "fa"

    def t(self, key: str, **values: object) -> Markup:
        """The key's message; each value is escaped and isolated in ``<bdi>``."""
        text = escape(messages.text(self.lang, key))
        if not values:
            return text
        return text.format(
            **{k: Markup("<bdi>{}</bdi>").format(self.value_text(v)) for k, v in values.items()}
        )

    def plain(self, key: str, **values: object) -> str:
        """The key's message as plain text (for files and attributes, not HTML)."""
        text = messages.text(self.lang, key)
        return text.format(**{k: self.value_text(v) for k, v in values.items()})

    def known(self, key: str) -> bool:
        return messages.known(self.lang, key)

    def value_text(self, value: object) -> str:
        """A value as a sentence shows it: numbers with separators, in the page's digits."""
        if isinstance(value, int) and not isinstance(value, bool):
            return self.digits(f"{value:,}")
        if isinstance(value, Rate):
            return self.percent(value.value)
        if isinstance(value, Decimal):
            return self.digits(_plain_decimal(value))
        return str(value)

    def digits(self, text: str) -> str:
        """Latin digits, separators and percent signs in Persian ones (in ``fa``)."""
        return text.translate(_PERSIAN_DIGITS) if self.lang == "fa" else text

    def percent(self, rate: Decimal | None) -> str:
        """A rate (0.3) as a percentage: 30% or ۳۰٪."""
        return "—" if rate is None else self.digits(f"{_plain_decimal(rate * 100)}%")

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

    def clock(self, value: datetime) -> str:
        """A time of day in the display time zone (a claim's end), in the page's digits."""
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return self.digits(aware.astimezone(self.tz).strftime("%H:%M"))

    def _both(self, solar: str, gregorian: str) -> Markup:
        first, second = ("solar", "gregorian") if self.rtl else ("gregorian", "solar")
        texts = {"solar": self.digits(solar), "gregorian": self.digits(gregorian)}
        return Markup(
            '<span class="date"><span class="{0}" dir="ltr">{1}</span> '
            '<span class="{2}" dir="ltr">{3}</span></span>'
        ).format(first, escape(texts[first]), second, escape(texts[second]))

    def _label(self, prefix: str, value: str) -> str:
        key = f"{prefix}.{value}"
        return messages.text(self.lang, key) if self.known(key) else value

    def status(self, value: str) -> str:
        return self._label("status", value)

    def reason(self, code: str | None) -> Markup:
        """A deduction or review reason code with its label; the code isolated."""
        if not code:
            return Markup("—")
        key = f"reason.{code}"
        if not self.known(key):
            return Markup('<bdi dir="ltr">{}</bdi>').format(code)
        return Markup('{} (<bdi dir="ltr">{}</bdi>)').format(messages.text(self.lang, key), code)

    def kind(self, value: str) -> str:
        return self._label("kind", value)

    def component(self, value: str) -> str:
        """A tariff component (professional, technical, anesthesia) in the page's words."""
        return self._label("component", value)

    def problem(self, code: str) -> Markup:
        """A validation problem's code named in words, the code isolated beside it."""
        return self._named("problem", code, Markup('<code dir="ltr">{}</code>'))

    def action(self, code: str) -> Markup:
        """An audit entry's action in words, with its code beside it for searching the
        trail (the code alone when it has no label)."""
        return self._named("action", code, Markup('<bdi dir="ltr"><code>{}</code></bdi>'))

    def _named(self, prefix: str, code: str, unnamed: Markup) -> Markup:
        """The code's label with the code small beside it, or ``unnamed`` (a template for
        the code alone) when the catalogue has no label for it."""
        key = f"{prefix}.{code}"
        if not self.known(key):
            return unnamed.format(code)
        return Markup('{} <bdi dir="ltr" class="small"><code>{}</code></bdi>').format(
            messages.text(self.lang, key), code
        )

    def details(self, value: object) -> str:
        """An audit entry's details as JSON, with its text as written (no ``\\u`` escapes)."""
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)

    def grade(self, value: str | None) -> str:
        return "—" if not value else self._label("grade", value)


def _plain_decimal(value: Decimal) -> str:
    """A decimal with thousands separators and no trailing zeros: 738,000 or 30.5."""
    text = f"{value:,f}"
    return text.rstrip("0").rstrip(".") if "." in text else text

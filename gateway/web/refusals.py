"""Services' refusals told in the reader's language.

A ``GatewayError`` carries a code naming the refusal and the values its English message
puts into words (``params``); the workspace never shows that English message but the
catalogue's ``refusal.<code>`` message, each value isolated in ``<bdi>``: numbers with the
page's digits, states by their labels, codes and names left to right as written. A code
without a message here is told by a general one that names the code, so a refusal is
never shown in the other language (``tests/web/test_refusals.py`` fails on a code a page
can show that has no message).
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum

from markupsafe import Markup, escape

from gateway.domain.documents import Purpose
from gateway.domain.lifecycle import DocumentStatus
from gateway.errors import GatewayError
from gateway.web import messages
from gateway.web.i18n import Locale
from gateway.web.messages import N_

REFUSALS: dict[str, str] = {
    "request.invalid": N_("refusal.request.invalid"),
    "request.unprocessable": N_("refusal.request.unprocessable"),
    "auth.required": N_("refusal.auth.required"),
    "auth.forbidden": N_("refusal.auth.forbidden"),
    "not-found": N_("refusal.not-found"),
    "conflict": N_("refusal.conflict"),
    "rate-limited": N_("refusal.rate-limited"),
    "overloaded": N_("refusal.overloaded"),
    "error": N_("refusal.error"),
    "admin.centre-exists": N_("refusal.admin.centre-exists"),
    "admin.centre-user": N_("refusal.admin.centre-user"),
    "admin.no-live-token": N_("refusal.admin.no-live-token"),
    "admin.no-token": N_("refusal.admin.no-token"),
    "admin.last-admin": N_("refusal.admin.last-admin"),
    "admin.no-user": N_("refusal.admin.no-user"),
    "admin.password-short": N_("refusal.admin.password-short"),
    "admin.self-disable": N_("refusal.admin.self-disable"),
    "admin.token-centre": N_("refusal.admin.token-centre"),
    "admin.token-expired": N_("refusal.admin.token-expired"),
    "admin.token-reused": N_("refusal.admin.token-reused"),
    "admin.user-exists": N_("refusal.admin.user-exists"),
    "appeal.reason-needed": N_("refusal.appeal.reason-needed"),
    "appeal.window-passed": N_("refusal.appeal.window-passed"),
    "assignment.not-auditor": N_("refusal.assignment.not-auditor"),
    "assignment.not-under-review": N_("refusal.assignment.not-under-review"),
    "assignment.too-many": N_("refusal.assignment.too-many"),
    "bulk.too-many": N_("refusal.bulk.too-many"),
    "attachment.invalid": N_("refusal.attachment.invalid"),
    "attachment.too-many": N_("refusal.attachment.too-many"),
    "body.empty": N_("refusal.body.empty"),
    "body.too-large": N_("refusal.body.too-large"),
    "body.unsupported-media-type": N_("refusal.body.unsupported-media-type"),
    "centre.not-found": N_("refusal.centre.not-found"),
    "document.estimate": N_("refusal.document.estimate"),
    "document.no-such-lines": N_("refusal.document.no-such-lines"),
    "document.not-found": N_("refusal.document.not-found"),
    "document.transition": N_("refusal.document.transition"),
    "information.answer-empty": N_("refusal.information.answer-empty"),
    "information.answered-already": N_("refusal.information.answered-already"),
    "information.withdrawn-already": N_("refusal.information.withdrawn-already"),
    "information.no-attachment": N_("refusal.information.no-attachment"),
    "information.no-request": N_("refusal.information.no-request"),
    "information.not-under-review": N_("refusal.information.not-under-review"),
    "information.nothing-awaits": N_("refusal.information.nothing-awaits"),
    "information.question-empty": N_("refusal.information.question-empty"),
    "information.unknown-kind": N_("refusal.information.unknown-kind"),
    "patient.national-id-checksum": N_("refusal.patient.national-id-checksum"),
    "payers.bad-amount": N_("refusal.payers.bad-amount"),
    "payers.bad-earmark": N_("refusal.payers.bad-earmark"),
    "payers.bad-period": N_("refusal.payers.bad-period"),
    "payers.group-not-covered": N_("refusal.payers.group-not-covered"),
    "payers.invalid-national-id": N_("refusal.payers.invalid-national-id"),
    "payers.no-diagnosis-group": N_("refusal.payers.no-diagnosis-group"),
    "payers.no-donation": N_("refusal.payers.no-donation"),
    "payers.no-programme": N_("refusal.payers.no-programme"),
    "payers.programme-exists": N_("refusal.payers.programme-exists"),
    "payers.unknown-centre": N_("refusal.payers.unknown-centre"),
    "period.malformed": N_("refusal.period.malformed"),
    "referral.feedback-given": N_("refusal.referral.feedback-given"),
    "referral.no-free-code": N_("refusal.referral.no-free-code"),
    "referral.not-family-physician": N_("refusal.referral.not-family-physician"),
    "referral.not-found": N_("refusal.referral.not-found"),
    "referral.not-on-list": N_("refusal.referral.not-on-list"),
    "request.line-number": N_("refusal.request.line-number"),
    "review.amount-range": N_("refusal.review.amount-range"),
    "review.figure-range": N_("refusal.review.figure-range"),
    "review.no-line": N_("refusal.review.no-line"),
    "review.not-by-unit": N_("refusal.review.not-by-unit"),
    "review.not-under-review": N_("refusal.review.not-under-review"),
    "review.one-figure": N_("refusal.review.one-figure"),
    "review.quantity-range": N_("refusal.review.quantity-range"),
    "review.reason-needed": N_("refusal.review.reason-needed"),
    "review.unknown-action": N_("refusal.review.unknown-action"),
    "review.unknown-reason": N_("refusal.review.unknown-reason"),
    "settlement.no-order": N_("refusal.settlement.no-order"),
    "settlement.order-paid": N_("refusal.settlement.order-paid"),
    "settlement.period-closed": N_("refusal.settlement.period-closed"),
    "settlement.period-not-begun": N_("refusal.settlement.period-not-begun"),
    "settlement.reference-missing": N_("refusal.settlement.reference-missing"),
    "tariff.invalid": N_("refusal.tariff.invalid"),
    "tariff.not-found": N_("refusal.tariff.not-found"),
}
UNKNOWN = N_("refusal.unknown")
_NUMERIC = re.compile(r"[0-9][0-9\-/.,: ]*")


def describe(fmt: Locale, error: GatewayError) -> Markup:
    """The refusal as a sentence of the page's language, its values isolated."""
    key = REFUSALS.get(error.code)
    if key is None or not fmt.known(key):
        code = Markup('<bdi dir="ltr">{}</bdi>').format(error.code)
        return _sentence(fmt, UNKNOWN, {"code": code})
    return _sentence(fmt, key, {name: _value(fmt, v) for name, v in error.params.items()})


def _sentence(fmt: Locale, key: str, values: dict[str, Markup]) -> Markup:
    return escape(messages.text(fmt.lang, key)).format_map(_Values(values))


class _Values(dict[str, Markup]):
    """A message's values; one its refusal did not give is a dash, never a crash."""

    def __missing__(self, name: str) -> Markup:
        return Markup("—")


def _value(fmt: Locale, value: object) -> Markup:
    if isinstance(value, DocumentStatus):
        return Markup("<bdi>{}</bdi>").format(fmt.status(value))
    if isinstance(value, Purpose) and fmt.known(f"purpose.{value.value}"):
        return Markup("<bdi>{}</bdi>").format(messages.text(fmt.lang, f"purpose.{value.value}"))
    if isinstance(value, date):
        return Markup("<bdi>{}</bdi>").format(fmt.day(value))
    if isinstance(value, StrEnum):
        return Markup('<bdi dir="ltr">{}</bdi>').format(value.value)
    if isinstance(value, (list, tuple)):
        joined = ("، " if fmt.rtl else ", ").join(fmt.value_text(item) for item in value)
        return Markup("<bdi>{}</bdi>").format(joined)
    if isinstance(value, str):
        shown = fmt.digits(value) if _NUMERIC.fullmatch(value) else value
        return Markup('<bdi dir="ltr">{}</bdi>').format(shown)
    return Markup("<bdi>{}</bdi>").format(fmt.value_text(value))

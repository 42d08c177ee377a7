"""Pure pieces of the workspace: languages, dates in two calendars, amounts, the original
document cut out of a submission."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import orjson

from gateway.web.i18n import Locale, choose_language
from gateway.web.original import original_document
from gateway.web.views import latin_number, plain, queue_form


def test_the_language_comes_from_the_cookie_then_the_browser() -> None:
    assert choose_language("en", "fa-IR") == "en"
    assert choose_language(None, "en-US,en;q=0.9") == "en"
    assert choose_language("xx", "de-DE,fa;q=0.5") == "fa"
    assert choose_language(None, "") == "fa"


def test_dates_are_in_both_calendars() -> None:
    day = date(2026, 3, 21)  # Nowruz 1405
    persian = str(Locale("fa").day(day))
    assert '<span class="solar" dir="ltr">۱۴۰۵/۰۱/۰۱</span>' in persian
    assert "۲۰۲۶-۰۳-۲۱" in persian
    assert persian.index("solar") < persian.index("gregorian")
    english = str(Locale("en").day(day))
    assert "2026-03-21" in english
    assert "1405/01/01" in english
    assert english.index("gregorian") < english.index("solar")


def test_times_are_shown_in_the_display_zone() -> None:
    moment = datetime(2026, 11, 23, 20, 45, tzinfo=UTC)  # 00:15 the next day in Tehran
    shown = str(Locale("en", ZoneInfo("Asia/Tehran")).moment(moment))
    assert "2026-11-24 00:15" in shown
    assert "1405/09/03 00:15" in shown


def test_amounts_have_thousands_separators() -> None:
    assert Locale("en").amount(1_338_000) == "1,338,000"
    assert Locale("fa").amount(1_338_000) == "۱٬۳۳۸٬۰۰۰"
    assert Locale("en").amount(None) == "—"
    assert Locale("fa").percent(Decimal("0.30")) == "۳۰٪"
    assert Locale("en").percent(Decimal("0.305")) == "30.5%"
    assert Locale("fa").percent(None) == "—"
    assert plain(Decimal("0.3000") * 100) == "30"
    assert plain(Decimal("738000.00")) == "738,000"
    assert latin_number("۱٬۵۰۰٬۰۰۰") == "1500000"


def test_queue_filters_are_checked() -> None:
    assert queue_form({}).status == "UNDER_REVIEW"
    assert queue_form({"status": ""}).criteria().status is None
    form = queue_form({"period": "2026/13", "min_amount": "lots", "national_id": "12x"})
    assert form.problems == ["queue.bad_period", "queue.bad_amount", "queue.bad_national_id"]
    good = queue_form({"period": "۲۰۲۶-۱۱", "min_amount": "1,000", "page": "3"})
    criteria = good.criteria()
    assert criteria.service_dates == (date(2026, 11, 1), date(2026, 11, 30))
    solar = queue_form({"period": "۱۴۰۵/۰۸", "national_id": "123", "sort": "nonsense"})
    assert solar.problems == []
    assert solar.period == "1405-08"
    assert solar.criteria().service_dates == (date(2026, 10, 23), date(2026, 11, 21))
    assert solar.criteria().national_id == "123"  # a prefix
    assert solar.sort.value == "received"
    assert criteria.min_amount == 1000
    assert good.page == 3


XML = b"""<?xml version="1.0" encoding="UTF-8"?>
<submission xmlns="urn:example:claims"><header><centreCode>C1</centreCode></header>
<documents><outpatientVisit><documentNumber>A</documentNumber></outpatientVisit>
<prescription><documentNumber>B</documentNumber></prescription>
<outpatientVisit><documentNumber>C</documentNumber></outpatientVisit></documents>
</submission>"""


def test_audit_details_show_their_text_as_written() -> None:
    shown = Locale("fa").details({"note": "مستندات کافی نیست", "line": 2})
    assert shown == '{"line": 2, "note": "مستندات کافی نیست"}'


def test_the_original_is_the_documents_part_of_the_body() -> None:
    second_visit = original_document(
        XML, "application/xml", "/submission/documents/outpatientVisit[2]"
    )
    assert not second_visit.whole
    assert "<documentNumber>C</documentNumber>" in second_visit.text
    assert "<documentNumber>A</documentNumber>" not in second_visit.text
    body = orjson.dumps({"documents": [{"prescription": {"documentNumber": "P1"}}]})
    part = original_document(body, "application/json", "/documents/0/prescription")
    assert orjson.loads(part.text) == {"documentNumber": "P1"}
    whole = original_document(body, "application/fhir+json", "Bundle.entry[0]")
    assert whole.whole
    assert "P1" in whole.text


def test_a_body_that_does_not_parse_is_shown_as_text() -> None:
    shown = original_document(b"<not xml", "application/xml", "/submission")
    assert shown.whole
    assert shown.text == "<not xml"
    entity = original_document(b"<!DOCTYPE x [<!ENTITY e 'boom'>]><x>&e;</x>", "xml", "/x")
    assert "boom" not in entity.text  # parsed as safely as on the way in: nothing expanded


def test_the_reasons_the_gateway_writes_on_a_move_are_told_in_the_readers_language() -> None:
    """Every reason the services write (lifecycle, submissions, information, settlement,
    corrections, decisions) has a message in both languages; a typed reason stays as
    typed."""
    from gateway.web import messages
    from gateway.web.views import system_reason

    fa, en = Locale("fa"), Locale("en")
    written = {
        "received": ("said.received", {}),
        "schema and rules passed": ("said.checks_passed", {}),
        "3 problem(s)": ("said.problems", {"count": 3}),
        "approved": ("said.approved", {}),
        "denied": ("said.denied", {}),
        "information requested": ("said.information_requested", {}),
        "information received": ("said.information_received", {}),
        "information request withdrawn": ("said.information_withdrawn", {}),
        "replaced by document 0b9c": ("said.replaced_by", {"document": "0b9c"}),
        "payment order 12 (2026-11)": ("said.payment_order", {"order": "12", "period": "2026-11"}),
        "paid under reference PAY-1": ("said.paid", {"reference": "PAY-1"}),
        "review-not-medically-necessary": ("reason.review-not-medically-necessary", {}),
    }
    for reason, (key, values) in written.items():
        said = system_reason(reason)
        assert said is not None, reason
        assert (said.key, said.values) == (key, values)
        assert messages.known("fa", key), key
        assert messages.known("en", key), key
    assert str(fa.t("said.problems", count=3)) == "<bdi>۳</bdi> ایراد یافت شد."
    assert "PAY-1" in str(en.t("said.paid", reference="PAY-1"))
    assert system_reason("the patient left before the visit") is None


def test_a_validation_problem_is_named_in_the_readers_language_with_its_code() -> None:
    fa, en = Locale("fa"), Locale("en")
    named = str(fa.problem("line.code-not-in-tariff"))
    assert named.startswith("کد خارج از تعرفه ")
    assert "<code>line.code-not-in-tariff</code>" in named
    assert str(en.problem("line.code-not-in-tariff")).startswith("Code not in the tariff ")
    assert str(en.problem("no.such-code")) == '<code dir="ltr">no.such-code</code>'

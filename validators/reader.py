"""Reads a schema-valid submission tree into the document model.

It runs only on trees the XSD has accepted, so every required element is present and
every value already has its lexical form checked; it does no validation of its own.
"""

from __future__ import annotations

from datetime import date, datetime

from lxml import etree

from gateway.domain.documents import (
    CodeType,
    Document,
    DocumentKind,
    Line,
    Patient,
    Physician,
    Submission,
)
from validators.schema import NAMESPACE, Format, xpath_of

_CUT = len(NAMESPACE) + 2


def _fields(element: etree._Element) -> dict[str, etree._Element]:
    return {child.tag[_CUT:]: child for child in element}


def _text(fields: dict[str, etree._Element], name: str) -> str | None:
    found = fields.get(name)
    return None if found is None else (found.text or "").strip()


def _date(fields: dict[str, etree._Element], name: str) -> date | None:
    text = _text(fields, name)
    return None if text is None else _parse_date(text)


def _parse_date(text: str) -> date:
    # xs:date may carry a timezone (2026-01-02Z, 2026-01-02+03:30); the day is what counts.
    return date.fromisoformat(text[:10])


def read_submission(root: etree._Element, fmt: Format) -> Submission:
    """The submission a valid tree holds, documents in their order of appearance."""
    top = _fields(root)
    header = _fields(top["header"])
    submission = Submission(
        centre_code=_text(header, "centreCode") or "",
        created_at=datetime.fromisoformat(_text(header, "createdAt") or ""),
        submission_number=_text(header, "submissionNumber"),
        software=_text(header, "software"),
        path="/submission" if fmt is Format.XML else "",
    )
    for index, element in enumerate(top["documents"]):
        path = (
            xpath_of(element) if fmt is Format.XML else f"/documents/{index}/{element.tag[_CUT:]}"
        )
        submission.documents.append(read_document(element, path))
    return submission


def read_document(element: etree._Element, path: str) -> Document:
    kind = DocumentKind(element.tag[_CUT:])
    fields = _fields(element)
    patient_fields = _fields(fields["patient"])
    physician_fields = _fields(fields["physician"])
    admission = _date(fields, "admissionDate")
    service_date = _date(fields, "serviceDate") or admission
    assert service_date is not None  # the XSD requires one of the two
    return Document(
        kind=kind,
        number=_text(fields, "documentNumber") or "",
        patient=Patient(
            national_id=_text(patient_fields, "nationalId") or "",
            insurance_number=_text(patient_fields, "insuranceNumber") or "",
            full_name=_text(patient_fields, "fullName"),
            birth_date=_date(patient_fields, "birthDate"),
            gender=_text(patient_fields, "gender"),
        ),
        physician=Physician(
            medical_council_number=_text(physician_fields, "medicalCouncilNumber") or "",
            full_name=_text(physician_fields, "fullName"),
            grade=_text(physician_fields, "grade") or "general",
        ),
        service_date=service_date,
        total_amount=int(_text(fields, "totalAmount") or 0),
        lines=[_read_line(line, service_date) for line in fields["lines"]],
        path=path,
        line_no=element.sourceline if isinstance(element.sourceline, int) else None,
        referral_code=_text(fields, "referralCode"),
        tracking_code=_text(fields, "trackingCode"),
        category=_text(fields, "category"),
        package_code=_text(fields, "packageCode"),
        admission_date=admission,
        discharge_date=_date(fields, "dischargeDate"),
    )


def _read_line(element: etree._Element, default_date: date) -> Line:
    fields = _fields(element)
    return Line(
        code_type=CodeType(_text(fields, "codeType") or ""),
        code=_text(fields, "code") or "",
        quantity=int(_text(fields, "quantity") or 0),
        unit_price=int(_text(fields, "unitPrice") or 0),
        amount=int(_text(fields, "amount") or 0),
        service_date=_date(fields, "serviceDate") or default_date,
        description=_text(fields, "description"),
    )

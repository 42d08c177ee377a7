"""Reads a schema-valid submission into the document model.

It runs only on input the XSD has accepted, so every required field is present and every
value has its lexical form checked; it does no validation of its own. JSON keys are the
XSD's local names, so a JSON document and an XML document turned into a mapping of local
names go through the same constructor.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

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
_KINDS = {kind.value: kind for kind in DocumentKind}
_CODE_TYPES = {code.value: code for code in CodeType}
_dates: dict[str, date] = {}

Mapping = dict[str, Any]


def _date(text: str | None) -> date | None:
    """xs:date, whose timezone (2026-01-02Z, 2026-01-02+03:30) does not change the day."""
    if text is None:
        return None
    found = _dates.get(text)
    if found is None:
        if len(_dates) > 20_000:
            _dates.clear()
        found = _dates[text] = date.fromisoformat(text.strip()[:10])
    return found


def _line_mapping(line: etree._Element) -> Mapping:
    """A line's fields by position: the XSD puts codeType and code first and quantity,
    unitPrice and amount last, with only description and serviceDate optional between."""
    fields = list(line)
    out: Mapping = {
        "codeType": fields[0].text,
        "code": fields[1].text,
        "quantity": fields[-3].text,
        "unitPrice": fields[-2].text,
        "amount": fields[-1].text,
    }
    for middle in fields[2:-3]:
        out[middle.tag[_CUT:]] = middle.text
    return out


def _mapping(element: etree._Element) -> Mapping:
    """Local name -> text, nested for patient and physician, a list of mappings for lines."""
    out: Mapping = {}
    for child in element:
        name = child.tag[_CUT:]
        if name == "lines":
            out[name] = [_line_mapping(line) for line in child]
        elif len(child):
            out[name] = {f.tag[_CUT:]: f.text for f in child}
        else:
            out[name] = child.text
    return out


def read_submission(root: etree._Element, fmt: Format, source: Mapping | None = None) -> Submission:
    """The submission a valid tree holds, documents in their order of appearance.

    ``source`` is the JSON object the tree was built from, when there is one: reading it
    directly is cheaper than reading the tree back.
    """
    if source is not None:
        return _from_json(source)
    header = _mapping(root[0])
    submission = Submission(
        centre_code=header["centreCode"].strip(),
        created_at=datetime.fromisoformat(header["createdAt"].strip()),
        submission_number=_strip(header.get("submissionNumber")),
        software=header.get("software"),
        path="/submission" if fmt is Format.XML else "",
    )
    for index, element in enumerate(root[1]):
        name = element.tag[_CUT:]
        path = xpath_of(element) if fmt is Format.XML else f"/documents/{index}/{name}"
        line_no = element.sourceline if fmt is Format.XML else None
        assert line_no is None or isinstance(line_no, int)
        kind = _KINDS[name]
        submission.documents.append(document_from(kind, _mapping(element), path, line_no))
    return submission


def _from_json(source: Mapping) -> Submission:
    header = source["header"]
    submission = Submission(
        centre_code=header["centreCode"].strip(),
        created_at=datetime.fromisoformat(header["createdAt"].strip()),
        submission_number=_strip(header.get("submissionNumber")),
        software=header.get("software"),
        path="",
    )
    for index, entry in enumerate(source["documents"]):
        ((name, body),) = entry.items()
        path = f"/documents/{index}/{name}"
        submission.documents.append(document_from(_KINDS[name], body, path, None))
    return submission


def _strip(text: str | None) -> str | None:
    return None if text is None else text.strip()


def document_from(kind: DocumentKind, fields: Mapping, path: str, line_no: int | None) -> Document:
    patient, physician = fields["patient"], fields["physician"]
    admission = _date(fields.get("admissionDate"))
    service_date = _date(fields.get("serviceDate")) or admission
    assert service_date is not None  # the XSD requires one of the two
    return Document(
        kind=kind,
        number=fields["documentNumber"].strip(),
        patient=Patient(
            national_id=patient["nationalId"],
            insurance_number=patient["insuranceNumber"],
            full_name=patient.get("fullName"),
            birth_date=_date(patient.get("birthDate")),
            gender=patient.get("gender"),
        ),
        physician=Physician(
            medical_council_number=physician["medicalCouncilNumber"],
            full_name=physician.get("fullName"),
            grade=physician.get("grade") or "general",
        ),
        service_date=service_date,
        total_amount=int(fields["totalAmount"]),
        lines=[_line(line, service_date) for line in fields["lines"]],
        path=path,
        line_no=line_no,
        referral_code=fields.get("referralCode"),
        tracking_code=fields.get("trackingCode"),
        category=fields.get("category"),
        package_code=fields.get("packageCode"),
        admission_date=admission,
        discharge_date=_date(fields.get("dischargeDate")),
    )


def _line(fields: Mapping, default_date: date) -> Line:
    return Line(
        _CODE_TYPES[fields["codeType"]],
        fields["code"],
        int(fields["quantity"]),
        int(fields["unitPrice"]),
        int(fields["amount"]),
        _date(fields.get("serviceDate")) or default_date,
        fields.get("description"),
    )

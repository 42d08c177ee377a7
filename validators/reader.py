"""Reads a schema-valid submission into the document model.

It runs only on input the XSD has accepted, so every required field is present and every
value has its lexical form checked; it does no validation of its own. JSON keys are the
XSD's local names, so a JSON document and an XML document turned into a mapping of local
names go through the same constructor.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from typing import Any

from lxml import etree

from gateway.domain.documents import (
    CodeType,
    Document,
    DocumentKind,
    IssuedReferral,
    Line,
    Patient,
    Physician,
    ReferralFeedback,
    Submission,
)
from validators.schema import NAMESPACE, Format, SchemaResult

_CUT = len(NAMESPACE) + 2
_KINDS = {kind.value: kind for kind in DocumentKind}
_CODE_TYPES = {code.value: code for code in CodeType}
_DESCRIPTION = f"{{{NAMESPACE}}}description"
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


def _mapping(element: etree._Element) -> Mapping:
    """Local name -> text, nested for patient and physician; ``lines`` stays an element."""
    out: Mapping = {}
    for child in element:
        name = child.tag[_CUT:]
        if name == "lines":
            out[name] = child
        elif name == "referralsIssued":
            out[name] = [{f.tag[_CUT:]: f.text for f in item} for item in child]
        elif len(child):
            out[name] = {f.tag[_CUT:]: f.text for f in child}
        else:
            out[name] = child.text
    for key, value in element.attrib.items():  # selfReferred, emergency: unqualified
        out[str(key)] = value
    return out


def _flag(value: object) -> bool:
    """An xs:boolean attribute: a JSON boolean, or the XML text true or 1."""
    return value is True or value in ("true", "1")


def _xml_lines(lines: etree._Element, default_date: date) -> list[Line]:
    """Lines by position, their texts read in one walk over the elements: the XSD puts
    codeType and code first and quantity, unitPrice and amount last, with only
    description and serviceDate (both optional, in that order) between."""
    elements = list(lines.iter())  # <lines>, then each <line> followed by its fields
    texts = [element.text for element in elements]
    counts = set(map(len, lines))
    if len(counts) == 1:
        (count,) = counts
        layout = _common_layout(count, elements)
        if layout is not None:
            return _lines_by_column(texts, count, layout, default_date)
    return _lines_one_by_one(lines, elements, texts, default_date)


Layout = tuple[int | None, int | None]  # where description and serviceDate sit in a line


def _common_layout(count: int, elements: list[etree._Element]) -> Layout | None:
    """The layout every line shares when each has ``count`` fields, None if they differ."""
    if count == 5:
        return None, None
    if count == 7:
        return 2, 3
    if count != 6:
        return None
    third = {element.tag for element in elements[4 :: count + 1]}
    if len(third) != 1:
        return None
    return (2, None) if _DESCRIPTION in third else (None, 2)


def _lines_by_column(
    texts: list[str | None], count: int, layout: Layout, default_date: date
) -> list[Line]:
    """Lines of one layout: each field is a slice of the texts with the line's stride."""
    step = count + 1

    def column(position: int) -> list[Any]:
        return texts[2 + position :: step]

    described, dated = layout
    size = len(texts) // step
    descriptions = [None] * size if described is None else column(described)
    if dated is None:
        days = [default_date] * size
    else:
        days = [_date(text) or default_date for text in column(dated)]
    return list(
        map(
            Line,
            map(_CODE_TYPES.__getitem__, column(0)),
            column(1),
            map(int, column(count - 3)),
            map(int, column(count - 2)),
            map(int, column(count - 1)),
            days,
            descriptions,
        )
    )


def _lines_one_by_one(
    lines: etree._Element,
    elements: list[etree._Element],
    texts: list[Any],
    default_date: date,
) -> list[Line]:
    """Lines of mixed layouts, each read by its own count of fields."""
    out: list[Line] = []
    start = 1
    for line in lines:
        count = len(line)
        f = texts[start + 1 : start + 1 + count]
        description, day = None, default_date
        if count == 7:
            description, day = f[2], _date(f[3]) or default_date
        elif count == 6:
            if elements[start + 3].tag == _DESCRIPTION:
                description = f[2]
            else:
                day = _date(f[2]) or default_date
        out.append(
            Line(_CODE_TYPES[f[0]], f[1], int(f[-3]), int(f[-2]), int(f[-1]), day, description)
        )
        start += count + 1
    return out


def _document_xpaths(prefix: str, documents: etree._Element) -> list[str]:
    """What xpath_of gives for each document, from one pass over their names."""
    names = [element.tag[_CUT:] for element in documents]
    if len(names) == 1:
        return [f"{prefix}/{names[0]}"]
    repeated = {name for name, count in Counter(names).items() if count > 1}
    seen: Counter[str] = Counter()
    paths: list[str] = []
    for name in names:
        if name in repeated:
            seen[name] += 1
            paths.append(f"{prefix}/{name}[{seen[name]}]")
        else:
            paths.append(f"{prefix}/{name}")
    return paths


def read_result(result: SchemaResult) -> Submission:
    """The submission of a valid schema result: from its JSON object when it has one
    (without writing the tree a quick-checked JSON body does not need), else its tree."""
    if result.source is not None:
        return _from_json(result.source)
    root = result.root
    assert root is not None, "read_result takes a valid result"
    return read_submission(root, result.format)


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
    documents = root[1]
    xpaths = (
        _document_xpaths(f"{submission.path}/documents", documents) if fmt is Format.XML else None
    )
    for index, element in enumerate(documents):
        name = element.tag[_CUT:]
        path = xpaths[index] if xpaths is not None else f"/documents/{index}/{name}"
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
            specialty=physician.get("specialty"),
        ),
        service_date=service_date,
        total_amount=int(fields["totalAmount"]),
        lines=_lines(fields["lines"], service_date),
        path=path,
        line_no=line_no,
        referral_code=fields.get("referralCode"),
        tracking_code=fields.get("trackingCode"),
        category=fields.get("category"),
        package_code=fields.get("packageCode"),
        admission_date=admission,
        discharge_date=_date(fields.get("dischargeDate")),
        replaces=_strip(fields.get("replaces")),
        self_referred=_flag(fields.get("selfReferred")),
        emergency=_flag(fields.get("emergency")),
        referrals_issued=[_issued(item) for item in fields.get("referralsIssued") or ()],
        referral_feedback=_feedback(fields.get("referralFeedback")),
    )


def _feedback(item: Mapping | None) -> ReferralFeedback | None:
    if item is None:
        return None
    return ReferralFeedback(
        diagnosis=item["diagnosis"].strip(),
        findings=item["findings"],
        plan=item["plan"],
        back_to_level1=_flag(item["backToLevel1"]),
    )


def _issued(item: Mapping) -> IssuedReferral:
    return IssuedReferral(
        level=int(item["level"]),
        reason=item["reason"].strip(),
        specialty=item.get("specialty"),
        reason_text=item.get("reasonText"),
        visits=int(item.get("visits") or 1),
    )


def _lines(lines: etree._Element | list[Mapping], default_date: date) -> list[Line]:
    if isinstance(lines, etree._Element):
        return _xml_lines(lines, default_date)
    return _json_lines(lines, default_date)


def _json_lines(lines: list[Mapping], default_date: date) -> list[Line]:
    """Lines of a schema-valid JSON document: its integers are ints already, since the
    JSON writer takes no other JSON type for an integer field."""
    code_types = _CODE_TYPES
    return [
        Line(
            code_types[f["codeType"]],
            f["code"],
            f["quantity"],
            f["unitPrice"],
            f["amount"],
            _date(f.get("serviceDate")) or default_date,
            f.get("description"),
        )
        for f in lines
    ]

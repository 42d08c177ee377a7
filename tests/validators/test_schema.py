"""Safe parsing and schema validation of XML and JSON through the one XSD."""

from __future__ import annotations

import orjson
import pytest

from tests import factories as f
from validators.jsonplan import ARRAY, CHOICE_ARRAY, OBJECT, SIMPLE
from validators.jsontext import JsonTextBuilder, strings_are_plain
from validators.schema import NAMESPACE, Format, claim_schema

SCHEMA = claim_schema()

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol">
<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]><submission xmlns="urn:rasa-gateway:claim:1" schemaVersion="1">&lol9;</submission>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE s [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<submission xmlns="urn:rasa-gateway:claim:1" schemaVersion="1">&xxe;</submission>"""
EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE submission SYSTEM "http://127.0.0.1:9/evil.dtd">
<submission xmlns="urn:rasa-gateway:claim:1" schemaVersion="1"/>"""


def codes(result) -> list[str]:
    return [p.code for p in result.problems]


def test_plan_follows_the_xsd() -> None:
    plan = SCHEMA.plan
    assert plan.shape == OBJECT
    assert set(plan.attributes) == {"schemaVersion"}
    documents = plan.by_name["documents"].node
    assert documents.shape == CHOICE_ARRAY
    assert set(documents.choices) == {
        "outpatientVisit",
        "prescription",
        "paraclinical",
        "inpatientBill",
        "surgeryPackage",
    }
    visit = documents.choices["outpatientVisit"]
    assert [s.name for s in visit.children][:5] == [
        "documentNumber",
        "replaces",
        "patient",
        "physician",
        "referralCode",
    ]
    lines = visit.by_name["lines"].node
    assert lines.shape == ARRAY
    assert lines.item is not None
    assert lines.item.by_name["quantity"].node.json_type == "integer"
    assert lines.item.by_name["code"].node.shape == SIMPLE
    assert lines.item.by_name["code"].node.json_type == "string"


@pytest.mark.parametrize("body", [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD])
def test_doctypes_are_refused(body: bytes) -> None:
    result = SCHEMA.check_xml(body)
    assert result.root is None
    assert codes(result) == ["xml.doctype-forbidden"]


def test_external_entity_is_never_read() -> None:
    result = SCHEMA.check_xml(EXTERNAL_ENTITY)
    assert all("root:" not in p.message for p in result.problems)


def test_malformed_xml_reports_its_line() -> None:
    result = SCHEMA.check_xml(b"<submission>\n<header>\n</submission>")
    assert codes(result) == ["xml.malformed"]
    assert result.problems[0].line == 3


def test_deep_nesting_is_refused() -> None:
    body = b"<a>" * 5000 + b"</a>" * 5000
    result = SCHEMA.check_xml(body)
    assert codes(result) == ["xml.malformed"]


def test_wrong_namespace_names_the_expected_root() -> None:
    result = SCHEMA.check_xml(b'<submission schemaVersion="1"/>')
    assert codes(result) == ["schema.unknown-root"]
    assert "urn:rasa-gateway:claim:1" in result.problems[0].message


def test_xml_problems_carry_xpath_and_line() -> None:
    data = f.submission("C01", f.outpatient_visit([f.line("970000", 1, 5), f.line("800010", 1, 5)]))
    text = f.as_xml(data).replace(b"<quantity>1</quantity>", b"<quantity>0</quantity>", 2)
    result = SCHEMA.check_xml(text)
    assert codes(result) == ["schema.invalid-value", "schema.invalid-value"]
    paths = [p.path for p in result.problems]
    assert paths == [
        "/submission/documents/outpatientVisit/lines/line[1]/quantity",
        "/submission/documents/outpatientVisit/lines/line[2]/quantity",
    ]
    lines = [p.line for p in result.problems]
    assert all(isinstance(n, int) and n > 1 for n in lines)
    assert lines[0] < lines[1]


def test_json_problems_carry_pointers() -> None:
    data = f.submission("C01", f.outpatient_visit(), f.outpatient_visit())
    data["documents"][1]["outpatientVisit"]["lines"][1]["quantity"] = 100_001
    data["documents"][1]["outpatientVisit"]["patient"]["nationalId"] = "12"
    result = SCHEMA.check_json(orjson.dumps(data))
    assert [(p.code, p.path) for p in result.problems] == [
        ("schema.pattern", "/documents/1/outpatientVisit/patient/nationalId"),
        ("schema.out-of-range", "/documents/1/outpatientVisit/lines/1/quantity"),
    ]


def test_json_key_order_does_not_matter() -> None:
    data = f.submission("C01")
    reordered = {k: data[k] for k in reversed(list(data))}
    visit = reordered["documents"][0]["outpatientVisit"]
    reordered["documents"][0]["outpatientVisit"] = {k: visit[k] for k in reversed(list(visit))}
    assert SCHEMA.check_json(orjson.dumps(reordered)).ok


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda d: d["documents"][0]["outpatientVisit"]["lines"][0].update(quantity="1"),
            [("json.type", "/documents/0/outpatientVisit/lines/0/quantity")],
        ),
        (
            lambda d: d["documents"][0]["outpatientVisit"]["patient"].update(nationalId=13542419),
            [
                ("json.type", "/documents/0/outpatientVisit/patient/nationalId"),
            ],
        ),
        (
            lambda d: d["documents"][0]["outpatientVisit"].update(extra=1),
            [("schema.unexpected-element", "/documents/0/outpatientVisit/extra")],
        ),
        (lambda d: d.update(documents={"outpatientVisit": {}}), [("json.type", "/documents")]),
        (
            lambda d: d["documents"].append({"xray": {}}),
            [("schema.unexpected-element", "/documents/1")],
        ),
        (lambda d: d["documents"].append({"a": {}, "b": {}}), [("json.type", "/documents/1")]),
        (
            lambda d: d["header"].update(centreCode="bad code"),
            [("schema.pattern", "/header/centreCode")],
        ),
        (lambda d: d.update(schemaVersion="2"), [("schema.fixed-value", "/schemaVersion")]),
        (
            lambda d: d["documents"][0]["outpatientVisit"]["lines"][0].update(code="A\u0000"),
            [("json.invalid-text", "/documents/0/outpatientVisit/lines/0/code")],
        ),
    ],
)
def test_json_misfits(mutate, expected) -> None:
    data = f.submission("C01")
    mutate(data)
    result = SCHEMA.check_json(orjson.dumps(data))
    assert [(p.code, p.path) for p in result.problems] == expected


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{", "json.malformed"),
        (b"[]", "json.type"),
        (b"  ", "body.empty"),
        (b'{"a": NaN}', "json.malformed"),
        (b'{"a": "\xff"}', "json.malformed"),
    ],
)
def test_json_that_is_not_a_submission(body: bytes, code: str) -> None:
    result = SCHEMA.check_json(body)
    assert result.root is None
    assert codes(result) == [code]


def test_xml_and_json_of_the_same_submission_agree() -> None:
    data = f.submission("C01", f.outpatient_visit(), f.inpatient_bill([f.line("300100", 3, 10)]))
    assert SCHEMA.check(f.as_json(data), Format.JSON).ok
    assert SCHEMA.check(f.as_xml(data), Format.XML).ok


def test_pointers_after_a_skipped_array_item_keep_their_index() -> None:
    data = f.submission("C01", f.outpatient_visit(), f.outpatient_visit(), f.outpatient_visit())
    data["documents"][1] = {"dentalVisit": {}}
    data["documents"][2]["outpatientVisit"]["lines"][0]["quantity"] = 0
    result = SCHEMA.check_json(orjson.dumps(data))
    assert [(p.code, p.path) for p in result.problems] == [
        ("schema.unexpected-element", "/documents/1"),
        ("schema.invalid-value", "/documents/2/outpatientVisit/lines/0/quantity"),
    ]


def test_attribute_problems_point_at_the_attribute() -> None:
    body = f.as_xml(f.submission("C01")).replace(b'schemaVersion="1"', b'schemaVersion="2"')
    (problem,) = SCHEMA.check_xml(body).problems
    assert (problem.code, problem.path) == ("schema.fixed-value", "/submission/@schemaVersion")


def _written(data: dict, *, plain: bool, pointers: bool) -> bytes:
    builder = JsonTextBuilder(NAMESPACE, plain_strings=plain, pointers=pointers)
    return builder.build(SCHEMA.plan, data)


def _mixed_lines(description: str) -> dict:
    data = f.submission("C01", f.outpatient_visit(), f.outpatient_visit())
    lines = data["documents"][1]["outpatientVisit"]["lines"]
    lines.append({**lines[0], "serviceDate": "2026-11-18"})
    lines.append(dict(reversed(list(lines[0].items()))))
    lines.append({**lines[0], "description": description})
    return data


@pytest.mark.parametrize(
    "data",
    [f.submission("C01"), _mixed_lines("A and B"), _mixed_lines("A & B <c>")],
    ids=["plain", "mixed-lines", "mixed-lines-and-specials"],
)
def test_json_is_written_to_the_same_text_with_or_without_pointers(data: dict) -> None:
    plain = strings_are_plain(orjson.dumps(data))
    builder = JsonTextBuilder(NAMESPACE, plain_strings=plain)
    tracked = builder.build(SCHEMA.plan, data)
    assert len(builder.pointers) == tracked.count(b"\n") + 1
    assert _written(data, plain=plain, pointers=False) == tracked
    assert _written(data, plain=False, pointers=False) == tracked


@pytest.mark.parametrize(
    ("body", "plain"),
    [
        (b'{"a": "x y"}', True),
        ('{"a": "مریم"}'.encode(), True),
        (b'{"a": "x & y"}', False),
        (b'{"a": "x < y"}', False),
        (b'{"a": "\\u0041"}', False),
        (b'{"a": "x \\" y"}', False),
        ('{"a": "\ufffe"}'.encode(), False),
    ],
)
def test_strings_are_plain_only_without_escapes_or_specials(body: bytes, plain: bool) -> None:
    assert strings_are_plain(body) is plain

"""Structure checks of FHIR bodies: every issue, located by FHIRPath, in JSON and XML."""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest

from gateway.fhir.issues import StructureError
from gateway.fhir.mapping import map_submission
from gateway.fhir.parse import Syntax, parse_body
from tests import factories as f
from tests.fhir.claims import CORPUS, claim, item


def issues_of(body: bytes, syntax: Syntax = Syntax.JSON) -> list[tuple[str, str]]:
    with pytest.raises(StructureError) as caught:
        parse_body(body, syntax)
    return [(issue.location, issue.code) for issue in caught.value.issues]


def test_every_json_issue_is_listed_with_its_location() -> None:
    resource = claim(f.INSURED[0], [item(1, "970000", 1, 10), item(2, "970000", 1, 10)])
    del resource["status"]
    resource["item"][1]["quantity"] = {"value": "lots"}
    resource["careTeam"] = [{"sequence": "first", "provider": {"reference": "#doc"}}]
    resource["diagnosis"] = [{"sequence": 1}]
    resource["bogus"] = True
    found = issues_of(orjson.dumps(resource))
    assert sorted(found) == [
        ("Claim.bogus", "structure"),
        ("Claim.careTeam[0].sequence", "structure"),
        ("Claim.diagnosis[0]", "invalid"),
        ("Claim.item[1].quantity.value", "invalid"),
        ("Claim.status", "structure"),
    ]


def test_a_bundle_locates_issues_in_its_entries() -> None:
    good = claim(f.INSURED[0], [item(1, "970000", 1, 10)])
    bad = claim(f.INSURED[0], [item(1, "970000", 1, 10)])
    bad["item"][0]["sequence"] = -1
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [{"resource": good}, {"resource": {"no": "type"}}, {"resource": bad}],
    }
    assert issues_of(orjson.dumps(bundle)) == [
        ("Bundle.entry[1].resource", "invalid"),
        ("Bundle.entry[2].resource.item[0].sequence", "invalid"),
    ]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "structure"),
        (b"[]", "not-supported"),
        (b'{"resourceType": "Patient", "id": "p"}', "not-supported"),
        (b'{"resourceType": "Bundle", "type": "collection", "entry": []}', "required"),
    ],
)
def test_what_is_not_a_claim_is_refused(body: bytes, code: str) -> None:
    assert [c for _, c in issues_of(body)] == [code]


def xml_example(name: str = "claim-example-oral-average.xml") -> str:
    return (CORPUS / "examples-xml" / name).read_text()


@pytest.mark.parametrize(
    ("change", "location"),
    [
        (lambda s: s.replace('<status value="active"/>', "", 1), "Claim.status"),
        (
            lambda s: re.sub(r'(<quantity>\s*<value value=")[^"]*', r"\1x", s, count=1),
            "Claim.item[0].quantity.value",
        ),
        (lambda s: s.replace("</use>", "</use>", 1).replace("<priority>", "<bogus/><priority>"),
         "Claim.bogus"),
        (lambda s: s.replace('<use value="claim"/>', '<use value="bill"/>'), "Claim.use"),
    ],
)  # fmt: skip
def test_xml_is_checked_by_the_fhir_schema_with_fhirpath_locations(
    change: Any, location: str
) -> None:
    source = xml_example("claim-example-pharmacy-medication.xml")
    found = issues_of(change(source).encode(), Syntax.XML)
    assert found[0] == (location, "structure")


def test_xml_with_a_doctype_or_not_fhir_is_refused() -> None:
    hostile = (
        b'<?xml version="1.0"?><!DOCTYPE c [<!ENTITY x "y">]><Claim xmlns="http://hl7.org/fhir"/>'
    )
    assert issues_of(hostile, Syntax.XML) == [("", "invalid")]
    assert issues_of(b"<Claim/>", Syntax.XML) == [("", "invalid")]
    assert issues_of(b"<Claim", Syntax.XML) == [("", "structure")]


def _pairs() -> list[tuple[str, str]]:
    table = (CORPUS / "SOURCES.md").read_text()
    return re.findall(
        r"\| (claim-[\w-]+\.xml) \| Claim \| [\w-]+ \| (Claim-[\w-]+\.json) \|", table
    )


@pytest.mark.fhir_corpus
@pytest.mark.parametrize(("xml_name", "json_name"), _pairs())
def test_xml_and_json_of_the_same_example_map_to_the_same_document(
    xml_name: str, json_name: str
) -> None:
    """The XML path (XSD + library) yields what the JSON path yields."""
    from_xml = parse_body((CORPUS / "examples-xml" / xml_name).read_bytes(), Syntax.XML)
    from_json = parse_body((CORPUS / "examples-json" / json_name).read_bytes(), Syntax.JSON)
    documents = [map_submission(p, "C-1")[0]["documents"] for p in (from_xml, from_json)]
    assert documents[0] == documents[1]

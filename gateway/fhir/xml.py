"""FHIR XML in: a locked-down parse, the official R4 XSD, then FHIR JSON of what we read.

fhir.resources reads FHIR XML, but leniently: it does not check element order and fails
with a bare KeyError on an unknown element. So the whole document is first checked
against the official FHIR R4 (4.0.1) schema, vendored in ``schemas/fhir/xsd``, which
reports where it breaks; only then does the library read the resources the door uses.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

from lxml import etree
from pydantic import ValidationError

from gateway.fhir.issues import Issue, StructureError, from_validation_error
from gateway.fhir.xmlpath import FHIR_NS, local, located, model_of
from validators.schema import safe_parser

XSD = Path(__file__).resolve().parents[2] / "schemas" / "fhir" / "xsd" / "fhir-single.xsd"
_NS = "{" + FHIR_NS + "}"
# Entry resources the mapping may follow a reference to; the others are only indexed.
READ_IN_FULL = {
    "Patient",
    "Practitioner",
    "PractitionerRole",
    "Organization",
    "Coverage",
    "ServiceRequest",
    "MedicationRequest",
}


class _Schema:
    """The compiled FHIR XSD; one validation at a time, as its error log is shared."""

    def __init__(self, path: Path) -> None:
        self._schema = etree.XMLSchema(etree.parse(str(path), parser=safe_parser()))
        self._lock = threading.Lock()

    def errors(self, root: etree._Element) -> list[Any]:
        with self._lock:
            if self._schema.validate(root):
                return []
            entries: Any = self._schema.error_log
            return list(entries)


@lru_cache(maxsize=1)
def fhir_schema() -> _Schema:
    return _Schema(XSD)


def parse_xml(body: bytes) -> etree._Element:
    """The root element of well-formed XML without any DTD, or StructureError."""
    if b"<!DOCTYPE" in body[:8192]:
        raise StructureError([Issue("", "A DOCTYPE is not allowed (no DTDs or entities).")])
    try:
        root = etree.fromstring(body, parser=safe_parser())
    except etree.XMLSyntaxError as exc:
        raise StructureError(
            [Issue("", f"The XML is not well-formed: {exc.msg}", "structure", exc.lineno)]
        ) from None
    docinfo: Any = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise StructureError([Issue("", "A DOCTYPE is not allowed (no DTDs or entities).")])
    return root


def check_xml(root: etree._Element) -> None:
    """StructureError with every problem the FHIR XSD finds, located in FHIRPath terms."""
    issues = []
    for entry in fhir_schema().errors(root):
        found = root.xpath(entry.path) if entry.path else []
        element = found[0] if isinstance(found, list) and found else None
        message = " ".join(str(entry.message).replace(_NS, "").split())
        where = ""
        if isinstance(element, etree._Element):
            where, message = located(element, message)
        issues.append(Issue(where, message, "structure", entry.line))
    if issues:
        raise StructureError(issues)


def read_resource(element: etree._Element, where: str) -> dict[str, Any]:
    """FHIR JSON of one schema-valid resource element, read by fhir.resources."""
    model = model_of(local(element))
    if model is None:
        raise StructureError([Issue(where, f"{local(element)} is not an R4 resource.")])
    try:
        resource = model.model_validate_xml(etree.tostring(element), xmlparser=safe_parser())
    except ValidationError as exc:
        raise StructureError(from_validation_error(exc, where)) from None
    except (KeyError, ValueError, TypeError) as exc:
        raise StructureError(
            [Issue(where, f"Cannot read the resource: {exc}", "structure")]
        ) from None
    data: dict[str, Any] = resource.model_dump(mode="json")
    return data


def _value(element: etree._Element, name: str) -> str | None:
    found = element.find(_NS + name)
    return None if found is None else found.get("value")


def _entry_resource(element: etree._Element, where: str) -> dict[str, Any]:
    """A Claim strictly; another resource the mapping may use if the library reads it (the
    XSD has already passed it as R4), else only its type and id, for the index."""
    name = local(element)
    if name == "Claim":
        return read_resource(element, where)
    if name in READ_IN_FULL:
        try:
            return read_resource(element, where)
        except StructureError:
            pass
    out: dict[str, Any] = {"resourceType": name}
    if _value(element, "id") is not None:
        out["id"] = _value(element, "id")
    return out


def xml_to_json(root: etree._Element) -> dict[str, Any]:
    """FHIR JSON of a schema-valid Claim, or of a Bundle with the entries the door reads."""
    kind = local(root)
    if kind != "Bundle":
        return read_resource(root, kind)
    entries: list[dict[str, Any]] = []
    for index, entry in enumerate(root.iterfind(_NS + "entry")):
        out: dict[str, Any] = {}
        full_url = _value(entry, "fullUrl")
        if full_url is not None:
            out["fullUrl"] = full_url
        holder = entry.find(_NS + "resource")
        resource = holder[0] if holder is not None and len(holder) else None
        if resource is not None:
            out["resource"] = _entry_resource(resource, f"Bundle.entry[{index}].resource")
        entries.append(out)
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": _value(root, "type"),
        "entry": entries,
    }
    if _value(root, "id") is not None:
        bundle["id"] = _value(root, "id")
    return bundle


def is_fhir_root(root: etree._Element) -> bool:
    return root.tag.startswith(_NS)

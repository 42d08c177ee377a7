"""A request body -> the Claims it carries, each checked by fhir.resources (R4 structure).

A body is one Claim or a Bundle with Claims among its entries. Only the Bundle's envelope
and its Claims are validated with the models; the other entries (Patients, Encounters,
Observations, ...) are kept as they came, for resolving references, and are not judged:
the door answers for Claims, and a Synthea bundle of 300 entries is checked in
milliseconds instead of a second.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.claim import Claim

from gateway.domain.documents import Purpose
from gateway.fhir import xml
from gateway.fhir.issues import Issue, StructureError, validate
from gateway.fhir.xmlpath import FHIR_NS

Resource = dict[str, Any]


class Syntax(StrEnum):
    JSON = "json"
    XML = "xml"


@dataclass(frozen=True, slots=True)
class ClaimEntry:
    """One Claim as FHIR JSON, where it sits (``Claim``, ``Bundle.entry[3].resource``)."""

    resource: Resource
    path: str
    full_url: str | None = None


@dataclass(slots=True)
class Parsed:
    kind: str  # "Claim" or "Bundle"
    claims: list[ClaimEntry]
    index: dict[str, Resource] = field(default_factory=dict)  # Bundle entries by reference
    bundle_type: str | None = None


def syntax_of(media: str) -> Syntax | None:
    media = media.split(";", 1)[0].strip().lower()
    if media in ("application/json", "application/fhir+json", "text/json"):
        return Syntax.JSON
    if media in ("application/xml", "application/fhir+xml", "text/xml"):
        return Syntax.XML
    return None


def as_json(body: bytes, syntax: Syntax, *, check: bool = True) -> Any:
    """The body as FHIR JSON; XML is first checked against the FHIR XSD (when ``check``)."""
    if syntax is Syntax.XML:
        root = xml.parse_xml(body)
        if not xml.is_fhir_root(root):
            raise StructureError(
                [Issue("", f"The root element must be in the {FHIR_NS} namespace.")]
            )
        if check:
            xml.check_xml(root)
        return xml.xml_to_json(root)
    try:
        return orjson.loads(body.removeprefix(b"\xef\xbb\xbf"))  # a UTF-8 BOM is tolerated
    except orjson.JSONDecodeError as exc:
        raise StructureError(
            [Issue("", f"The JSON is not valid: {exc.msg}", "structure", exc.lineno)]
        ) from None


def parse_body(body: bytes, syntax: Syntax) -> Parsed:
    """Every Claim of the body, validated; StructureError lists every issue found."""
    data = as_json(body, syntax)
    kind = data.get("resourceType") if isinstance(data, dict) else None
    if kind == "Claim":
        _, issues = validate(Claim, data, "Claim")
        issues += _use_issues(data, "Claim")
        if issues:
            raise StructureError(issues)
        return Parsed("Claim", [ClaimEntry(data, "Claim", None)])
    if kind == "Bundle":
        return _parse_bundle(data)
    raise StructureError(
        [Issue("", "The body must be a Claim or a Bundle of Claims.", "not-supported")]
    )


def _parse_bundle(data: Resource) -> Parsed:
    entries = data.get("entry")
    envelope = dict(data)
    if isinstance(entries, list):
        envelope["entry"] = [_without_resource(entry) for entry in entries]
    _, issues = validate(Bundle, envelope, "Bundle")
    parsed = Parsed("Bundle", [], bundle_type=data.get("type"))
    for index, entry in enumerate(entries if isinstance(entries, list) else []):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        where = f"Bundle.entry[{index}].resource"
        if resource is None:
            continue
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            issues.append(Issue(where, "A resource must be an object with a resourceType."))
            continue
        full_url = entry.get("fullUrl") if isinstance(entry.get("fullUrl"), str) else None
        _index(parsed.index, resource, full_url)
        if resource["resourceType"] == "Claim":
            issues += validate(Claim, resource, where)[1] + _use_issues(resource, where)
            parsed.claims.append(ClaimEntry(resource, where, full_url))
    if not parsed.claims and not issues:
        issues.append(Issue("Bundle.entry", "The Bundle has no Claim.", "required"))
    if issues:
        raise StructureError(issues)
    return parsed


def _use_issues(claim: Resource, where: str) -> list[Issue]:
    """The models take any code in Claim.use (the XML schema does not): an unknown one, such
    as DSTU3's ``complete``, is refused here too, so both doors agree and no answer echoes
    it into an invalid ClaimResponse.use. A missing use is reported by the models."""
    use = claim.get("use")
    if use is None or use in tuple(Purpose):
        return []
    uses = ", ".join(tuple(Purpose))
    message = f"Claim.use must be one of {uses}, not {str(use)[:40]!r}."
    return [Issue(f"{where}.use", message, "code-invalid")]


def _without_resource(entry: Any) -> Any:
    if isinstance(entry, dict):
        return {key: value for key, value in entry.items() if key != "resource"}
    return entry


def _index(index: dict[str, Resource], resource: Resource, full_url: str | None) -> None:
    """A Bundle entry is found by its fullUrl and by ``Type/id``."""
    if full_url:
        index[full_url] = resource
    if isinstance(resource.get("id"), str):
        index.setdefault(f"{resource['resourceType']}/{resource['id']}", resource)


def claims_in(body: bytes, syntax: Syntax) -> list[ClaimEntry]:
    """The Claims of a body that was accepted before, without validating it again."""
    data = as_json(body, syntax, check=False)
    if not isinstance(data, dict):
        return []
    if data.get("resourceType") == "Claim":
        return [ClaimEntry(data, "Claim", None)]
    found = []
    for index, entry in enumerate(data.get("entry") or []):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict) and resource.get("resourceType") == "Claim":
            found.append(
                ClaimEntry(resource, f"Bundle.entry[{index}].resource", entry.get("fullUrl"))
            )
    return found

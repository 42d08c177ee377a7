"""Locating an element of FHIR XML as a FHIRPath (``Claim.item[0].quantity``).

The R4 models tell which elements repeat (those get an index, as in JSON) and what type
each child has; a resource inside ``contained`` or ``resource`` adds no step of its own.
"""

from __future__ import annotations

import itertools
import re

from fhir.resources.R4B import get_fhir_model_class
from fhir_core.fhirabstractmodel import FHIRAbstractModel
from lxml import etree

from gateway.fhir.issues import child_model

FHIR_NS = "http://hl7.org/fhir"
_NS = "{" + FHIR_NS + "}"
_WRAPPERS = {"contained", "resource", "outcome"}  # elements whose child is a whole resource
_NOT_EXPECTED = re.compile(r"This element is not expected\. Expected is (?:one of )?\( ([^)]*) \)")
Model = type[FHIRAbstractModel]


def local(element: etree._Element) -> str:
    return etree.QName(element).localname


def model_of(name: str) -> Model | None:
    try:
        return get_fhir_model_class(name)
    except ValueError:
        return None


def _repeats(model: Model | None, name: str) -> bool:
    if model is None:
        return True
    field = model.model_fields.get(name)
    return field is not None and "List" in str(field.annotation)


def _field_model(model: Model | None, name: str) -> Model | None:
    field = model.model_fields.get(name) if model is not None else None
    return None if field is None else child_model(field.annotation)


def walk(element: etree._Element) -> tuple[str, Model | None]:
    """The FHIRPath of an element and the model of its content (None if unknown)."""
    chain = [element, *element.iterancestors()]
    chain.reverse()
    path = local(chain[0])
    model = model_of(path)
    for parent, child in itertools.pairwise(chain):
        name = local(child)
        if local(parent) in _WRAPPERS and child.tag.startswith(_NS) and name[:1].isupper():
            model = model_of(name)
            continue
        path += f".{name}"
        if _repeats(model, name):
            index = sum(1 for _ in child.itersiblings(child.tag, preceding=True))
            path += f"[{index}]"
        model = _field_model(model, name)
    return path, model


def fhirpath_of(element: etree._Element) -> str:
    return walk(element)[0]


def _required(model: Model, name: str) -> bool:
    field = model.model_fields.get(name)
    if field is None:
        return False
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    return bool(extra.get("element_required")) or field.is_required()


def located(element: etree._Element, message: str) -> tuple[str, str]:
    """Where an XSD error is, and what it means: libxml2 reports a missing element as the
    next one being unexpected, so name the required element that is missing instead."""
    path = fhirpath_of(element)
    match = _NOT_EXPECTED.search(message)
    parent = element.getparent()
    if match is None or parent is None:
        return path, message
    parent_path, model = walk(parent)
    name = local(element)
    if model is None or name not in model.model_fields:
        return path, f"{name} is not an element of {parent_path}. {message}"
    expected = [n.strip() for n in match.group(1).split(",")]
    present = {local(child) for child in parent}
    missing = [n for n in expected if _required(model, n) and n not in present]
    if missing:
        return f"{parent_path}.{missing[0]}", f"{missing[0]} is required (found {name} first)."
    return path, f"{name} is out of order. {message}"

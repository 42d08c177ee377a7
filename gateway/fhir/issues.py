"""Structural problems of a FHIR resource, each with a FHIRPath-like location.

fhir.resources (pydantic) reports most problems with a location. Two kinds it checks only
once every field of a model is valid: required primitive elements (``Claim.status``) and
required choices (``diagnosis[x]``). ``missing_required`` finds those too, so one answer
lists every problem.
"""

from __future__ import annotations

import contextlib
import functools
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir_core.fhirabstractmodel import FHIRAbstractModel
from pydantic import ValidationError

Model = type[FHIRAbstractModel]

_STRUCTURE_TYPES = {"extra_forbidden", "missing", "model_validation_format", "json_invalid"}


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem: where (``Claim.item[0].quantity``), what, and its OperationOutcome code."""

    location: str
    message: str
    code: str = "invalid"
    line: int | None = None


class StructureError(Exception):
    """The body is not a structurally valid FHIR resource of a kind this door takes."""

    def __init__(self, issues: list[Issue], status_code: int = 422) -> None:
        super().__init__("; ".join(f"{i.location}: {i.message}" for i in issues[:3]))
        self.issues = issues
        self.status_code = status_code


def location(prefix: str, parts: Iterable[int | str]) -> str:
    """``Claim`` + ("item", 0, "quantity") -> ``Claim.item[0].quantity``."""
    out = prefix
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part != "root" and part.replace("_", "").isalnum():
            out += f".{part}"
    return out


def _code(error_type: str) -> str:
    """``structure`` for a missing, unknown or wrongly typed element; ``invalid`` else."""
    structural = error_type.endswith(("_type", "_parsing", ".missing"))
    return "structure" if structural or error_type in _STRUCTURE_TYPES else "invalid"


def from_validation_error(error: ValidationError, prefix: str) -> list[Issue]:
    issues = []
    for item in error.errors(include_url=False):
        message = " ".join(str(item.get("msg", "invalid")).split())
        issues.append(Issue(location(prefix, item["loc"]), message, _code(item["type"])))
    return issues


def validate(model: Model, data: Any, prefix: str) -> tuple[FHIRAbstractModel | None, list[Issue]]:
    """The model built from ``data``, or None and every issue found in it."""
    with contextlib.suppress(RecursionError):  # absurdly deep: left to pydantic's own limit
        untyped = resource_type_issues(data, prefix)
        if untyped:
            return None, untyped
    try:
        return model.model_validate(data), []
    except ValidationError as error:
        issues = from_validation_error(error, prefix)
    seen = {issue.location for issue in issues}
    with contextlib.suppress(RecursionError):  # absurdly deep input: pydantic's word is enough
        issues += [i for i in missing_required(model, data, prefix) if i.location not in seen]
    return None, issues


@functools.lru_cache(maxsize=256)
def _known_type(kind: str) -> bool:
    try:
        get_fhir_model_class(kind)
    except (ValueError, KeyError):
        return False
    return True


def resource_type_issues(data: Any, prefix: str) -> list[Issue]:
    """Contained resources without a resourceType, and resources anywhere of a type the
    models do not have (a DSTU3 ``ReferralRequest``): the model library fails on those
    from inside (KeyError, TypeError) instead of reporting them, so they are found first."""
    issues: list[Issue] = []
    contained = data.get("contained") if isinstance(data, dict) else None
    for index, item in enumerate(contained if isinstance(contained, list) else []):
        if not isinstance(item, dict) or "resourceType" not in item:
            where = f"{prefix}.contained[{index}]"
            message = "A contained resource must be an object with a resourceType."
            issues.append(Issue(where, message, "structure"))
    return issues + _unknown_types(data, prefix)


def _unknown_types(value: Any, where: str) -> list[Issue]:
    if isinstance(value, list):
        return [i for n, item in enumerate(value) for i in _unknown_types(item, f"{where}[{n}]")]
    if not isinstance(value, dict):
        return []
    if "resourceType" in value:
        kind = value["resourceType"]
        if not isinstance(kind, str) or not _known_type(kind):
            shown = repr(kind)[:60]
            return [Issue(where, f"{shown} is not a FHIR R4 resource type.", "not-supported")]
    return [i for key, item in value.items() for i in _unknown_types(item, f"{where}.{key}")]


def child_model(annotation: Any) -> Model | None:
    """The FHIR model class inside ``Optional[List[XType]]`` and the like, if any."""
    klass = getattr(annotation, "get_model_klass", None)
    if klass is not None:
        found: Model = klass()
        return found
    for arg in typing.get_args(annotation):
        inner = child_model(arg)
        if inner is not None:
            return inner
    return None


def _resolved(model: Model | None, data: dict[str, Any]) -> Model | None:
    """A contained or entry resource is typed by its own resourceType."""
    if model is None or "resourceType" not in model.model_fields:
        return model
    kind = data.get("resourceType")
    if not isinstance(kind, str) or kind == model.get_resource_type():
        return model
    try:
        return get_fhir_model_class(kind)
    except ValueError:
        return None


def missing_required(model: Model, data: Any, prefix: str) -> list[Issue]:
    """Required primitive elements and required choices absent anywhere in ``data``."""
    if not isinstance(data, dict):
        return []
    issues: list[Issue] = []
    choices: dict[str, list[str]] = {}
    for name, field in model.model_fields.items():
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        alias = field.alias or name
        if extra.get("element_required") and alias not in data and f"_{alias}" not in data:
            issues.append(Issue(f"{prefix}.{alias}", f"{alias} is required.", "structure"))
        group = extra.get("one_of_many")
        if isinstance(group, str) and extra.get("one_of_many_required"):
            choices.setdefault(group, []).append(alias)
        value = data.get(alias)
        items = value if isinstance(value, list) else [value]
        child = child_model(field.annotation)
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                continue
            step = f"{prefix}.{alias}[{index}]" if isinstance(value, list) else f"{prefix}.{alias}"
            klass = _resolved(child, item)
            if klass is not None:
                issues += missing_required(klass, item, step)
    for group, aliases in choices.items():
        if not any(alias in data for alias in aliases):
            issues.append(
                Issue(prefix, f"{group}[x] is required (one of {', '.join(aliases)}).", "structure")
            )
    return issues

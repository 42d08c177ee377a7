"""Following a Claim's references to the resources that carry identifiers.

A reference resolves to a resource contained in the Claim (``#id``), to a Bundle entry by
its fullUrl (``urn:uuid:...`` or an absolute URL), or to a Bundle entry by ``Type/id``
(also the tail of an absolute URL, with any ``/_history/n`` dropped). A Reference may also
carry a logical ``identifier`` without pointing anywhere; both are looked at.
"""

from __future__ import annotations

from typing import Any

Resource = dict[str, Any]


class Resolver:
    def __init__(self, claim: Resource, index: dict[str, Resource]) -> None:
        self._index = index
        self._contained = {
            r["id"]: r
            for r in claim.get("contained") or []
            if isinstance(r, dict) and isinstance(r.get("id"), str)
        }

    def resolve(self, reference: Any, *types: str) -> Resource | None:
        """The resource a Reference points at, if it is here and of one of ``types``."""
        if not isinstance(reference, dict):
            return None
        target = reference.get("reference")
        if not isinstance(target, str) or not target:
            return None
        if target.startswith("#"):
            found = self._contained.get(target[1:])
        else:
            found = self._index.get(target) or self._index.get(_type_and_id(target))
        if found is None or (types and found.get("resourceType") not in types):
            return None
        return found


def _type_and_id(target: str) -> str:
    parts = [p for p in target.split("?", 1)[0].split("/") if p]
    if len(parts) >= 4 and parts[-2] == "_history":
        parts = parts[:-2]
    return "/".join(parts[-2:])


def identifiers(reference: Any, resource: Resource | None) -> list[dict[str, Any]]:
    """The Reference's own identifier, then the resource's identifiers."""
    found: list[dict[str, Any]] = []
    if isinstance(reference, dict) and isinstance(reference.get("identifier"), dict):
        found.append(reference["identifier"])
    if resource is not None:
        found += [i for i in resource.get("identifier") or [] if isinstance(i, dict)]
    return found


def identifier_value(items: list[dict[str, Any]], system: str) -> str | None:
    """The first value (stripped) of an identifier in ``system``."""
    for item in items:
        value = item.get("value")
        if item.get("system") == system and isinstance(value, str) and value.strip():
            return value.strip()
    return None


def human_name(resource: Resource | None) -> str | None:
    """A person's name as one line: the first name's text, else given names and family."""
    if resource is None:
        return None
    for name in resource.get("name") or []:
        if not isinstance(name, dict):
            continue
        if isinstance(name.get("text"), str) and name["text"].strip():
            return str(name["text"])
        parts = [p for p in name.get("given") or [] if isinstance(p, str)]
        if isinstance(name.get("family"), str):
            parts.append(name["family"])
        if parts:
            return " ".join(parts)
    return None

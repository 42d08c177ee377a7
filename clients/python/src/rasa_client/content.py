"""What a file holds, told by its content, and the ``replaces`` mark of a correction.

XML is read with lxml under locked-down settings (no DTD, no entities, no network), as
the gateway reads it; JSON with the standard library.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

from lxml import etree

NAMESPACE = "urn:rasa-gateway:claim:1"
_NS = "{" + NAMESPACE + "}"
_BOMS = (b"\xef\xbb\xbf",)


class Format(StrEnum):
    XML = "xml"
    JSON = "json"

    @property
    def content_type(self) -> str:
        return f"application/{self.value}"


class UnknownContent(ValueError):
    """Neither XML nor JSON."""


def detect_format(data: bytes) -> Format:
    """XML or JSON, told by the first character that is not a byte-order mark or blank
    (a file's name is not trusted: ``claims.txt`` holding XML is XML)."""
    head = data[:4096]
    for bom in _BOMS:
        head = head.removeprefix(bom)
    head = head.lstrip()
    if head.startswith(b"<"):
        return Format.XML
    if head.startswith((b"{", b"[")):
        return Format.JSON
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 with a BOM: only XML may be
        return Format.XML
    raise UnknownContent("the content is neither XML nor JSON")


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def with_replaces(data: bytes, replaces: str) -> bytes:
    """The one-document submission ``data`` marked as replacing the centre's document
    numbered ``replaces`` (the element, or key, right after ``documentNumber``)."""
    fmt = detect_format(data)
    if fmt is Format.JSON:
        return _json_replaces(data, replaces)
    root = etree.fromstring(data, parser=_parser())
    wrapper = root.find(_NS + "documents")
    documents = [] if wrapper is None else list(wrapper)
    if len(documents) != 1:
        raise ValueError(f"a replacement carries one document; this has {len(documents)}")
    (document,) = documents
    for old in document.findall(_NS + "replaces"):
        document.remove(old)
    number = document.find(_NS + "documentNumber")
    mark = etree.Element(_NS + "replaces")
    mark.text = replaces
    if number is None:
        document.insert(0, mark)
    else:
        mark.tail = number.tail
        number.addnext(mark)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def _json_replaces(data: bytes, replaces: str) -> bytes:
    value: Any = json.loads(data)
    documents = value.get("documents") if isinstance(value, dict) else None
    if not isinstance(documents, list) or len(documents) != 1:
        count = len(documents) if isinstance(documents, list) else 0
        raise ValueError(f"a replacement carries one document; this has {count}")
    (entry,) = documents
    if not isinstance(entry, dict) or len(entry) != 1:
        raise ValueError("a document is an object with one member, named by its kind")
    ((kind, body),) = entry.items()
    marked: dict[str, Any] = {}
    for key, item in body.items():
        if key != "replaces":
            marked[key] = item
        if key == "documentNumber":
            marked["replaces"] = replaces
    marked.setdefault("replaces", replaces)
    value["documents"] = [{kind: marked}]
    return json.dumps(value, ensure_ascii=False).encode()

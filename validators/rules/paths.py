"""Where a rule's problem points: XPaths for XML documents, JSON pointers for JSON ones."""

from __future__ import annotations

from gateway.domain.documents import Document


def field_path(document: Document, relative: str) -> str:
    return f"{document.path}/{relative}"


def line_path(document: Document, number: int, field: str | None = None) -> str:
    """Line ``number`` (1-based) of a document, and optionally one of its fields."""
    if document.path.startswith("/submission"):
        step = f"line[{number}]" if len(document.lines) > 1 else "line"
        path = f"{document.path}/lines/{step}"
    else:
        path = f"{document.path}/lines/{number - 1}"
    return f"{path}/{field}" if field else path

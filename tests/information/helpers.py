"""Files and documents the information-request tests share."""

from __future__ import annotations

import struct
import zlib
from typing import Any

from fastapi.testclient import TestClient

from tests import factories as f
from tests.review.test_lifecycle_api import ALWAYS_REVIEW, submit_priced
from tests.submissions.test_submissions import auth


def png(seed: int = 0) -> bytes:
    """A whole 1x1 PNG whose pixel depends on ``seed``."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixel = zlib.compress(bytes([0, seed % 256, (seed >> 8) % 256, 7]))
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixel) + chunk(b"IEND", b"")
    )


def pdf(text: str = "discharge summary") -> bytes:
    """A small whole PDF."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    return (
        b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
        b"2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n"
        b"3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >> endobj\n"
        + f"4 0 obj << /Length {len(stream)} >> stream\n".encode()
        + stream
        + b"\nendstream endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    )


def jpeg() -> bytes:
    """Bytes with a JPEG's start and end markers (a JFIF header between)."""
    return (
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
        + b"\x00" * 32
        + b"\xff\xd9"
    )


def under_review(client: TestClient, sessions: Any) -> tuple[Any, str, str, str]:
    """A centre, its token, an auditor's token and a document of it under review."""
    centre, token = f.make_centre(sessions)
    auditor = f.make_staff_token(sessions)
    document_id = submit_priced(client, sessions, token, centre.code, ALWAYS_REVIEW)
    return centre, token, auditor, document_id


def ask(client: TestClient, auditor: str, document_id: str, **body: Any) -> Any:
    payload = {"question": "Please send the discharge summary.", **body}
    return client.post(
        f"/v1/documents/{document_id}/information-requests", json=payload, headers=auth(auditor)
    )


def answer(
    client: TestClient,
    token: str,
    document_id: str,
    files: list[tuple[str, bytes, str]] = (),  # type: ignore[assignment]
    text: str = "Attached.",
) -> Any:
    parts = [("attachments", (name, data, media)) for name, data, media in files]
    return client.post(
        f"/v1/documents/{document_id}/information",
        data={"text": text},
        files=parts or None,
        headers=auth(token),
    )

"""What an attachment is, told by its bytes: PDF, JPEG or PNG, whole, within the limit.

The sender's file name and declared type say nothing: a PNG called ``scan.pdf`` and sent
as ``application/pdf`` is a PNG (kept and served as one, named ``scan.png``), and HTML
called ``report.pdf`` is refused. The leading signature is read by ``filetype``; the end
marker every such file has (``%%EOF``, the PNG ``IEND`` chunk, the JPEG end-of-image) is
checked here too, so a truncated upload or a signature glued onto other content is refused.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass

import filetype
from filetype.types.archive import Pdf
from filetype.types.image import Jpeg, Png

from gateway.errors import GatewayError
from validators.problems import Problem

MATCHERS = (Pdf(), Jpeg(), Png())
EXTENSIONS = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}
# How far from the end each format's end marker may sit (trailing whitespace or padding).
TAIL = 1024
END_MARKERS = {
    "application/pdf": b"%%EOF",
    "image/jpeg": b"\xff\xd9",
    "image/png": b"IEND\xaeB`\x82",
}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_UNSAFE = re.compile(r'[\x00-\x1f\x7f"\\/:*?<>|;]+')
NAME_LENGTH = 120


@dataclass(frozen=True, slots=True)
class Upload:
    """A file as it arrived: the name the sender gave it and its bytes."""

    filename: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Checked:
    """An attachment that passed: its checked type, digest and a safe name to serve it by."""

    sha256: str
    content_type: str
    filename: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)


def content_type_of(data: bytes) -> str | None:
    """The type the bytes are (PDF, JPEG or PNG, whole), or None."""
    kind = filetype.match(data[:8192], matchers=MATCHERS)
    if kind is None:
        return None
    mime = str(kind.mime)
    if mime == "image/png" and not data.startswith(PNG_SIGNATURE):
        return None
    if END_MARKERS[mime] not in data[-TAIL:]:
        return None
    return mime


def safe_name(given: str, content_type: str) -> str:
    """The sender's base name without anything a header or a file system could trip on,
    with the extension of the type the bytes really are."""
    base = given.replace("\\", "/").rsplit("/", 1)[-1]
    base = unicodedata.normalize("NFC", _UNSAFE.sub("_", base)).strip(" ._")
    stem = base.rsplit(".", 1)[0] if "." in base else base
    stem = stem[:NAME_LENGTH].strip(" ._") or "attachment"
    return f"{stem}.{EXTENSIONS[content_type]}"


def check(uploads: list[Upload], *, max_bytes: int, max_count: int) -> list[Checked]:
    """The uploads checked; a 422 naming every problem (each at its ``attachments[i]``)."""
    if len(uploads) > max_count:
        message = f"An answer carries at most {max_count} attachment(s); {len(uploads)} were sent."
        raise GatewayError(message, 422, [Problem("attachment.too-many", message, "attachments")])
    problems: list[Problem] = []
    checked: list[Checked] = []
    for index, upload in enumerate(uploads):
        path = f"attachments[{index}]"
        if not upload.data:
            problems.append(Problem("attachment.empty", "The file is empty.", path))
            continue
        if len(upload.data) > max_bytes:
            message = f"The file is {len(upload.data)} bytes; at most {max_bytes} are accepted."
            problems.append(Problem("attachment.too-large", message, path))
            continue
        content_type = content_type_of(upload.data)
        if content_type is None:
            message = "The file is not a whole PDF, JPEG or PNG (its content was checked)."
            problems.append(Problem("attachment.unsupported-type", message, path))
            continue
        digest = hashlib.sha256(upload.data).hexdigest()
        name = safe_name(upload.filename, content_type)
        checked.append(Checked(digest, content_type, name, upload.data))
    if problems:
        raise GatewayError(problems[0].message, 422, problems, code="attachment.invalid")
    return checked

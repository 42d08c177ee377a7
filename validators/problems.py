"""The problem report shared by the API, the CLI and the workers."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with an input, located precisely enough for a machine to act on.

    ``path`` is an XPath of local names for XML input and a JSON pointer for JSON input;
    ``line`` is the line in the XML source, when there is one.
    """

    code: str
    message: str
    path: str | None = None
    line: int | None = None
    severity: Severity = Severity.ERROR

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["severity"] = str(self.severity)
        return data


def has_errors(problems: list[Problem]) -> bool:
    return any(p.severity is Severity.ERROR for p in problems)

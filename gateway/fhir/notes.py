"""Problems found while mapping one Claim, located by FHIRPath in the request."""

from __future__ import annotations

from validators.problems import Problem, Severity


class Notes:
    def __init__(self, base: str) -> None:
        self.base = base  # where the Claim sits: "Claim" or "Bundle.entry[3].resource"
        self.problems: list[Problem] = []

    def error(self, code: str, message: str, where: str = "") -> None:
        self._add(code, message, where, Severity.ERROR)

    def warning(self, code: str, message: str, where: str = "") -> None:
        self._add(code, message, where, Severity.WARNING)

    def _add(self, code: str, message: str, where: str, severity: Severity) -> None:
        path = f"{self.base}.{where}" if where else self.base
        self.problems.append(Problem(code, message, path, None, severity))

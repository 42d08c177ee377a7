"""Who sends documents: centre kinds and sectors, and the roles of API principals."""

from __future__ import annotations

from enum import StrEnum


class CentreKind(StrEnum):
    OWNED = "owned"
    CONTRACTED = "contracted"


class Sector(StrEnum):
    GOVERNMENTAL = "governmental"
    PRIVATE = "private"
    CHARITY = "charity"
    PUBLIC_NON_GOVERNMENTAL = "public_non_governmental"


class Role(StrEnum):
    CENTRE = "centre"
    AUDITOR = "auditor"
    ADMIN = "admin"

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
    """What a caller may do: a centre reads its own documents and appeals; an auditor reads
    everything and reviews; finance settles; an admin manages centres, users and tariffs."""

    CENTRE = "centre"
    AUDITOR = "auditor"
    FINANCE = "finance"
    ADMIN = "admin"

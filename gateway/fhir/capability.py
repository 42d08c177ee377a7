"""The FHIR door's CapabilityStatement (``GET /fhir/metadata``): what a client may do here.

Built once from the door's own facts, so it cannot list an interaction the door lacks:
the tests read every operation it names back from the routes.
"""

from __future__ import annotations

from functools import cache

from fhir.resources.R4B.capabilitystatement import CapabilityStatement

from gateway.fhir.systems import JSON_MEDIA, XML_MEDIA

RELEASED = "2026-12-01"
SOFTWARE_VERSION = "1"
# (resource type, interactions, the operations on it by name, what it is for)
RESOURCES: tuple[tuple[str, tuple[str, ...], tuple[str, ...], str], ...] = (
    (
        "Claim",
        ("create", "search-type"),
        ("submit",),
        "A centre sends a Claim, or a Bundle of Claims to $submit; each is answered with "
        "a ClaimResponse (a Bundle of them for a Bundle). Finance searches the claims to a "
        "supplementary insurer (insurer, period: a month of service), each with the basic "
        "insurer's ClaimResponse as the prior payer's adjudication.",
    ),
    ("ClaimResponse", ("read",), (), "A document's adjudication as it stands now."),
    (
        "ExplanationOfBenefit",
        ("read",),
        (),
        "The remittance advice of a priced document, line by line.",
    ),
    (
        "CommunicationRequest",
        ("search-type",),
        (),
        "A centre's open requests for information from auditors (its own only).",
    ),
    (
        "Communication",
        ("create",),
        (),
        "A centre's answer to one of its CommunicationRequests (basedOn), its files in "
        "contentAttachment.data: PDF, JPEG or PNG, checked by content.",
    ),
    (
        "CoverageEligibilityRequest",
        (),
        ("submit",),
        "A centre asks, before care, whether a patient is covered at its centre on a day and "
        "for which services; $submit answers with a CoverageEligibilityResponse.",
    ),
    (
        "ServiceRequest",
        ("create", "read"),
        (),
        "A family physician's referral (intent order, category Patient referral): a "
        "level-1 centre creates one and is answered with its referral code; the issuing "
        "centre and the centres that used it read it (docs/referrals.md).",
    ),
)


SEARCH_PARAMS = [
    {"name": "insurer", "type": "token",
     "documentation": "the supplementary insurer's code (required)"},
    {"name": "period", "type": "string",
     "documentation": "the month of service, YYYY-MM (required)"},
]  # fmt: skip


@cache
def capability_statement() -> CapabilityStatement:
    rest_resources = [
        {
            "type": kind,
            "profile": f"http://hl7.org/fhir/StructureDefinition/{kind}",
            "documentation": documentation,
            "interaction": [{"code": code} for code in interactions],
            **({"searchParam": SEARCH_PARAMS} if "search-type" in interactions else {}),
            **(
                {
                    "operation": [
                        {
                            "name": name,
                            "definition": f"http://hl7.org/fhir/OperationDefinition/{kind}-{name}",
                        }
                        for name in operations
                    ]
                }
                if operations
                else {}
            ),
        }
        for kind, interactions, operations, documentation in RESOURCES
    ]
    return CapabilityStatement.model_validate(
        {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": RELEASED,
            "kind": "instance",
            "software": {"name": "RASA health-document gateway", "version": SOFTWARE_VERSION},
            "implementation": {"description": "The gateway's FHIR R4 door", "url": "/fhir"},
            "fhirVersion": "4.0.1",
            "format": [JSON_MEDIA, XML_MEDIA, "json", "xml"],
            "rest": [
                {
                    "mode": "server",
                    "security": {
                        "service": [
                            {
                                "text": "Bearer token (Authorization: Bearer ...), a centre's "
                                "to submit"
                            }
                        ],
                        "description": "Every interaction but this statement needs a bearer "
                        "token; a centre sees only its own resources.",
                    },
                    "resource": rest_resources,
                }
            ],
        }
    )

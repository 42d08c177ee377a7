"""Identifier and code systems the FHIR door reads and writes (see schemas/fhir/README.md)."""

from __future__ import annotations

BASE = "https://rasa-gateway.ir/fhir"

# Identifiers a sender uses to tell us who and where.
NATIONAL_ID = f"{BASE}/sid/national-id"
INSURANCE_NUMBER = f"{BASE}/sid/insurance-number"
CENTRE_CODE = f"{BASE}/sid/centre-code"
MEDICAL_COUNCIL = f"{BASE}/sid/medical-council-number"
REFERRAL_CODE = f"{BASE}/sid/referral-code"
TRACKING_CODE = f"{BASE}/sid/prescription-tracking-code"
DOCUMENT_ID = f"{BASE}/sid/document-id"

# Code systems of the tariff book: a service or a drug code, as in services.csv.
TARIFF_SERVICE = f"{BASE}/CodeSystem/tariff-service"
TARIFF_DRUG = f"{BASE}/CodeSystem/tariff-drug"

# Codes we answer with.
PROBLEM = f"{BASE}/CodeSystem/problem"
DEDUCTION_REASON = f"{BASE}/CodeSystem/deduction-reason"
ADJUDICATION_EXTRA = f"{BASE}/CodeSystem/adjudication"

# HL7's own.
CLAIM_TYPE = "http://terminology.hl7.org/CodeSystem/claim-type"
ADJUDICATION = "http://terminology.hl7.org/CodeSystem/adjudication"
RELATED_CLAIM_RELATIONSHIP = "http://terminology.hl7.org/CodeSystem/related-claim-relationship"

CURRENCY = "IRR"

JSON_MEDIA = "application/fhir+json"
XML_MEDIA = "application/fhir+xml"

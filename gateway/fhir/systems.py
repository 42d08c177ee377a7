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
ELIGIBILITY_INQUIRY = f"{BASE}/sid/eligibility-inquiry"

# The kind of care an eligibility request asks about (docs/eligibility.md): an extension
# on the CoverageEligibilityRequest, valueCode outpatient, inpatient, paraclinical, ...
CARE_SETTING = f"{BASE}/StructureDefinition/care-setting"

# Code systems of the tariff book: a service or a drug code, as in services.csv.
TARIFF_SERVICE = f"{BASE}/CodeSystem/tariff-service"
TARIFF_DRUG = f"{BASE}/CodeSystem/tariff-drug"

# Codes we answer with.
PROBLEM = f"{BASE}/CodeSystem/problem"
DEDUCTION_REASON = f"{BASE}/CodeSystem/deduction-reason"
ADJUDICATION_EXTRA = f"{BASE}/CodeSystem/adjudication"
# Benefits an eligibility answer reports besides HL7's: a code's units per document.
BENEFIT = f"{BASE}/CodeSystem/benefit"

# HL7's own.
CLAIM_TYPE = "http://terminology.hl7.org/CodeSystem/claim-type"
ADJUDICATION = "http://terminology.hl7.org/CodeSystem/adjudication"
RELATED_CLAIM_RELATIONSHIP = "http://terminology.hl7.org/CodeSystem/related-claim-relationship"
BENEFIT_TYPE = "http://terminology.hl7.org/CodeSystem/benefit-type"
BENEFIT_CATEGORY = "http://terminology.hl7.org/CodeSystem/ex-benefitcategory"

CURRENCY = "IRR"

JSON_MEDIA = "application/fhir+json"
XML_MEDIA = "application/fhir+xml"

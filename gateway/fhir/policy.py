"""Which rule errors the FHIR door leaves to pricing instead of refusing the Claim.

At ``/v1`` a document whose patient is not covered, or that comes after the filing
window, is rejected: the sender is one of the insurer's centres, writing the gateway's
own form, and can correct and resend. A FHIR Claim may come from any system and carry
another country's identifiers. FHIR, like the X12 exchange it descends from, separates
taking a claim in from deciding what it is worth: a claim that is well formed and names
a patient, a provider and billable items is taken into adjudication, and a patient who
cannot be identified as insured, or a claim filed too late, is answered with every line
denied and a reason (X12 835 claim adjustment reasons 31, "patient cannot be identified
as our insured", and 29, "the time limit for filing has expired"), not refused at the
door.

So at this door the errors below are kept as warnings, the Claim is accepted, and pricing
denies the lines: it checks the same conditions itself, line by line, from the stored
data (``gateway.pricing.engine.rules``: coverage on each line's date, the document's insurance
number being one of the patient's, the centre's contract, the filing deadline). The
insurer pays only for lines of a registered patient covered on their date, in contract
and in time (one difference: an older insurance number of the same patient, which the
rule refuses, is accepted by pricing); the centre gets a ClaimResponse with the amounts
and the reason for each line. Mapping fillers (``0000000000`` for a missing national ID,
``000000`` for a missing insurance number) can never be registered, so they always deny.

Everything else that rejects at ``/v1`` still rejects here: duplicates, impossible dates,
amounts that do not add up, another centre's Claim.

A Claim whose use is preauthorization or predetermination asks what would be paid for
care planned or under way. It is priced the same way as an estimate and never settled;
its dates are not judged as a bill's (care may be in the future, and there is no filing
window), so the date rules' errors are warnings for it.
"""

from __future__ import annotations

from collections.abc import Mapping

from gateway.domain.documents import Purpose
from gateway.pricing.engine.rules import Reason

LEFT_TO_PRICING: Mapping[str, str] = {
    "fhir.patient-national-id-missing": Reason.PATIENT_NOT_ELIGIBLE,
    "fhir.patient-national-id-invalid": Reason.PATIENT_NOT_ELIGIBLE,
    "patient.national-id-checksum": Reason.PATIENT_NOT_ELIGIBLE,
    "patient.not-eligible": Reason.PATIENT_NOT_ELIGIBLE,
    "fhir.patient-insurance-number-missing": Reason.PATIENT_NOT_ELIGIBLE,
    "fhir.patient-insurance-number-invalid": Reason.PATIENT_NOT_ELIGIBLE,
    "patient.insurance-number-mismatch": Reason.PATIENT_NOT_ELIGIBLE,
    "centre.contract-inactive": Reason.OUTSIDE_CONTRACT,
    "date.submission-late": Reason.SUBMISSION_LATE,
}

_FOR_BILLS: Mapping[str, str] = {
    code: f"pricing denies the lines it concerns ({reason})"
    for code, reason in LEFT_TO_PRICING.items()
}
_ESTIMATE_DATES = "an estimate is not a bill, its dates are not judged as a bill's"
_FOR_ESTIMATES: Mapping[str, str] = {
    **_FOR_BILLS,  # but no filing window: the late warning says why
    "date.in-future": _ESTIMATE_DATES,
    "date.line-outside-period": _ESTIMATE_DATES,
    "date.submission-late": _ESTIMATE_DATES,
}


def kept_as_warnings(purpose: Purpose) -> Mapping[str, str]:
    """The error codes that do not reject a Claim of this purpose, each with why."""
    return _FOR_ESTIMATES if purpose.is_estimate else _FOR_BILLS

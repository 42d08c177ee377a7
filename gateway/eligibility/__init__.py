"""Eligibility before care: a centre asks whether a patient is covered at its centre on a
day, and for which services (endpoints, service, repository, schemas); the rules are
pricing's and the submission check's (gateway.pricing.engine.eligibility)."""

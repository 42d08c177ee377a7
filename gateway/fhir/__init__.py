"""The FHIR R4 door: Claims (or Bundles of them) in, ClaimResponses out.

``parse`` and ``xml`` check the structure of what arrives, ``mapping`` turns each Claim
into a document of the gateway's JSON form (so it meets the same schema, rules, storage and
pricing as any other document), ``service`` runs the pipeline and ``response`` answers
with FHIR resources. The mapping and the identifier systems are described in
``schemas/fhir/README.md``.
"""

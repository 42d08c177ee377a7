"""Administration: health centres and their tokens, staff accounts, tariff imports
(service), and the registries of insured persons and centres (registry)."""

"""Centres' webhooks: registration (endpoints, service), their SQL (repository), signing
and retry timing (signing: pure), and delivery (the worker's signed POSTs)."""

"""Shared plumbing of every feature: sessions, bulk COPY, CSV rows, rate limits, the
outbox and its broker, and the API's upkeep thread."""

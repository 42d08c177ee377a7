"""Pricing: the service a task calls, its SQL, the tariff book's CSV form, and engine/,
the pure pricing engine."""

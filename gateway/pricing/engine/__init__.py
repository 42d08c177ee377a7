"""The pure pricing engine: no I/O, no session, no broker (an import contract says so)."""

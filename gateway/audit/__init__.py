"""The audit trail: the hash chain and its verification (chain), and the journal that
records every status move with its history row, audit entry and webhook messages."""

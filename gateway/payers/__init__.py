"""Who pays the patient's share after the basic insurer: supplementary insurers, then the
charity fund for hard-to-treat patients, with every rial in a double-entry ledger."""

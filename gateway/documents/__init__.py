"""Documents: the one view of a priced document that every reader renders (view, with
its SQL in repository), its remittance advice as JSON (remittance), and GET of documents
(endpoints)."""

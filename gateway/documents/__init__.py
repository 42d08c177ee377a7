"""Documents: GET of one document and of lists (endpoints)."""

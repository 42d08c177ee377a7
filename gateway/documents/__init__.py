"""Documents: the one view of a priced document that every reader renders."""

"""Batches: one large file of documents, spooled to disk, then read and stored in chunks."""

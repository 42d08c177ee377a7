"""Requests for information: an auditor asks a document's centre a question, the centre
answers with text and attachments (docs/information-requests.md)."""

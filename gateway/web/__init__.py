"""The auditors' web workspace: server-rendered pages over the same services as the API."""

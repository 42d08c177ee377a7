"""Submissions: POST and GET (endpoints), the ingest pipeline (service), group commit
(writer), their bulk SQL (repository), offline validation and the submit client."""

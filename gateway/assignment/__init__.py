"""Who reviews what: the review queues search, auditors claims on documents."""

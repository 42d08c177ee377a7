"""Review, decision and appeal of priced documents: endpoints and service."""

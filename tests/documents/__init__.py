"""Tests of the one view of a priced document."""

"""Upkeep: re-queueing stuck work (sweeper), dead letters, planner statistics, monthly
partitions, and the gauges read from the database and the broker."""

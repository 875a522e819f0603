"""Crons: runs started on a schedule, on one thread or on a new thread each time."""

"""Orchestration: one tick or deployment from start to end, over the core and the shell."""

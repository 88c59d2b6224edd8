"""The functional core: pure rules and records; no I/O, the clock passed in."""

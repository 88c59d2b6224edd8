"""The I/O seams: one module per kind of I/O (GitHub, git, step processes, state file, clock, YAML)."""

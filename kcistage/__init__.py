"""kcistage: keeps a staging deployment up to date with trusted pull requests."""

__version__ = "0.1.0"

"""kcistage: keeps a staging deployment up to date with trusted pull requests."""

from __future__ import annotations


def __getattr__(name: str) -> str:
    """`kcistage.__version__`, read from the package metadata on first use only: the lookup
    scans the installed distributions, which every tick would pay for nothing."""
    if name != "__version__":
        raise AttributeError(f"module 'kcistage' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("kcistage")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"

"""kcistage: keeps a staging deployment up to date with trusted pull requests."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("kcistage")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

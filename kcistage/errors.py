"""The package's one error hierarchy; the CLI maps each class to an exit code."""

from __future__ import annotations

from datetime import datetime


class KcistageError(Exception):
    """Base of every error kcistage reports to the user (exit status in `exit_code`)."""

    exit_code = 2


class ConfigError(KcistageError):
    """The configuration file is unreadable or invalid (message names file and key)."""


class StateError(KcistageError):
    """The state file is corrupt, from a newer schema, or cannot be written."""


class AuthError(KcistageError):
    """GitHub rejected the token (401) or no token is configured."""


class ServiceError(KcistageError):
    """GitHub, git remote or another service is unreachable; state kept, next tick retries."""

    exit_code = 3


class RateLimited(ServiceError):
    """GitHub rate-limited us; `reset_at` (aware datetime or None) says when to come back."""

    def __init__(self, message: str, reset_at: datetime | None = None):
        super().__init__(message)
        self.reset_at = reset_at


class LockHeld(KcistageError):
    """Another kcistage run holds the state lock."""

    exit_code = 75


class DeploymentAborted(KcistageError):
    """A deployment stopped by an error, not by a step: it was closed as interrupted, with the
    cause; the exit status is the cause's."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


# Exit status of an OSError outside our own classes (an unusable path, a full disk): the
# machine's setup is wrong, like a configuration error.
OS_EXIT = 2
# Exit status of an error kcistage has no class for (a bug): the run failed.
INTERNAL_EXIT = 1


def exit_code_of(exc: BaseException) -> int:
    """The exit status a run ends with because of `exc`."""
    if isinstance(exc, KcistageError):
        return int(exc.exit_code)
    if isinstance(exc, OSError):
        return OS_EXIT
    return INTERNAL_EXIT


def one_line(exc: BaseException) -> str:
    """`exc` said in one line: the path and the system's words for an OSError, the message for
    ours, the class and message for anything else (a bug)."""
    if isinstance(exc, KcistageError):
        text = str(exc)
    elif isinstance(exc, OSError) and exc.strerror:
        names = [str(n) for n in (exc.filename, exc.filename2) if n is not None]
        text = f"{' -> '.join(names)}: {exc.strerror}" if names else exc.strerror
    elif isinstance(exc, OSError):
        text = str(exc) or type(exc).__name__
    else:
        text = f"internal error: {type(exc).__name__}: {exc} (run with -v for the traceback)"
    return " ".join(text.split()) or type(exc).__name__

"""The package's one error hierarchy; the CLI maps each class to an exit code."""


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

    def __init__(self, message: str, reset_at=None):
        super().__init__(message)
        self.reset_at = reset_at


class LockHeld(KcistageError):
    """Another kcistage run holds the state lock."""

    exit_code = 75

"""The closed vocabularies kcistage decides on: cycles, triggers, results, PR states and causes.

Every value equals the string stored in the state file and shown in the status document, so a
member compares equal to the plain string (`Cycle.FULL == "full"`) and JSON-encodes as it.
Code decides on these values, never on the sentences built from them.
"""

from __future__ import annotations

from enum import StrEnum


class Cycle(StrEnum):
    """What a deployment runs: the partial steps only, or every step (with the test kernel)."""

    PARTIAL = "partial"
    FULL = "full"


class Trigger(StrEnum):
    """Why a deployment started."""

    CHANGE = "change"  # the eligible target changed and settled
    PERIODIC = "periodic"  # the full interval passed with nothing changed
    COMMAND = "command"  # an admin's comment command
    MANUAL = "manual"  # `kcistage deploy` by hand
    BISECT = "bisect"  # a culprit-search deployment


class DeployResult(StrEnum):
    """A deployment record's result."""

    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


class StepResult(StrEnum):
    """A step record's result."""

    OK = "ok"
    FAILED = "failed"
    SKIPPED = "skipped"
    TIMEOUT = "timeout"
    INTERRUPTED = "interrupted"


class PrState(StrEnum):
    """Where an open PR stands with staging."""

    DEPLOYED = "deployed"
    PENDING = "pending"
    EXCLUDED = "excluded"
    SKIPPED = "skipped"


class Cause(StrEnum):
    """Why a PR is out of staging (skipped or excluded)."""

    CONFLICT = "conflict"  # does not merge on its base
    CULPRIT = "culprit"  # blamed by a culprit search
    HEAD_MOVED = "head_moved"  # its decided commit could not be fetched any more
    APPROVAL_DROPPED = "approval_dropped"  # pushed after a maintainer's approval
    BY_HAND = "by_hand"  # excluded by an operator
    DRAFT = "draft"
    SKIP_LABEL = "skip_label"
    OTHER_BASE = "other_base"  # targets another branch than the one staging merges
    UNTRUSTED = "untrusted"  # author not trusted and no approval
    WAITS = "waits"  # pending: waits for a PR it depends on (Depends-On)
    DEPENDS_ON = "depends_on"  # a Depends-On that cannot resolve
    CHECKS_RUNNING = "checks_running"  # pending: its own checks still run (repos[].gate)
    CHECKS_FAILED = "checks_failed"  # one of its own checks failed (repos[].gate)


class WaitFor(StrEnum):
    """What a decision to wait waits for."""

    SETTLE = "settle"  # the target changed less than `settle` ago
    THROTTLE = "throttle"  # the last deployment finished less than `throttle` ago
    PAUSE = "pause"  # an operator's pause


class Action(StrEnum):
    """What the rules decide at a tick."""

    NONE = "none"
    WAIT = "wait"
    PARTIAL = "partial"
    FULL = "full"
    RESTART = "restart"
    CONTINUE = "continue"


class Role(StrEnum):
    """A login's role in kcistage's configuration, strongest first."""

    ADMIN = "admin"
    MAINTAINER = "maintainer"
    TRUSTED = "trusted"

"""Comment command parsing (SPEC 6): find `@<bot> <verb> [<sha>]` lines in a PR comment body."""

from __future__ import annotations

import re
from dataclasses import dataclass

VERBS = ("deploy", "trigger")

# A markdown code fence: three or more backticks or tildes (CommonMark).
_FENCE_RE = re.compile(r"^(`{3,}|~{3,})")
# Punctuation people put after a mention or around a word ("@kcibot: deploy", "`abc1234`.").
_MENTION_SEPARATORS = ":,"
_WORD_TRIM = "`'\".,;:!?()[]<>"


@dataclass(frozen=True)
class Command:
    """One command line of a comment."""

    verb: str  # lower-cased: "deploy", "trigger", "" (bare mention) or any other word (unknown)
    sha: str | None  # lower-cased argument if given (validated by trust.judge), else None
    line: str  # the line as written (for replies; never for a shell)


def _command_lines(body: str) -> list[str]:
    """The stripped lines of `body` outside quotes and fenced code blocks."""
    lines: list[str] = []
    fence: str | None = None  # the opening fence while inside a code block
    for raw in body.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = raw.strip()
        found = _FENCE_RE.match(line)
        if fence is not None:
            # Only a fence of the same character and at least the same length closes the block.
            if found and found.group(1)[0] == fence[0] and len(found.group(1)) >= len(fence) \
                    and not line[len(found.group(1)):].strip():
                fence = None
            continue
        if found:
            fence = found.group(1)
            continue
        if line.startswith(">"):
            continue  # quoting an old command must not re-run it
        lines.append(line)
    return lines


def _mention_rest(line: str, bot: str) -> str | None:
    """What follows the leading `@<bot>` mention of `line`, or None when the line is no command."""
    mention = "@" + bot.lower()
    if not bot or not line.lower().startswith(mention):
        return None
    rest = line[len(mention):]
    # "@kcibotx" is another account: the mention must end at a space, line end or separator.
    if rest and not (rest[0].isspace() or rest[0] in _MENTION_SEPARATORS):
        return None
    return rest.lstrip(_MENTION_SEPARATORS)


def parse(body: str, bot: str) -> list[Command]:
    """Every command in a comment body, in order; lines that only mention the bot give verb ""."""
    commands: list[Command] = []
    for line in _command_lines(body):
        rest = _mention_rest(line, bot)
        if rest is None:
            continue
        words = rest.split()
        verb = words[0].strip(_WORD_TRIM).lower() if words else ""
        sha: str | None = None
        if len(words) >= 2:
            # Kept even when not hex, so the judge can answer "not a commit id" rather than
            # silently approving whatever head it sees.
            sha = words[1].strip(_WORD_TRIM).lower() or words[1].lower()
        commands.append(Command(verb=verb, sha=sha, line=line))
    return commands

"""Comment command parsing: find `@<bot> <verb> [<sha>]` lines in a PR comment body."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

VERBS = ("deploy", "trigger")

# Punctuation people put after a mention or around a word ("@kcibot: deploy", "`abc1234`.").
_MENTION_SEPARATORS = ":,"
_WORD_TRIM = "`'\".,;:!?()[]<>"


@cache
def _markdown() -> MarkdownIt:
    """CommonMark's block structure (GitHub's comments are CommonMark plus extensions that add no
    code or quote blocks). markdown-it-py is pure Python and already required by rich; imported
    on the first comment only (about 20 ms of CPU an idle tick need not spend)."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark")


@dataclass(frozen=True)
class Command:
    """One command line of a comment."""

    verb: str  # lower-cased: "deploy", "trigger", "" (bare mention) or any other word (unknown)
    sha: str | None  # lower-cased argument if given (validated by trust.judge), else None
    line: str  # the line as written (for replies; never for a shell)


def _command_lines(body: str) -> list[str]:
    """The stripped lines of `body` that are visible text outside quotes and code (CommonMark).

    A line counts when it belongs to a paragraph, heading or HTML block that is not inside a
    block quote; fenced and indented code blocks, quotes (lazy continuation lines included) and
    HTML comments never count. An indented line that continues a paragraph is paragraph text."""
    lines = body.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    keep: set[int] = set()
    quoted = 0  # depth of block quotes around the current token
    for token in _markdown().parse("\n".join(lines)):
        if token.type == "blockquote_open":
            quoted += 1
        elif token.type == "blockquote_close":
            quoted -= 1
        elif quoted or token.map is None:
            continue
        elif token.type in ("paragraph_open", "heading_open") or (
                token.type == "html_block" and not token.content.lstrip().startswith("<!--")):
            keep.update(range(*token.map))
    return [lines[i].strip() for i in sorted(keep) if i < len(lines)]


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

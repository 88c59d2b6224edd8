"""Tests of the comment command parser (SPEC 6)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kcistage.core.comment_commands import Command, parse

HEAD = "0123456789abcdef0123456789abcdef01234567"


def _pairs(commands: list[Command]) -> list[tuple[str, str | None]]:
    return [(c.verb, c.sha) for c in commands]


@pytest.mark.parametrize("body, expected", [
    # the basic forms
    ("@kcibot deploy", [("deploy", None)]),
    ("@kcibot trigger", [("trigger", None)]),
    (f"@kcibot deploy {HEAD}", [("deploy", HEAD)]),
    ("@kcibot trigger 0123456", [("trigger", "0123456")]),
    # verb and bot name are case-insensitive; the sha is lower-cased
    ("@KCIBOT DEPLOY", [("deploy", None)]),
    ("@KciBot Trigger ABCDEF0", [("trigger", "abcdef0")]),
    # anywhere in the body, surrounding whitespace stripped
    ("Looks good to me.\n\n   @kcibot deploy   \nThanks!", [("deploy", None)]),
    # multiple commands, in order
    ("@kcibot deploy\nsome text\n@kcibot trigger abcdef0", [("deploy", None), ("trigger", "abcdef0")]),
    # Windows and old-Mac line endings
    ("hi\r\n@kcibot deploy\r\n", [("deploy", None)]),
    ("hi\r@kcibot trigger\r", [("trigger", None)]),
    # the mention must start the line
    ("please @kcibot deploy", []),
    ("`@kcibot deploy`", []),
    # another account whose name starts with the bot's
    ("@kcibotx deploy", []),
    ("@kcibot-dev deploy", []),
    ("@kcibot_ deploy", []),
    # separators after the mention are tolerated
    ("@kcibot: deploy", [("deploy", None)]),
    ("@kcibot, trigger", [("trigger", None)]),
    # unknown verbs and a bare mention are still commands (they get a reply)
    ("@kcibot merge", [("merge", None)]),
    ("@kcibot", [("", None)]),
    ("@kcibot   ", [("", None)]),
    ("@kcibot:", [("", None)]),
    # punctuation and backticks around words
    ("@kcibot deploy.", [("deploy", None)]),
    ("@kcibot deploy `abcdef0`.", [("deploy", "abcdef0")]),
    # extra words: the second word is the sha argument, even when it is not hex
    ("@kcibot deploy abcdef0 please", [("deploy", "abcdef0")]),
    ("@kcibot deploy please", [("deploy", "please")]),
    ("@kcibot deploy NOW now", [("deploy", "now")]),
    ("@kcibot deploy ...", [("deploy", "...")]),
    # quoted lines are ignored
    ("> @kcibot deploy", []),
    (">@kcibot deploy\n\n@kcibot trigger", [("trigger", None)]),
    # ... and so is a lazy continuation line of a quoted paragraph (CommonMark renders it quoted)
    (">@kcibot deploy\n@kcibot trigger", []),
    ("> LGTM\n@kcibot deploy", []),
    ("  > > @kcibot trigger", []),
    # fenced code blocks are ignored
    ("```\n@kcibot deploy\n```", []),
    ("```text\n@kcibot deploy\n```\n@kcibot trigger", [("trigger", None)]),
    ("~~~\n@kcibot deploy\n~~~\n@kcibot trigger", [("trigger", None)]),
    # only the same fence closes a block
    ("````\n```\n@kcibot deploy\n````\n@kcibot trigger", [("trigger", None)]),
    ("```\n~~~\n@kcibot deploy\n```", []),
    ("```\n@kcibot deploy\n``` not a close\n@kcibot trigger\n```", []),
    # an unclosed fence hides the rest
    ("```\n@kcibot deploy", []),
    # indented code blocks (4+ columns, a tab counts 4) are ignored...
    ("    @kcibot deploy", []),
    ("\t@kcibot deploy", []),
    ("Try this:\n\n    @kcibot deploy\n\n@kcibot trigger", [("trigger", None)]),
    ("    code\n\n    @kcibot deploy", []),
    ("- item\n\n      @kcibot deploy", []),  # code inside a list item
    # ... but an indented line cannot interrupt a paragraph: it continues it
    ("Looks good\n    @kcibot deploy", [("deploy", None)]),
    ("- item\n  @kcibot deploy", [("deploy", None)]),
    ("1. item\n\n    @kcibot deploy", [("deploy", None)]),  # list item text, not code
    ("  @kcibot deploy", [("deploy", None)]),  # up to 3 spaces is still a paragraph
    # hidden HTML comments never command; visible HTML blocks do as before
    ("<!--\n@kcibot deploy\n-->", []),
    ("<details>\n@kcibot deploy\n</details>", [("deploy", None)]),
    # a heading line does not start with the mention
    ("# @kcibot deploy", []),
    ("", []),
])
def test_parse_table(body: str, expected: list[tuple[str, str | None]]) -> None:
    assert _pairs(parse(body, "kcibot")) == expected


def test_line_is_kept_as_written() -> None:
    [cmd] = parse("text\n  @KciBot Deploy ABCDEF0 thanks  \r\n", "kcibot")
    assert cmd == Command(verb="deploy", sha="abcdef0", line="@KciBot Deploy ABCDEF0 thanks")


def test_bot_name_from_config() -> None:
    assert _pairs(parse("@kcibot deploy\n@Staging-Bot deploy", "staging-bot")) == [("deploy", None)]
    assert parse("@kcibot deploy", "other") == []


def test_empty_bot_name_matches_nothing() -> None:
    assert parse("@ deploy\n@kcibot deploy", "") == []


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_parse_never_raises(body: str) -> None:
    for cmd in parse(body, "kcibot"):
        assert cmd.line.lower().startswith("@kcibot")
        assert cmd.verb == cmd.verb.lower()
        assert cmd.sha is None or cmd.sha == cmd.sha.lower()
        assert "\n" not in cmd.line and "\r" not in cmd.line


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([
    "@kcibot deploy", "@KCIBOT trigger abcdef0", "> @kcibot deploy", "```", "text", "",
    "@kcibotx deploy", "  @kcibot   deploy  ", "~~~", "    @kcibot deploy", "\t@kcibot trigger",
]), max_size=12))
def test_commands_never_come_from_quotes_or_code(lines: list[str]) -> None:
    # A model of CommonMark's rules for these lines: fences; block quotes and their lazy
    # continuation lines; indented code, which cannot interrupt a paragraph.
    expected = []
    fence = None
    paragraph = quoted = False
    for line in lines:
        s = line.strip()
        if fence:
            if s == fence:
                fence = None
            continue
        if s in ("```", "~~~"):
            fence, paragraph, quoted = s, False, False
            continue
        if not s:
            paragraph = quoted = False
            continue
        if s.startswith(">"):
            paragraph = quoted = True
            continue
        if line.startswith(("    ", "\t")) and not paragraph:
            continue  # an indented code block
        if quoted:
            continue  # a lazy continuation of the quoted paragraph
        paragraph = True
        if s.lower().startswith("@kcibot ") or s.lower() == "@kcibot":
            words = s.split()
            expected.append((words[1].lower(), words[2].lower() if len(words) > 2 else None))
    assert _pairs(parse("\n".join(lines), "kcibot")) == expected

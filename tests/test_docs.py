"""The documentation stands alone and stays true to the code.

- Nothing tracked outside tests/ refers to files outside the repository.
- docs/configuration.md documents exactly the settings' keys.
- docs/commands.md holds the current `--help` of every command (regenerate the block with
  `python tests/test_docs.py --write`).
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
import types
import typing
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
# References a user of the project cannot follow: the development team's private notes.
OUTSIDE = re.compile(r"\.\./shared|\bshared/(data|SPEC|KERNELCI)|SPEC\.md|KERNELCI\.md|STYLE\.md"
                     r"|\bSPEC\b|(?:^|[\s(\"'`])/work/")


def tracked_files() -> list[Path]:
    """Files of the repository (git's list when this is a clone, else every file)."""
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True,
                             timeout=30).stdout.decode()
        names = [n for n in out.split("\0") if n]
    except (OSError, subprocess.CalledProcessError):
        names = [str(p.relative_to(ROOT)) for p in ROOT.rglob("*")
                 if p.is_file() and not {".git", ".venv", "__pycache__"} & set(p.parts)]
    return [ROOT / n for n in names if (ROOT / n).is_file()]


def test_nothing_refers_outside_the_repository() -> None:
    found = []
    for path in tracked_files():
        rel = path.relative_to(ROOT)
        if rel.parts[0] == "tests":
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for n, line in enumerate(text.splitlines(), 1):
            if OUTSIDE.search(line):
                found.append(f"{rel}:{n}: {line.strip()[:100]}")
    assert found == [], "references outside the repository:\n" + "\n".join(found)


def test_the_check_finds_such_references() -> None:
    for line in ("see ../shared/SPEC.md", "(SPEC section 5)", "KERNELCI.md facts", "in /work/main"):
        assert OUTSIDE.search(line), line
    for line in ("spec = _spec(patterns)", "the pathspec package", "specification",
                 "/var/lib/kcistage/work/repos"):
        assert not OUTSIDE.search(line), line


def test_docs_pages_exist_and_are_linked_from_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    for page in ("commands", "configuration", "rules", "trust", "operations"):
        assert (DOCS / f"{page}.md").is_file(), page
        assert f"docs/{page}.md" in readme, page


def test_relative_links_in_docs_resolve() -> None:
    for page in [ROOT / "README.md", *DOCS.glob("*.md")]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if "://" in target or target.startswith("mailto:"):
                continue
            assert (page.parent / target).exists(), f"{page.relative_to(ROOT)}: broken link {target}"


# ---------------------------------------------------------------- configuration keys

def setting_keys(cls: type, prefix: str = "") -> set[str]:
    """Every config key path the settings dataclasses hold (`repos[].url`, `steps[].drain.url`)."""
    keys: set[str] = set()
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name == "path":  # where the file was read from, not a key
            continue
        key = f"{prefix}{f.name}"
        keys.add(key)
        hint = hints[f.name]
        union = typing.get_origin(hint) in (typing.Union, types.UnionType)
        inner = [a for a in typing.get_args(hint) if a is not type(None)] if union else [hint]
        for kind in inner:
            args = typing.get_args(kind)
            if dataclasses.is_dataclass(kind):
                keys |= setting_keys(kind, key + ".")
            elif args and args[-1] is Ellipsis and dataclasses.is_dataclass(args[0]):
                keys.discard(key)
                keys |= setting_keys(args[0], key + "[].")
    return keys


def documented_keys() -> set[str]:
    """The keys in the first column of docs/configuration.md's tables."""
    text = (DOCS / "configuration.md").read_text()
    return set(re.findall(r"^\| `([a-z_]+(?:\[\])?(?:\.[a-z_]+(?:\[\])?)*)` \|", text, re.MULTILINE))


def test_configuration_reference_matches_the_settings() -> None:
    from kcistage.core.settings import Config

    expected = setting_keys(Config)
    # sections are documented by their keys, not as rows of their own
    sections = {k for k in expected if any(other.startswith(k + ".") for other in expected)}
    documented = documented_keys()
    assert sorted(expected - sections - documented) == [], "undocumented keys"
    assert sorted(documented - expected) == [], "documented keys that do not exist"


# ---------------------------------------------------------------- commands' --help

BEGIN, END = "<!-- BEGIN help (generated) -->", "<!-- END help (generated) -->"


def help_text(args: list[str], width: int = 100) -> str:
    """`kcistage ARGS --help` as printed at a width of `width` columns."""
    from click.testing import CliRunner

    from kcistage.cli.main import main

    result = CliRunner().invoke(main, [*args, "--help"], prog_name="kcistage", terminal_width=width)
    assert result.exit_code == 0, result.output
    return result.output.rstrip() + "\n"


def help_block() -> str:
    """The generated part of docs/commands.md: the group's help, then each command's."""
    from kcistage.cli.main import main

    parts = ["### `kcistage`\n\n```\n" + help_text([]) + "```\n"]
    for name in sorted(main.commands):
        if not main.commands[name].hidden:
            parts.append(f"### `kcistage {name}`\n\n```\n" + help_text([name]) + "```\n")
    return BEGIN + "\n" + "\n".join(parts) + END


def commands_page(current: str) -> str:
    """docs/commands.md with its generated block brought up to date."""
    start, end = current.index(BEGIN), current.index(END) + len(END)
    return current[:start] + help_block() + current[end:]


def test_commands_page_holds_the_current_help() -> None:
    page = DOCS / "commands.md"
    current = page.read_text()
    assert current == commands_page(current), (
        "docs/commands.md is out of date: run `python tests/test_docs.py --write`")


def test_every_command_is_in_the_commands_table() -> None:
    from kcistage.cli.main import main

    table = (DOCS / "commands.md").read_text().split("## Every command's")[0]
    missing = [n for n in main.commands if f"`kcistage {n}" not in table]
    assert missing == [], f"commands missing from the table in docs/commands.md: {missing}"


def test_help_summaries_are_not_cut_off() -> None:
    text = help_text([], width=80)  # a usual terminal
    commands = text.split("Commands:")[1]
    assert "..." not in commands, commands


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python tests/test_docs.py --write   (regenerates docs/commands.md)")
    sys.path.insert(0, str(ROOT))
    page = DOCS / "commands.md"
    page.write_text(commands_page(page.read_text()))
    print(f"wrote {page}")

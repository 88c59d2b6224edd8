"""The functional core stays pure: no I/O imports, no clock reads, no I/O builtins."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "kcistage"
PURE = ["errors", "settings", "model", "rules", "culprit", "commands", "trust", "paths",
        "history", "messages"]
ALLOWED = {
    "dataclasses", "datetime", "typing", "re", "math", "enum", "functools", "itertools",
    "collections", "__future__", "pathspec",
} | {f"kcistage.{name}" for name in PURE} | {"kcistage"}
# settings.py keeps config paths as pathlib.Path values (a pure type; it reads nothing).
EXTRA = {"settings": {"pathlib"}}
CLOCK = {("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"), ("date", "today"),
         ("time", "time"), ("time", "monotonic"), ("time", "sleep"), ("time", "perf_counter")}
IO_BUILTINS = {"open", "input", "print", "exec", "eval", "compile", "__import__", "breakpoint"}

PRESENT = [name for name in PURE if (PACKAGE / f"{name}.py").exists()]


def imported(tree: ast.Module) -> set[str]:
    """Every module name a source imports (relative imports resolved inside kcistage)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # from . import x / from .x import y
                if node.module:
                    names.add(f"kcistage.{node.module}")
                else:
                    names.update(f"kcistage.{alias.name}" for alias in node.names)
            else:
                assert node.module is not None
                names.add(node.module)
                if node.module == "kcistage":  # from kcistage import rules
                    names.update(f"kcistage.{alias.name}" for alias in node.names)
    return names


def parse(name: str) -> ast.Module:
    return ast.parse((PACKAGE / f"{name}.py").read_text(), filename=f"{name}.py")


def test_the_core_modules_exist():
    assert {"errors", "settings", "model", "rules", "culprit"} <= set(PRESENT)


@pytest.mark.parametrize("name", PRESENT)
def test_imports_only_pure_modules(name):
    allowed = ALLOWED | EXTRA.get(name, set())
    bad = sorted(m for m in imported(parse(name)) if m not in allowed)
    assert not bad, f"kcistage/{name}.py imports non-pure modules: {bad}"


@pytest.mark.parametrize("name", PRESENT)
def test_reads_no_clock_and_calls_no_io_builtins(name):
    tree = parse(name)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if (node.value.id, node.attr) in CLOCK:
                found.append(f"{node.value.id}.{node.attr} (line {node.lineno})")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id in IO_BUILTINS:
                found.append(f"{node.func.id}() (line {node.lineno})")
    source = (PACKAGE / f"{name}.py").read_text()
    for text in ("datetime.now(", "datetime.utcnow(", "time.time(", "time.sleep("):
        if text in source:
            found.append(text)
    assert not found, f"kcistage/{name}.py is not pure: {found}"


def test_the_checker_catches_impure_code():
    """The checks above would flag a module that does I/O."""
    tree = ast.parse("import os\nfrom .github import poll\nfrom kcistage import state\n")
    assert imported(tree) == {"os", "kcistage", "kcistage.github", "kcistage.state"}
    assert not imported(tree) <= ALLOWED

"""The folders are the architecture: the core is pure, and no layer imports a layer above it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "kcistage"
# Each layer may import itself and the layers listed after it (one-way dependencies).
LAYERS = {
    "core": {"core"},
    "shell": {"shell", "core"},
    "app": {"app", "shell", "core"},
    "web": {"web", "app", "shell", "core"},
    "cli": {"cli", "sandbox", "web", "app", "shell", "core"},
    "sandbox": {"sandbox", "web", "app", "shell", "core"},  # the demo's world; `demo` runs it
}
ROOT_MODULES = {"kcistage", "kcistage.__version__", "kcistage.errors"}  # the package itself and its one error hierarchy
PURE_STDLIB = {
    "dataclasses", "datetime", "typing", "re", "math", "enum", "functools", "itertools",
    "collections", "collections.abc", "__future__", "hashlib", "pathspec",
    "markdown_it",  # CommonMark parsing: pure, no I/O
}
# settings.py, paths.py and the config checks keep paths as pathlib.Path values (a pure type;
# they read nothing: the shell resolves paths); difflib suggests the key a typo meant.
EXTRA = {"core/settings.py": {"pathlib"}, "core/paths.py": {"pathlib"},
         "core/config_values.py": {"pathlib", "difflib"}, "core/config_validation.py": {"pathlib"}}
CLOCK = {("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"), ("date", "today"),
         ("time", "time"), ("time", "monotonic"), ("time", "sleep"), ("time", "perf_counter")}
IO_BUILTINS = {"open", "input", "print", "exec", "eval", "compile", "__import__", "breakpoint"}

CORE = sorted(str(p.relative_to(PACKAGE)) for p in (PACKAGE / "core").glob("*.py"))
ALL = sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.glob("*/*.py"))


def imported(tree: ast.Module, package: str) -> set[str]:
    """Every module a source imports, relative imports resolved against `package`."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            names.add(base)
            if base == "kcistage" or base.removeprefix("kcistage.") in LAYERS:  # a package
                names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def layer_of(module: str) -> str | None:
    """The layer folder of a kcistage module name (None for the package root)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else None


def parse(rel: str) -> ast.Module:
    return ast.parse((PACKAGE / rel).read_text(), filename=rel)


def test_every_module_lives_in_a_layer_folder():
    loose = sorted(p.name for p in PACKAGE.glob("*.py")
                   if p.name not in ("__init__.py", "__main__.py", "errors.py"))
    assert not loose, f"modules outside a layer folder: {loose}"
    assert {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()} \
        <= set(LAYERS)
    assert len(CORE) >= 8


@pytest.mark.parametrize("rel", ALL)
def test_no_layer_imports_upward(rel):
    layer = rel.split("/")[0]
    package = "kcistage." + layer
    bad = sorted(m for m in imported(parse(rel), package)
                 if m.startswith("kcistage.") and m not in ROOT_MODULES
                 and layer_of(m) not in LAYERS[layer])
    assert not bad, f"kcistage/{rel} ({layer}) imports from a layer above it: {bad}"


@pytest.mark.parametrize("rel", CORE)
def test_the_core_imports_nothing_that_does_io(rel):
    allowed = PURE_STDLIB | EXTRA.get(rel, set())
    bad = sorted(m for m in imported(parse(rel), "kcistage.core")
                 if not m.startswith("kcistage") and m not in allowed)
    bad += sorted(m for m in imported(parse(rel), "kcistage.core")
                  if m.startswith("kcistage.") and m not in ROOT_MODULES and layer_of(m) != "core")
    assert not bad, f"kcistage/{rel} imports modules that do I/O: {bad}"


@pytest.mark.parametrize("rel", CORE)
def test_the_core_reads_no_clock_and_calls_no_io_builtins(rel):
    tree = parse(rel)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and (node.value.id, node.attr) in CLOCK:
            found.append(f"{node.value.id}.{node.attr} (line {node.lineno})")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in IO_BUILTINS:
            found.append(f"{node.func.id}() (line {node.lineno})")
    assert not found, f"kcistage/{rel} is not pure: {found}"


def test_the_checker_catches_impure_and_upward_imports():
    """The checks above would flag a core module that does I/O or reaches into the shell."""
    tree = ast.parse("import os\nfrom ..shell.github import poll\nfrom kcistage.app import engine\n")
    names = imported(tree, "kcistage.core")
    assert {"os", "kcistage.shell.github", "kcistage.app", "kcistage.app.engine"} <= names
    assert layer_of("kcistage.shell.github") == "shell"
    assert "shell" not in LAYERS["core"]

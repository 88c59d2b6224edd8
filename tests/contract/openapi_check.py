"""Checks of JSON values against GitHub's OpenAPI description (required fields, types, nulls)."""

from __future__ import annotations

import fcntl
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DESCRIPTION = HERE / "node_modules" / "@octokit" / "openapi" / "generated" / "api.github.com.deref.json"
INSTALL = "npm ci --prefix tests/contract --no-audit --no-fund"


def load() -> dict[str, Any]:
    """GitHub's dereferenced OpenAPI description, installed by npm (package-lock.json) if missing.

    Without npm, or when the install fails, this fails with the command to run: never a skip.
    Under a lock, so that parallel test workers (pytest -n) run one install, not one each."""
    if not DESCRIPTION.exists():
        with open(HERE / ".install.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            _install()
    return json.loads(DESCRIPTION.read_text())


def _install() -> None:
    """`npm ci` into tests/contract, unless another worker did it meanwhile."""
    if not DESCRIPTION.exists():
        if shutil.which("npm") is None:
            raise AssertionError(f"{DESCRIPTION} is missing and npm is not installed: install "
                                 f"npm, then run `{INSTALL}` (.ci/run does)")
        done = subprocess.run(["npm", "ci", "--prefix", str(HERE), "--no-audit", "--no-fund",
                               "--silent"], capture_output=True, text=True, timeout=600,
                              check=False)
        if done.returncode != 0 or not DESCRIPTION.exists():
            raise AssertionError(f"npm could not install @octokit/openapi ({done.stderr[-300:]}): "
                                 f"run `{INSTALL}`")


def shape(template: str) -> str:
    """A path template with its parameter names erased: /repos/{}/{}/pulls."""
    return re.sub(r"\{[^}]+\}", "{}", template)


def operation(spec: dict[str, Any], verb: str, template: str) -> dict[str, Any] | None:
    """The operation of the description matching a stand-in route, or None."""
    for path, item in spec["paths"].items():
        if shape(path) == shape(template) and verb.lower() in item:
            return item[verb.lower()]
    return None


_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "integer": int,
          "number": (int, float)}


def problems(value: Any, schema: dict[str, Any], where: str = "$") -> list[str]:
    """What in `value` the schema does not allow: missing required fields, wrong types, nulls."""
    if value is None and schema.get("nullable"):
        return []
    for alt in ("anyOf", "oneOf"):
        if alt in schema:
            found = [problems(value, option, where) for option in schema[alt]]
            return [] if any(not f for f in found) else min(found, key=len)
    if "allOf" in schema:
        return [p for part in schema["allOf"] for p in problems(value, part, where)]
    if value is None:
        return [] if schema.get("nullable") or not schema else [f"{where}: null not allowed"]
    kind = schema.get("type")
    if kind in _TYPES:
        wanted = _TYPES[kind]
        if not isinstance(value, wanted) or (kind in ("integer", "number") and isinstance(value, bool)):
            return [f"{where}: {type(value).__name__} where {kind} is wanted"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{where}: {value!r} not in {schema['enum']}"]
    found: list[str] = []
    if isinstance(value, dict):
        props = schema.get("properties", {})
        found += [f"{where}.{key}: required, missing" for key in schema.get("required", [])
                  if key not in value]
        for key, item in value.items():
            if key in props:
                found += problems(item, props[key], f"{where}.{key}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value[:3]):
            found += problems(item, schema["items"], f"{where}[{i}]")
    return found


def response_schema(op: dict[str, Any], status: int) -> dict[str, Any] | None:
    """The JSON schema of a response status of an operation (None: no body described)."""
    answer = op["responses"].get(str(status))
    if answer is None:
        raise AssertionError(f"status {status} is not a documented answer")
    content = answer.get("content", {}).get("application/json")
    return content["schema"] if content else None

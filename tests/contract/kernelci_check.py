"""Checks of KernelCI API answers against kernelci_models.json (the real pydantic models' contract).

Each check returns the problems it found as lines naming the field (empty: the value conforms).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

CONTRACT = Path(__file__).resolve().parent / "kernelci_models.json"


def load() -> dict[str, Any]:
    """The contract written by kernelci_models_from_source.py."""
    contract: dict[str, Any] = json.loads(CONTRACT.read_text())
    return contract


def fields(contract: dict[str, Any], model: str) -> dict[str, Any]:
    """A model's fields with those of its bases (a subclass's own definition wins)."""
    spec = contract["models"][model]
    out: dict[str, Any] = {}
    for base in spec["bases"]:
        out.update(fields(contract, base))
    out.update(spec["fields"])
    return out


def kinds(contract: dict[str, Any]) -> dict[str, str]:
    """Node kind → its model (the subclasses of Node)."""
    return {m["kind"]: name for name, m in contract["models"].items()
            if m["bases"] == ["Node"] and "kind" in m}


def _value(contract: dict[str, Any], spec: str, value: Any, where: str) -> list[str]:
    """Problems of one non-null value against a type spec (see the generator)."""
    hand = contract["by_hand"]
    if spec == "any":
        return []
    if spec.startswith("array<"):
        if not isinstance(value, list):
            return [f"{where}: {value!r} is not an array"]
        return [p for i, v in enumerate(value)
                for p in _value(contract, spec[6:-1], v, f"{where}[{i}]")]
    if spec.startswith("enum:"):
        allowed = contract["enums"][spec[5:]]
        return [] if value in allowed else [f"{where}: {value!r} is not one of {spec[5:]}"]
    if spec.startswith("const:"):
        return [] if value == spec[6:] else [f"{where}: {value!r} is not {spec[6:]!r}"]
    if spec.startswith("model:"):
        return model_problems(contract, spec[6:], value, where)
    checks: dict[str, Callable[[Any], Any]] = {"string": lambda v: isinstance(v, str),
              "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
              "boolean": lambda v: isinstance(v, bool),
              "object": lambda v: isinstance(v, dict),
              "objectid": lambda v: isinstance(v, str) and re.match(hand["objectid"], v),
              "timestamp": lambda v: isinstance(v, str) and re.match(hand["timestamp"], v)
              and datetime.fromisoformat(v) is not None}
    return [] if checks[spec](value) else [f"{where}: {value!r} is not a {spec}"]


def model_problems(contract: dict[str, Any], model: str, value: Any, where: str,
                   every_field: bool = False, own: dict[str, Any] | None = None) -> list[str]:
    """Problems of an object against a model: unknown fields, missing required ones (every
    field when `every_field`: a node answer carries them all), types, nulls, enums."""
    if not isinstance(value, dict):
        return [f"{where}: {value!r} is not an object ({model})"]
    spec = {**fields(contract, model), **(own or {})}
    out = [f"{where}.{k}: not a field of {model}" for k in value if k not in spec]
    for name, field in spec.items():
        here = f"{where}.{name}"
        if name not in value:
            if field["required"] or every_field:
                out.append(f"{here}: missing")
            continue
        if value[name] is None:
            if not field["nullable"]:
                out.append(f"{here}: null where {model} does not allow it")
            continue
        out.extend(_value(contract, field["type"], value[name], here))
    return out


def node_problems(contract: dict[str, Any], node: Any, where: str = "node") -> list[str]:
    """Problems of one node as the API answers it (the base Node's fields, all present; `kind`
    and `data` as the kind's model says)."""
    if not isinstance(node, dict):
        return [f"{where}: {node!r} is not an object"]
    model = kinds(contract).get(node.get("kind"))  # type: ignore[arg-type]
    if model is None:
        return [f"{where}.kind: {node.get('kind')!r} is not one of {sorted(kinds(contract))}"]
    own = contract["models"][model]["fields"]
    return model_problems(contract, "Node", node, where, every_field=True, own=own)


def page_problems(contract: dict[str, Any], page: Any, where: str = "page") -> list[str]:
    """Problems of a `/latest/nodes` answer: exactly {items, total, limit, offset}, and each item."""
    shape = contract["by_hand"]["page"]
    if not isinstance(page, dict) or set(page) != set(shape):
        return [f"{where}: keys {sorted(page) if isinstance(page, dict) else page!r}, "
                f"not {sorted(shape)}"]
    out = [p for key in ("total", "limit", "offset")
           for p in _value(contract, "integer", page[key], f"{where}.{key}")]
    if not isinstance(page["items"], list):
        return [*out, f"{where}.items: not an array"]
    if isinstance(page["limit"], int) and page["limit"] < 1:
        out.append(f"{where}.limit: {page['limit']} < 1")
    return out + [p for i, n in enumerate(page["items"])
                  for p in node_problems(contract, n, f"{where}.items[{i}]")]

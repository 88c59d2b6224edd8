"""Regenerate kernelci_models.json from kernelci-core's pydantic models, with `ast` (run by hand).

    python tests/contract/kernelci_models_from_source.py MODELS_PY MODELS_BASE_PY COMMIT

MODELS_PY is kernelci-core's `kernelci/api/models.py`, MODELS_BASE_PY its `models_base.py` (the
`id` field), COMMIT the kernelci-core commit they were read at. No pydantic is needed: the class
bodies are read as syntax. What the models do not say (the answer's shapes and the timestamp
format, read from kernelci-api and kernelci-pipeline) is kept from the existing JSON's `by_hand`.
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "kernelci_models.json"
SCALARS = {"str": "string", "StrictInt": "integer", "int": "integer", "bool": "boolean",
           "datetime": "timestamp", "PyObjectId": "objectid", "Any": "any", "dict": "object",
           "Dict": "object"}
# The models the contract keeps: the node, its kinds, what their `data` holds.
KEEP = ("ModelId", "DatabaseModel", "Node", "Checkout", "Kbuild", "Test", "Job", "Process",
        "Regression", "CheckoutData", "KbuildData", "TestData", "RegressionData", "Revision",
        "KernelVersion")


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    raise ValueError(f"unsupported annotation {ast.unparse(node)}")


def type_of(ann: ast.expr, enums: set[str], models: set[str]) -> tuple[str, bool]:
    """(the JSON type spec of an annotation, whether it allows null)."""
    if isinstance(ann, ast.Subscript):
        outer = _name(ann.value)
        args = ann.slice.elts if isinstance(ann.slice, ast.Tuple) else [ann.slice]
        if outer == "Optional":
            return type_of(args[0], enums, models)[0], True
        if outer == "Annotated":
            return type_of(args[0], enums, models)
        if outer == "List":
            return f"array<{type_of(args[0], enums, models)[0]}>", False
        if outer == "Dict":
            return "object", False
        if outer == "Literal":
            return "const:" + "|".join(str(ast.literal_eval(a)) for a in args), False
        raise ValueError(f"unsupported annotation {ast.unparse(ann)}")
    name = _name(ann)
    if name in SCALARS:
        return SCALARS[name], False
    if name in enums:
        return f"enum:{name}", False
    if name in models:
        return f"model:{name}", False
    raise ValueError(f"unsupported annotation {name}")


def _default(value: ast.expr | None) -> tuple[bool, bool]:
    """(has a default, the default is None) for a field's assigned value."""
    if value is None:
        return False, False
    if isinstance(value, ast.Call) and _name(value.func) == "Field":
        kw = {k.arg: k.value for k in value.keywords}
        given = kw.get("default", value.args[0] if value.args else None)
        if given is None:
            return "default_factory" in kw, False
        return True, isinstance(given, ast.Constant) and given.value is None
    return True, isinstance(value, ast.Constant) and value.value is None


def read(sources: list[str]) -> dict[str, Any]:
    """The enums and models (fields, bases, node kind) of the given module sources."""
    classes = [c for src in sources for c in ast.parse(src).body if isinstance(c, ast.ClassDef)]
    enums = {c.name for c in classes if any(_name(b) == "Enum" for b in c.bases)}
    models = {c.name for c in classes} - enums
    out_enums = {c.name: [ast.literal_eval(s.value) for s in c.body if isinstance(s, ast.Assign)]
                 for c in classes if c.name in enums}
    out_models: dict[str, Any] = {}
    for cls in (c for c in classes if c.name in KEEP):
        fields: dict[str, Any] = {}
        kind = None
        for stmt in cls.body:
            if not isinstance(stmt, ast.AnnAssign) or not isinstance(stmt.target, ast.Name):
                continue
            ann = stmt.annotation
            if isinstance(ann, ast.Subscript) and _name(ann.value) == "ClassVar":
                if stmt.target.id == "class_kind" and stmt.value is not None:
                    kind = ast.literal_eval(stmt.value)
                continue
            spec, nullable = type_of(ann, enums, models)
            has_default, none_default = _default(stmt.value)
            # pydantic does not validate defaults: `data: X = Field(default=None)` can be null
            fields[stmt.target.id] = {"type": spec, "nullable": nullable or none_default,
                                      "required": not has_default}
        bases = [_name(b) for b in cls.bases if _name(b) in KEEP]
        out_models[cls.name] = {"bases": bases, **({"kind": kind} if kind else {}),
                                "fields": fields}
    used = {e for m in out_models.values() for f in m["fields"].values()
            for e in [f["type"].removeprefix("enum:")] if f["type"].startswith("enum:")}
    return {"enums": {k: v for k, v in out_enums.items() if k in used}, "models": out_models}


def dumps(contract: dict[str, Any]) -> str:
    """The contract as JSON with one line per field and per enum (readable in a diff)."""
    def leaf(value: Any, depth: int) -> bool:
        return depth >= 2 and (isinstance(value, list) or "type" in value)

    def dump(value: Any, depth: int) -> str:
        if not isinstance(value, dict) or leaf(value, depth) or not value:
            return json.dumps(value)
        pad = " " * (depth + 1)
        inner = ",\n".join(f"{pad}{json.dumps(k)}: {dump(v, depth + 1)}" for k, v in value.items())
        return "{\n" + inner + "\n" + " " * depth + "}"
    return dump(contract, 0) + "\n"


def main(argv: list[str]) -> int:
    """Write kernelci_models.json from the two model files and the commit they were read at."""
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    models_py, base_py, commit = argv
    old = json.loads(OUT.read_text()) if OUT.exists() else {}
    contract = {
        "source": {"repository": "kernelci/kernelci-core", "commit": commit,
                   "files": ["kernelci/api/models.py", "kernelci/api/models_base.py"]},
        "generated_by": "tests/contract/kernelci_models_from_source.py",
        "by_hand": old.get("by_hand", {}),
        **read([Path(base_py).read_text(), Path(models_py).read_text()]),
    }
    OUT.write_text(dumps(contract))
    print(f"wrote {OUT} ({len(contract['models'])} models, {len(contract['enums'])} enums)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Per-identity results of each judged tree, in side files under the workdir (not in the state).

`<workdir>/trees/<deployment>-<step>.json` holds `{identity: result}`: what regressions and
flakiness are computed from. A file goes with its deployment, exactly like the step logs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

FOLDER = "trees"


def tree_file(workdir: Path, deployment: int, step: str) -> Path:
    """Where one deployment's tree of step `step` is kept."""
    return Path(workdir) / FOLDER / f"{deployment}-{step}.json"


def save_results(workdir: Path, deployment: int, step: str, results: Mapping[str, str]) -> Path:
    """Write a tree's per-identity results (atomically: a reader sees the old file or the new)."""
    path = tree_file(workdir, deployment, step)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(dict(results), sort_keys=True, separators=(",", ":")),
                         encoding="utf-8")
    os.replace(temporary, path)
    return path


def load_results(workdir: Path, deployment: int, step: str) -> dict[str, str] | None:
    """A tree's per-identity results, or None when the file is gone or unreadable."""
    try:
        data = json.loads(tree_file(workdir, deployment, step).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    return {k: v for k, v in data.items() if isinstance(k, str) and isinstance(v, str)}


def remove_trees(workdir: Path, gone: list[int], kept: list[int]) -> list[int]:
    """Remove the tree files of deployments that left the history (as remove_logs does for logs:
    everything numbered at most the newest gone id and not kept, so leftovers go too)."""
    if not gone:
        return []
    newest_gone, keep = max(gone), set(kept)
    folder = Path(workdir) / FOLDER
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    removed: set[int] = set()
    for name in names:
        number = name.partition("-")[0]
        if number.isdigit() and int(number) <= newest_gone and int(number) not in keep:
            try:
                (folder / name).unlink()
                removed.add(int(number))
            except OSError:
                pass  # tried again at the next trim
    return sorted(removed)

"""Reads what GitHub says about a staging branch's protection (for `check`; three GETs)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from kcistage.core.branch_rules import BranchRules
from kcistage.core.settings import Repo
from kcistage.shell.github_http import PER_PAGE, GitHubTransport


def read_branch_rules(gh: GitHubTransport, repo: Repo) -> BranchRules:
    """The staging branch's `protected` flag and summary, its classic protection when the
    credential may read it (admin), and the rulesets that apply to it; KcistageError when
    GitHub does not answer."""
    branch = quote(repo.staging_branch, safe="/")
    what = f"branch {repo.staging_branch!r} of {repo.github}"
    path = f"/repos/{repo.github}/branches/{branch}"
    status, _, data = gh._call("GET", path, what)
    if status == 404:
        found = BranchRules(exists=False)
    elif status == 200 and isinstance(data, dict):
        found = BranchRules(exists=True, protected=bool(data.get("protected")),
                            summary=data.get("protection") or {})
    else:
        raise gh._unexpected(status, what, data)
    protection: dict[str, Any] | None = None
    if found.protected:
        status, _, data = gh._call("GET", f"{path}/protection", f"the protection of {what}")
        if status == 200 and isinstance(data, dict):
            protection = data
        elif status not in (403, 404):  # 403/404: not an admin; the flag is all we know
            raise gh._unexpected(status, f"the protection of {what}", data)
    status, _, data = gh._call("GET", f"/repos/{repo.github}/rules/branches/{branch}",
                               f"the rules of {what}", params={"per_page": PER_PAGE})
    if status == 200 and isinstance(data, list):
        rules = tuple(r for r in data if isinstance(r, dict))
    elif status == 404:  # a GitHub Enterprise Server without rulesets
        rules = ()
    else:
        raise gh._unexpected(status, f"the rules of {what}", data)
    return BranchRules(exists=found.exists, protected=found.protected, summary=found.summary,
                       protection=protection, rules=rules)

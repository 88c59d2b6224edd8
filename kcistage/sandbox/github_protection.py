"""The GitHub stand-in's branch protection and rulesets, as GitHub shows them.

With GitHub's shapes: the branch API's `protected` flag and `protection` summary, the classic
protection (`branches/{branch}/protection`, readable with admin rights only, as on GitHub) and
the repository rulesets that apply to a branch (`rules/branches/{branch}`, readable by anyone
who can read the repository)."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, unquote

from kcistage.sandbox.github_data import StandInData, _Reply, _user

_DOCS = "https://docs.github.com/rest/branches/branch-protection#get-branch-protection"
# The settings of a classic protection that are one {"enabled": bool} each.
_SWITCHES = ("required_linear_history", "allow_force_pushes", "allow_deletions",
             "block_creations", "required_conversation_resolution", "lock_branch",
             "allow_fork_syncing")


class ProtectionData(StandInData):
    """Protected branches and rulesets per repository (FakeGitHub serves them)."""

    _actor: str
    token_permissions: dict[str, bool]
    app: Any
    _page: Callable[[list[Any], str, dict[str, str]], tuple[int, Any, dict[str, str]]]

    def _init_protection(self) -> None:
        self.protections: dict[tuple[str, str], dict[str, Any]] = {}  # (repo, branch) -> settings
        self.rulesets: list[dict[str, Any]] = []  # {"id", "repo", "branches", "rules"}

    # -- data -------------------------------------------------------------------------------
    def protect_branch(self, full_name: str, branch: str, *, status_checks: tuple[str, ...] = (),
                       reviews: bool = False, signatures: bool = False,
                       push_allowed: tuple[str, ...] | None = None, **switches: bool) -> None:
        """Protect a branch (classic protection). `switches`: allow_force_pushes=True, ...;
        `push_allowed`: the logins that may push (None: no restriction)."""
        unknown = set(switches) - set(_SWITCHES)
        assert not unknown, unknown
        with self._lock:
            self._repo(full_name)
            self.protections[(full_name, branch)] = {
                "status_checks": tuple(status_checks), "reviews": reviews,
                "signatures": signatures, "push_allowed": push_allowed, **switches}

    def add_ruleset(self, full_name: str, branches: tuple[str, ...], rules: tuple[str, ...]) -> int:
        """An active repository ruleset on the branches matching `branches` (fnmatch patterns,
        as GitHub's ref_name include list); returns its id."""
        with self._lock:
            self._repo(full_name)
            self._next_id += 1
            self.rulesets.append({"id": self._next_id, "repo": full_name,
                                  "branches": tuple(branches), "rules": tuple(rules)})
            return self._next_id

    # -- JSON shapes ------------------------------------------------------------------------
    def _branch_json(self, full: str, name: str, sha: str) -> dict[str, Any]:
        found: dict[str, Any] = super()._branch_json(full, name, sha)
        settings = self.protections.get((full, name))
        if settings is not None:
            checks = list(settings["status_checks"])
            found["protected"] = True
            found["protection"] = {"enabled": True, "required_status_checks": {
                "enforcement_level": "non_admins" if checks else "off", "contexts": checks,
                "checks": [{"context": c, "app_id": None} for c in checks]}}
        return found

    def _protection_json(self, full: str, branch: str, settings: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.url}/repos/{full}/branches/{quote(branch)}/protection"
        found: dict[str, Any] = {
            "url": url,
            "enforce_admins": {"url": f"{url}/enforce_admins", "enabled": False},
            "required_signatures": {"url": f"{url}/required_signatures",
                                    "enabled": bool(settings["signatures"])},
            **{key: {"enabled": bool(settings.get(key, False))} for key in _SWITCHES},
        }
        if settings["status_checks"]:
            found["required_status_checks"] = {
                "url": f"{url}/required_status_checks", "strict": True,
                "contexts": list(settings["status_checks"]),
                "contexts_url": f"{url}/required_status_checks/contexts",
                "checks": [{"context": c, "app_id": None} for c in settings["status_checks"]]}
        if settings["reviews"]:
            found["required_pull_request_reviews"] = {
                "url": f"{url}/required_pull_request_reviews", "dismiss_stale_reviews": False,
                "require_code_owner_reviews": False, "required_approving_review_count": 1}
        if settings["push_allowed"] is not None:
            found["restrictions"] = {
                "url": f"{url}/restrictions", "users_url": f"{url}/restrictions/users",
                "teams_url": f"{url}/restrictions/teams", "apps_url": f"{url}/restrictions/apps",
                "users": [_user(login) for login in settings["push_allowed"]], "teams": [],
                "apps": []}
        return found

    def _may_administer(self) -> bool:
        """GitHub shows a branch's protection only to admins (an App: administration read)."""
        if self._actor == self.login:
            return bool(self.token_permissions.get("admin"))
        granted = self.app.permissions if self.app is not None else {}
        return granted.get("administration") in ("read", "write")

    # -- routes -----------------------------------------------------------------------------
    def _get_repo_branches_branch_protection(self, full: str, query: dict[str, str], data: Any,
                                             branch: str) -> tuple[int, Any, dict[str, str]]:
        self._repo(full)
        name = unquote(branch)
        if not self._may_administer():
            raise _Reply(403, {"message": "Must have admin rights to Repository.",
                               "documentation_url": _DOCS, "status": "403"})
        settings = self.protections.get((full, name))
        if settings is None:
            raise _Reply(404, {"message": "Branch not protected", "documentation_url": _DOCS,
                               "status": "404"})
        return 200, self._protection_json(full, name, settings), {}

    def _get_repo_rules_branches_branch(self, full: str, query: dict[str, str], data: Any,
                                        branch: str) -> tuple[int, Any, dict[str, str]]:
        self._repo(full)
        name = unquote(branch)
        found = [{"type": rule, "ruleset_source_type": "Repository", "ruleset_source": full,
                  "ruleset_id": ruleset["id"]}
                 for ruleset in self.rulesets if ruleset["repo"] == full
                 and any(fnmatch.fnmatchcase(name, p) for p in ruleset["branches"])
                 for rule in ruleset["rules"]]
        return self._page(found, f"/repos/{full}/rules/branches/{branch}", query)

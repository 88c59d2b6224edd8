"""The GitHub stand-in's checks of a commit: check runs (Checks API) and commit statuses.

With GitHub's shapes: `commits/{ref}/check-runs` (latest run per name unless filter=all), the
combined `commits/{ref}/status` (latest state per context) and `commits/{ref}/statuses`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kcistage.sandbox.github_data import StandInData, _Reply, _stamp, _user

# What a commit status's `creator` is when a test adds one (another CI, not kcistage).
OTHER_CI = "ci-bot"


class ChecksData(StandInData):
    """Check runs and statuses per commit (FakeGitHub serves them, with its pages)."""

    check_runs: dict[str, list[dict[str, Any]]]
    _page: Callable[[list[Any], str, dict[str, str]], tuple[int, Any, dict[str, str]]]

    def _init_checks(self) -> None:
        self.check_runs = {}

    # -- data -------------------------------------------------------------------------------
    def add_check_run(self, full_name: str, sha: str, name: str, status: str = "completed",
                      conclusion: str | None = "success") -> int:
        """A check run on a commit (a re-run is a new run with the same name); returns its id."""
        with self._lock:
            self._repo(full_name)
            self._next_id += 1
            now = _stamp(self.clock())
            run: dict[str, Any] = {"id": self._next_id, "repo": full_name, "name": name,
                   "status": status, "conclusion": conclusion if status == "completed" else None,
                   "started_at": now, "completed_at": now if status == "completed" else None}
            self.check_runs.setdefault(sha, []).append(run)
            return int(run["id"])

    def finish_check_run(self, run_id: int, conclusion: str = "success") -> None:
        """A running check run completes."""
        with self._lock:
            for runs in self.check_runs.values():
                for run in runs:
                    if run["id"] == run_id:
                        run.update(status="completed", conclusion=conclusion,
                                   completed_at=_stamp(self.clock()))

    def add_status(self, full_name: str, sha: str, context: str, state: str,
                   description: str = "") -> None:
        """A commit status set by another CI (kcistage's own come through the API)."""
        with self._lock:
            self._repo(full_name)
            now = _stamp(self.clock())
            self._next_id += 1
            self.statuses.setdefault(sha, []).append(
                {"id": self._next_id, "repo": full_name, "state": state,
                 "description": description or None, "context": context, "target_url": None,
                 "creator": _user(OTHER_CI), "created_at": now, "updated_at": now})

    # -- JSON shapes ------------------------------------------------------------------------
    def _run_json(self, full: str, sha: str, run: dict[str, Any]) -> dict[str, Any]:
        base = f"{self.url}/repos/{full}"
        rid = run["id"]
        return {"id": rid, "node_id": f"CR_{rid}", "head_sha": sha, "name": run["name"],
                "external_id": "", "url": f"{base}/check-runs/{rid}",
                "html_url": f"https://github.com/{full}/runs/{rid}",
                "details_url": f"https://github.com/{full}/runs/{rid}",
                "status": run["status"], "conclusion": run["conclusion"],
                "started_at": run["started_at"], "completed_at": run["completed_at"],
                "output": {"title": None, "summary": None, "text": None, "annotations_count": 0,
                           "annotations_url": f"{base}/check-runs/{rid}/annotations"},
                "check_suite": {"id": rid + 10**6}, "app": None, "pull_requests": []}

    def _status_json(self, full: str, sha: str, status: dict[str, Any]) -> dict[str, Any]:
        sid = int(status.get("id") or 0)
        return {"url": f"{self.url}/repos/{full}/statuses/{sha}",
                "avatar_url": (status.get("creator") or {}).get("avatar_url"), "id": sid,
                "node_id": f"SC_{sid}", "state": status["state"],
                "description": status.get("description"), "target_url": status.get("target_url"),
                "context": status["context"], "created_at": status["created_at"],
                "updated_at": status["updated_at"], "creator": status.get("creator")}

    def _statuses_of(self, full: str, sha: str) -> list[dict[str, Any]]:
        """The statuses of a commit in a repo, newest first."""
        return [s for s in reversed(self.statuses.get(sha, []))
                if s.get("repo", full) == full]

    # -- routes -----------------------------------------------------------------------------
    def _get_repo_commits_ref_check_runs(self, full: str, query: dict[str, str], data: Any,
                                         ref: str) -> tuple[int, Any, dict[str, str]]:
        self._repo(full)
        runs = [r for r in self.check_runs.get(ref, []) if r["repo"] == full]
        if query.get("filter", "latest") == "latest":
            newest: dict[str, dict[str, Any]] = {}
            for run in runs:
                newest[run["name"]] = run
            runs = list(newest.values())
        if query.get("filter", "latest") not in ("latest", "all"):
            raise _Reply(422, {"message": "Validation Failed"})
        runs.sort(key=lambda r: -int(r["id"]))
        status, page, extra = self._page(
            [self._run_json(full, ref, r) for r in runs], f"/repos/{full}/commits/{ref}/check-runs", query)
        return status, {"total_count": len(runs), "check_runs": page}, extra

    def _get_repo_commits_ref_status(self, full: str, query: dict[str, str], data: Any,
                                     ref: str) -> tuple[int, Any, dict[str, str]]:
        self._repo(full)
        latest: dict[str, dict[str, Any]] = {}
        for status in self._statuses_of(full, ref):
            latest.setdefault(status["context"], status)
        states = {s["state"] for s in latest.values()}
        combined = ("failure" if states & {"failure", "error"} else
                    "pending" if "pending" in states or not states else "success")
        code, page, extra = self._page(
            [self._status_json(full, ref, s) for s in latest.values()],
            f"/repos/{full}/commits/{ref}/status", query)
        return code, {"state": combined, "sha": ref, "total_count": len(latest), "statuses": page,
                      "repository": self._repo_json(full),
                      "commit_url": f"{self.url}/repos/{full}/commits/{ref}",
                      "url": f"{self.url}/repos/{full}/commits/{ref}/status"}, extra

    def _get_repo_commits_ref_statuses(self, full: str, query: dict[str, str], data: Any,
                                       ref: str) -> tuple[int, Any, dict[str, str]]:
        self._repo(full)
        found: tuple[int, Any, dict[str, str]] = self._page(
            [self._status_json(full, ref, s) for s in self._statuses_of(full, ref)],
            f"/repos/{full}/commits/{ref}/statuses", query)
        return found

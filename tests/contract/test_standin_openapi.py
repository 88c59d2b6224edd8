"""The GitHub stand-in against GitHub's official OpenAPI description (@octokit/openapi).

Every route the stand-in serves must exist in the description, and each answer it gives must
carry the fields the description requires, with nulls only where it allows them. The
description is installed by npm into tests/contract (.ci/run does it); without it this fails.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
import requests

from kcistage.sandbox.github_standin import _ROUTES, FakeGitHub
from kcistage.sandbox.sandbox import APP_ID, write_app_key
from tests.contract import openapi_check as oapi

AUTH = {"Authorization": "token test-token"}
REPO = "kernelci/api"
SHA = "a" * 40


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return oapi.load()


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeGitHub]:
    with FakeGitHub() as fake:
        fake.add_repo(REPO)
        fake.add_pr(REPO, 1, "alice", SHA, labels=["staging-skip"], body="Depends-On: api#2")
        fake.add_check_run(REPO, SHA, "build", status="in_progress")
        fake.add_check_run(REPO, SHA, "lint", conclusion="failure")
        fake.add_status(REPO, SHA, "ci/e2e", "pending")
        fake.add_comment(REPO, 1, "bob", "@kcibot deploy")
        fake.set_permission(REPO, "bob", "maintain")
        fake.protect_branch(REPO, "main", status_checks=("ci/build",), reviews=True,
                            push_allowed=("kcibot",), allow_force_pushes=True)
        fake.add_ruleset(REPO, ("main", "staging*"), ("non_fast_forward", "required_signatures"))
        fake.token_permissions["admin"] = True  # GitHub shows a branch's protection to admins
        key = tmp_path_factory.mktemp("app") / "app.pem"
        fake.register_app(APP_ID, "kci-staging", write_app_key(key))
        fake.install_app("kernelci", 77)
        fake.app_key = key.read_bytes()  # type: ignore[attr-defined]
        yield fake


def app_jwt(hub: FakeGitHub) -> dict[str, str]:
    now = int(time.time())
    token = jwt.encode({"iat": now - 30, "exp": now + 300, "iss": str(APP_ID)},
                       hub.app_key, algorithm="RS256")  # type: ignore[attr-defined]
    return {"Authorization": f"Bearer {token}"}


def test_every_route_exists_in_the_description(spec: dict[str, Any]) -> None:
    missing = [f"{verb} {name}" for verb, name, _ in _ROUTES
               if oapi.operation(spec, verb, name) is None]
    assert missing == []


def calls(hub: FakeGitHub) -> list[tuple[str, str, str, dict[str, Any] | None, dict[str, str]]]:
    """(verb, route, concrete path, body, headers): one call per route of the stand-in."""
    comment = hub.comments(REPO, 1)[0]["id"]
    app = app_jwt(hub)
    return [(*call, AUTH) for call in [  # type: ignore[misc]
        ("GET", "/user", "/user", None),
        ("GET", "/rate_limit", "/rate_limit", None),
        ("GET", "/repos/{o}/{r}", f"/repos/{REPO}", None),
        ("GET", "/repos/{o}/{r}/branches/{branch}", f"/repos/{REPO}/branches/main", None),
        ("GET", "/repos/{o}/{r}/branches/{branch}/protection",
         f"/repos/{REPO}/branches/main/protection", None),
        ("GET", "/repos/{o}/{r}/rules/branches/{branch}", f"/repos/{REPO}/rules/branches/main",
         None),
        ("GET", "/repos/{o}/{r}/pulls", f"/repos/{REPO}/pulls", None),
        ("GET", "/repos/{o}/{r}/pulls/{n}", f"/repos/{REPO}/pulls/1", None),
        ("GET", "/repos/{o}/{r}/issues/comments", f"/repos/{REPO}/issues/comments", None),
        ("GET", "/repos/{o}/{r}/issues/{n}/comments", f"/repos/{REPO}/issues/1/comments", None),
        ("POST", "/repos/{o}/{r}/issues/{n}/comments", f"/repos/{REPO}/issues/1/comments",
         {"body": "hello"}),
        ("PATCH", "/repos/{o}/{r}/issues/comments/{id}", f"/repos/{REPO}/issues/comments/{comment}",
         {"body": "edited"}),
        ("POST", "/repos/{o}/{r}/issues/comments/{id}/reactions",
         f"/repos/{REPO}/issues/comments/{comment}/reactions", {"content": "eyes"}),
        ("POST", "/repos/{o}/{r}/statuses/{sha}", f"/repos/{REPO}/statuses/{SHA}",
         {"state": "success", "description": "ok", "context": "kcistage/staging"}),
        ("GET", "/repos/{o}/{r}/commits/{ref}/check-runs", f"/repos/{REPO}/commits/{SHA}/check-runs", None),
        ("GET", "/repos/{o}/{r}/commits/{ref}/status", f"/repos/{REPO}/commits/{SHA}/status", None),
        ("GET", "/repos/{o}/{r}/commits/{ref}/statuses", f"/repos/{REPO}/commits/{SHA}/statuses", None),
        ("GET", "/repos/{o}/{r}/collaborators/{login}/permission",
         f"/repos/{REPO}/collaborators/bob/permission", None),
    ]] + [
        ("GET", "/app", "/app", None, app),
        ("GET", "/repos/{o}/{r}/installation", f"/repos/{REPO}/installation", None, app),
        ("POST", "/app/installations/{id}/access_tokens", "/app/installations/77/access_tokens",
         None, app),
    ]


def test_every_answer_has_the_required_fields_and_allowed_nulls(spec: dict[str, Any],
                                                               hub: FakeGitHub) -> None:
    served = {f"{verb} {name}" for verb, name, _ in _ROUTES}
    checked = set()
    found: list[str] = []
    for verb, route, path, body, headers in calls(hub):
        answer = requests.request(verb, hub.url + path, json=body, headers=headers, timeout=5)
        assert answer.status_code < 300, (route, answer.status_code, answer.text[:200])
        op = oapi.operation(spec, verb, route)
        assert op is not None, route
        schema = oapi.response_schema(op, answer.status_code)
        if schema is not None:
            found += [f"{verb} {route}: {p}" for p in oapi.problems(answer.json(), schema)]
        checked.add(f"{verb} {route}")
    assert checked == served  # no route left unchecked
    assert found == []


def test_the_checker_catches_a_missing_field_and_a_bad_null(spec: dict[str, Any]) -> None:
    op = oapi.operation(spec, "GET", "/repos/{o}/{r}/branches/{branch}")
    assert op is not None
    schema = oapi.response_schema(op, 200)
    assert schema is not None
    found = oapi.problems({"name": None, "commit": {}}, schema)
    assert "$.name: null not allowed" in found and "$._links: required, missing" in found

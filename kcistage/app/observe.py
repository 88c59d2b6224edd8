"""One look at the world: poll GitHub and the base branches, act on comments, compute the target."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, cast

from kcistage.app import controls as operator_controls
from kcistage.app.context import Context
from kcistage.app.notify import tell_exclusions
from kcistage.core import comment_commands as commands
from kcistage.core import controls, dependencies, gate, rules, trust
from kcistage.core.dependencies import Outside
from kcistage.core.enums import Cause
from kcistage.core.gate import Check
from kcistage.core.history import facts
from kcistage.core.model import Comment, PullRequest, Target, format_time, parse_time
from kcistage.core.settings import Config, Repo
from kcistage.core.state import PrRecord, State
from kcistage.errors import RateLimited, ServiceError
from kcistage.shell import statefile


class GitHubPort(Protocol):
    """What observe needs from the GitHub client (kcistage.shell.github.GitHub)."""

    def poll(self, repos: Any) -> Any: ...
    def permission(self, repo: Repo, login: str) -> str | None: ...
    def react(self, repo: Repo, comment_id: int, content: str = "eyes") -> None: ...
    def reply(self, repo: Repo, number: int, body: str, answers: int) -> int: ...
    def pull_state(self, repo: Repo, number: int) -> Outside: ...
    def head_checks(self, repo: Repo, sha: str) -> list[Check] | None: ...
    def mark_passed(self, repo: Repo, sha: str) -> None: ...


@dataclass
class Observation:
    """What one look found: the target plus what it did and would do."""

    target: Target
    actions: list[str] = field(default_factory=list)  # human-readable lines (comments handled)
    exclusions: list[tuple[str, str, str]] = field(default_factory=list)  # new: (key, sha, reason)
    requests: int = 0
    answers: list[Answer] = field(default_factory=list)  # replies and reactions, not sent yet


def pr_key(repo: str, number: int) -> str:
    """The key of a PR in state["prs"]."""
    return f"{repo}#{number}"


def observe(cfg: Config, state: State, gh: GitHubPort, remote_head: Callable[[Repo], str],
            now: datetime,
            on_handled: Callable[[], None] | None = None,
            by_hand: dict[str, Any] | None = None,
            on_polled: Callable[[], None] | None = None) -> Observation:
    """Poll, update state["prs"], judge comment commands, and return the eligible target with
    the answers to write (`look` sends them; a dry run only shows them).

    Comments are recorded as handled (their ids, approvals and queued cycles) and on_handled()
    saves that BEFORE any answer goes to GitHub: when the state cannot be saved, on_handled
    raises and nothing is answered, so a full disk cannot make every tick answer again.
    `by_hand` is the operator controls' exclusions by hand ({"<repo>#<n>": {"by", "at", "reason"}});
    on_polled() runs once the PR records hold the heads just polled (the `include` requests)."""
    poll = gh.poll(cfg.repos)
    bases = {repo.name: remote_head(repo) for repo in cfg.repos}
    _update_prs(state, poll.prs, getattr(poll, "dates", {}), now)
    if on_polled is not None:
        on_polled()
    obs = Observation(target={}, requests=poll.requests)
    for comment in poll.comments:
        obs.answers += _handle_comment(cfg, state, gh, comment, now, obs)
    if poll.comments and on_handled is not None:
        on_handled()
    obs.target = compute_target(cfg, state, gh, bases, obs, by_hand)
    return obs


def _honour_backoff(ctx: Context) -> None:
    """Poll nothing before a rate limit GitHub announced has passed (RateLimited)."""
    backoff = statefile.read_backoff(ctx.cfg.state_file)
    if backoff and backoff > ctx.clock():
        raise RateLimited(f"rate-limited by GitHub until {format_time(backoff)}; not polling",
                          backoff)


def look(ctx: Context) -> Observation:
    """observe() for a run: honours a recorded rate limit, records C, tells new exclusions."""
    _honour_backoff(ctx)
    doc = operator_controls.read(ctx)

    def includes() -> None:  # on the heads this poll sees, not those of the last tick
        for line in operator_controls.apply_includes(ctx):
            ctx.out.line(line)

    try:
        obs = observe(ctx.cfg, ctx.state, ctx.gh, ctx.remote_head, ctx.clock(),
                      on_handled=ctx.save, by_hand=doc["excluded"], on_polled=includes)
    except RateLimited as exc:
        if exc.reset_at is not None:
            statefile.write_backoff(ctx.cfg.state_file, exc.reset_at)
        raise
    _send(ctx.cfg, ctx.gh, obs.answers, obs)
    note_observation(ctx, obs.target)
    statefile.mark_polled(ctx.cfg.state_file, ctx.clock())
    tell_exclusions(ctx, obs.exclusions)
    return obs


def peek(ctx: Context) -> Observation:
    """The same poll for `--dry-run`, writing nothing: no answer, no save, no backoff, no mark;
    `include` requests are named, not carried out (that tells the PR)."""
    _honour_backoff(ctx)
    doc = operator_controls.read(ctx)
    obs = observe(ctx.cfg, ctx.state, ctx.gh, ctx.remote_head, ctx.clock(),
                  by_hand=doc["excluded"])
    for answer in obs.answers:
        obs.actions.append(f"{answer.repo}#{answer.number}: would "
                           + ("react with eyes" if answer.reply is None else "reply"))
    for key in doc["include"]:
        obs.actions.append(f"{key}: the next run carries out `kcistage include` (not in this plan)")
    note_observation(ctx, obs.target)
    return obs


def note_observation(ctx: Context, target: Target) -> None:
    """Record what this poll saw and keep C (the first change) up to date.

    `observed.at` is when the observed target last changed, so that an idle tick changes
    nothing in the state (the state file's mtime says when the last poll was)."""
    now = ctx.clock()
    observed = ctx.state.get("observed")
    if not observed or observed.get("target") != target or not observed.get("at"):
        ctx.state["observed"] = {"at": format_time(now), "target": target}
    f = facts(ctx.state, now, target)
    mark = rules.change_mark(f.changed_since, target, f.deployed, now)
    ctx.state["changed_since"] = format_time(mark) if mark else None


CLOSED_MAX = 500  # closed PRs whose records are kept (the most recently closed)


def _update_prs(state: State, prs_by_repo: dict[str, list[PullRequest]],
                dates: dict[str, datetime | None], now: datetime) -> None:
    """Refresh the PR records; a new head restarts its 'seen since' time.

    `head_seen_at` is on GitHub's clock (the `Date` of the answer that first listed the head),
    so that it can be compared with a comment's `created_at` whatever the local clock says.
    A closed PR's record (approval, exclusions, comment ids) moves to state["closed"] and comes
    back when it is reopened: closing and reopening (a common way to re-run CI) must not
    re-admit a culprit or lose an approval."""
    records = state["prs"]
    closed = state.setdefault("closed", {})
    seen: set[str] = set()
    for name, prs in prs_by_repo.items():
        date = dates.get(name)
        answered = format_time(date) if date is not None else None
        for pr in prs:
            key = pr_key(pr.repo, pr.number)
            seen.add(key)
            record = records.get(key)
            if record is None and key in closed:
                # Reopened: what was known comes back; its head counts as seen from now on
                # (nobody watched it while it was closed).
                record = closed.pop(key)
                record.pop("closed_at", None)
                record["head_seen_at"] = None
            if record is None or record.get("sha") != pr.sha:
                head_seen_at = answered
            else:  # unknown so far (no date, or a record from an older kcistage): from now on
                head_seen_at = record.get("head_seen_at") or answered
            new: PrRecord = record.copy() if record else {"approval": None, "excluded": None,
                                                          "comments": {}}
            for gone in ("depends", "depends_problem"):  # an edited description drops them
                new.pop(gone, None)  # type: ignore[misc]
            new.update(cast(PrRecord, pr.to_json()))
            new.pop("sha_seen_at", None)  # local-clock times of older versions: never compared
            new["head_seen_at"] = head_seen_at
            faulty = (new.get("culprits") or {}).get(pr.sha)
            excluded = new.get("excluded")
            if faulty is not None and (excluded is None or excluded["sha"] != pr.sha):
                # back to a commit proven faulty (a force-push): excluded again at once
                new["excluded"] = {"sha": pr.sha, "cause": Cause.CULPRIT, "deployment": faulty}
            if record is None:  # listed for the first time (a reopened PR keeps what it had)
                new["first_seen_at"] = answered
            records[key] = new
    for key in [k for k in records if k not in seen]:
        closed[key] = records.pop(key)
        closed[key]["closed_at"] = format_time(now)
    if len(closed) > CLOSED_MAX:
        newest = sorted(closed, key=lambda k: (closed[k].get("closed_at") or "", k))[-CLOSED_MAX:]
        state["closed"] = {k: closed[k] for k in newest}


def author_role(cfg: Config, gh: GitHubPort, repo: Repo, login: str) -> str | None:
    """The role of a login, asking GitHub's permission API only when min_permission needs it."""
    permission = gh.permission(repo, login) if trust.needs_permission(login, cfg.trust) else None
    return trust.role(login, cfg.trust, permission)


@dataclass(frozen=True)
class Answer:
    """What to say on GitHub about one comment: an "eyes" reaction or a reply."""

    repo: str
    number: int
    comment: int
    reply: str | None  # None: react with "eyes"


def _handle_comment(cfg: Config, state: State, gh: GitHubPort, comment: Comment,
                    now: datetime, obs: Observation) -> list[Answer]:
    """Judge every command of one comment; record approvals and cycles; return the answers."""
    record = state["prs"].get(pr_key(comment.repo, comment.number))
    cmds = commands.parse(comment.body, cfg.github.bot)
    if not cmds:
        return []
    repo = cfg.repo(comment.repo)
    role = author_role(cfg, gh, repo, comment.author)
    head = record["sha"] if record else None
    seen = record.get("head_seen_at") if record else None
    seen_at = parse_time(seen) if seen else None
    first = record.get("first_seen_at") if record else None
    created = parse_time(comment.created_at)
    replies: list[str] = []
    accepted = False
    for cmd in cmds:
        outcome = trust.judge(cmd, comment.author, role, head, seen_at, created, cfg.github.bot,
                              pr_seen_at=parse_time(first) if first else None)
        if not outcome.accepted:
            if outcome.reply:
                replies.append(outcome.reply)
            continue
        accepted = True
        if outcome.approve_sha and record is not None:
            record["approval"] = {"sha": outcome.approve_sha, "by": comment.author,
                                  "comment": comment.id}
        if outcome.cycle:
            state.setdefault("commands", []).append(
                {"cycle": outcome.cycle, "by": comment.author, "repo": comment.repo,
                 "number": comment.number, "comment": comment.id, "at": format_time(now)})
        obs.actions.append(f"{comment.repo}#{comment.number}: {cmd.verb} by {comment.author} "
                           f"accepted" + (f" ({outcome.cycle} cycle next tick)" if outcome.cycle else ""))
    for _reply in replies:
        obs.actions.append(f"{comment.repo}#{comment.number}: command by {comment.author} refused")
    answers = [Answer(comment.repo, comment.number, comment.id, None)] if accepted else []
    if replies:
        answers.append(Answer(comment.repo, comment.number, comment.id,
                              "\n\n".join(dict.fromkeys(replies))))
    return answers


def _send(cfg: Config, gh: GitHubPort, answers: list[Answer], obs: Observation) -> None:
    """Put the reactions and replies on GitHub (the commands themselves are already recorded)."""
    for answer in answers:
        repo = cfg.repo(answer.repo)
        try:
            if answer.reply is None:
                gh.react(repo, answer.comment, "eyes")
            else:
                gh.reply(repo, answer.number, answer.reply, answer.comment)
        except ServiceError as exc:  # only the answer is lost, never the command
            obs.actions.append(f"{answer.repo}#{answer.number}: could not answer: {exc}")


def compute_target(cfg: Config, state: State, gh: GitHubPort, bases: dict[str, str],
                   obs: Observation, by_hand: dict[str, Any] | None = None) -> Target:
    """Judge every open PR (state and reason stored on its record) and build the target.

    A PR's own verdict (trust, exclusions, its own checks) comes first, then its Depends-On
    (core/dependencies.py). A recorded conflict holds only against the same composition (the PRs
    merged before it), which dependencies may change: judged again, a few rounds at most."""
    records = sorted(state.get("prs", {}).values(), key=lambda r: (r["repo"], r["number"]))
    records = [r for r in records if r["repo"] in bases]
    wanted = {pr_key(r["repo"], r["number"]): dependencies.needs(
        pr_key(r["repo"], r["number"]), r.get("depends", ()), r.get("depends_problem", ""), cfg.repos)
        for r in records if r.get("depends") or r.get("depends_problem")}
    outside = _outside(cfg, gh, wanted, {pr_key(r["repo"], r["number"]) for r in records})
    roles: dict[str, str | None] = {}
    gated: dict[str, trust.Verdict | None] = {}
    allowed: set[str] | None = None  # the PRs merged before others (None: all eligible ones)
    for _round in range(3):
        own: dict[str, trust.Verdict] = {}
        before: dict[str, list[list[Any]]] = {name: [] for name in bases}
        for record in records:
            key = pr_key(record["repo"], record["number"])
            verdict = _own_verdict(cfg, gh, record, bases, before[record["repo"]], by_hand,
                                   roles, gated)
            own[key] = verdict
            if verdict.eligible and (allowed is None or key in allowed):
                before[record["repo"]].append([record["number"], record["sha"]])
        judged = dependencies.apply(own, wanted, outside)
        now = {k for k, v in judged.verdicts.items() if v.eligible}
        if now == {k for k, v in own.items() if v.eligible and (allowed is None or k in allowed)}:
            break
        allowed = now
    target: Target = {name: {"base": sha, "prs": []} for name, sha in bases.items()}
    for record in records:
        key = pr_key(record["repo"], record["number"])
        verdict = judged.verdicts[key]
        # told once per new drop (the reason names the approved commit), exclusion by hand or
        # failed own check (a PR is told why staging passes it by; checks still running are not)
        if verdict.cause in (Cause.APPROVAL_DROPPED, Cause.BY_HAND, Cause.CHECKS_FAILED) \
                and record.get("reason") != verdict.reason:
            obs.exclusions.append((key, record["sha"], verdict.reason))
        needs = [d for d in wanted.get(key, dependencies.Needs()).keys if d in judged.verdicts]
        group = list(judged.groups.get(key, ()))
        record["state"], record["reason"] = verdict.state, verdict.reason
        record["cause"] = verdict.cause
        partners = sorted(set(needs + group) - {key}, key=dependencies.sort_key)
        if verdict.eligible and partners:  # the group, said where people look: its reason
            more = f" and {len(partners) - 3} more" if len(partners) > 3 else ""
            record["reason"] = f"{verdict.reason}; with {', '.join(partners[:3])}{more} (Depends-On)"
        _keep(record, "needs", needs)
        _keep(record, "group", group)
        if verdict.eligible:
            target[record["repo"]]["prs"].append([record["number"], record["sha"]])
    for entry in target.values():
        entry["prs"].sort()
    return target


def _keep(record: PrRecord, field: str, value: list[str]) -> None:
    """Set a list field of a record, or leave it out when empty (an idle tick changes nothing)."""
    if value:
        record[field] = value  # type: ignore[literal-required]
    else:
        record.pop(field, None)  # type: ignore[misc]


def _own_verdict(cfg: Config, gh: GitHubPort, record: PrRecord, bases: dict[str, str],
                 before: list[list[Any]], by_hand: dict[str, Any] | None,
                 roles: dict[str, str | None], gated: dict[str, trust.Verdict | None]) -> trust.Verdict:
    """A PR's verdict on its own: trust, exclusions, then its own checks when the repo gates on them."""
    repo = cfg.repo(record["repo"])
    pr = PullRequest.from_json(record)
    key = pr_key(pr.repo, pr.number)
    skip = cfg.trust.skip_label.lower()
    cheap_out = pr.base != repo.base or pr.draft or any(label.lower() == skip for label in pr.labels)
    if key not in roles:
        roles[key] = None if cheap_out else author_role(cfg, gh, repo, pr.author)
    excluded = controls.hand_exclusion(by_hand or {}, key, pr.sha) or record.get("excluded")
    verdict = trust.eligibility(pr, repo, cfg.trust, roles[key], record.get("approval"),
                                excluded, base_sha=bases[repo.name], bot=cfg.github.bot,
                                merged_before=before)
    if not verdict.eligible or repo.gate.checks == gate.NONE:
        return verdict
    if key not in gated:
        checks = gh.head_checks(repo, pr.sha)
        held = None if checks is None else gate.verdict(gate.judge(checks, repo.gate.checks))
        if checks is not None and held is None:
            gh.mark_passed(repo, pr.sha)
        gated[key] = held
    return gated[key] or verdict


MAX_LOOKUPS = 20  # dependencies outside the open PRs looked up per poll (the rest wait)


def _outside(cfg: Config, gh: GitHubPort, wanted: dict[str, dependencies.Needs],
             open_keys: set[str]) -> dict[str, dependencies.Outside]:
    """What GitHub says of the dependencies that are not open PRs (merged ones cost nothing)."""
    found: dict[str, dependencies.Outside] = {}
    for need in wanted.values():
        for dep in need.keys:
            if dep in open_keys or dep in found or len(found) >= MAX_LOOKUPS:
                continue
            name, _, number = dep.rpartition("#")
            found[dep] = gh.pull_state(cfg.repo(name), int(number))
    return found

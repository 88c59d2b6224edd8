"""config.py: every validation error, the defaults, durations, path resolution, the token."""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from kcistage.core.settings import Drain, Probe, Schedule, Step
from kcistage.errors import AuthError, ConfigError
from kcistage.shell.config import load_config, token

BASE: dict[str, Any] = {
    "repos": [
        {"name": "kernelci-api", "github": "kernelci/kernelci-api"},
        {"name": "kernelci-pipeline", "github": "kernelci/kernelci-pipeline"},
    ],
    "steps": [
        {"name": "drain", "drain": {"url": "http://127.0.0.1:9/count"}},
        {"name": "api", "run": ["docker", "compose", "up"], "cwd": "kernelci-api"},
        {"name": "pipeline", "run": ["docker", "compose", "up"], "timeout": "20m"},
    ],
}


def write(tmp_path: Path, data: Any, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def edit(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    change(data)
    return data


def setter(*keys: Any, value: Any) -> Callable[[dict[str, Any]], None]:
    """A change that sets data[k1][k2]... = value, creating mappings on the way."""
    def change(data: dict[str, Any]) -> None:
        node = data
        for k in keys[:-1]:
            node = node.setdefault(k, {}) if isinstance(node, dict) else node[k]
        node[keys[-1]] = value
    return change


def deleter(*keys: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        node = data
        for k in keys[:-1]:
            node = node[k]
        del node[keys[-1]]
    return change


# (id, change, expected key path, expected words of the problem)
ERRORS: list[tuple[str, Callable[[dict[str, Any]], None], str, str]] = [
    ("unknown top", setter("stepz", value=[]), "stepz", "unknown key (did you mean steps?)"),
    ("unknown schedule", setter("schedule", "setle", value="5m"), "schedule.setle", "unknown key"),
    ("unknown github", setter("github", "tokenfile", value="x"), "github.tokenfile", "unknown key"),
    ("unknown trust", setter("trust", "admin", value=[]), "trust.admin", "unknown key"),
    ("unknown notify", setter("notify", "on_fail", value=None), "notify.on_fail", "unknown key"),
    ("unknown repo key", setter("repos", 0, "branch", value="x"), "repos[0].branch",
     "unknown key"),
    ("unknown step key", setter("steps", 1, "env", value={}), "steps[1].env", "unknown key"),
    ("unknown drain key", setter("steps", 0, "drain", "every", value="1s"),
     "steps[0].drain.every", "unknown key"),
    ("section not mapping", setter("schedule", value=[1]), "schedule", "expected a mapping"),
    ("bad duration", setter("steps", 2, "timeout", value="20 minutes"), "steps[2].timeout",
     "expected a duration like 30m"),
    ("int duration", setter("schedule", "settle", value=300), "schedule.settle",
     "expected a duration like 30m"),
    ("negative duration", setter("schedule", "throttle", value="-5m"), "schedule.throttle",
     "expected a duration like 30m"),
    ("zero full_interval", setter("schedule", "full_interval", value="0s"),
     "schedule.full_interval", "longer than 0"),
    ("zero watch_interval", setter("schedule", "watch_interval", value="0m"),
     "schedule.watch_interval", "longer than 0"),
    ("zero step timeout", setter("steps", 1, "timeout", value="0s"), "steps[1].timeout",
     "longer than 0"),
    ("zero git_timeout", setter("git_timeout", value="0s"), "git_timeout", "longer than 0"),
    ("bad git_timeout", setter("git_timeout", value=300), "git_timeout",
     "expected a duration like 30m"),
    ("zero drain interval", setter("steps", 0, "drain", "interval", value="0s"),
     "steps[0].drain.interval", "longer than 0"),
    ("bad drain timeout", setter("steps", 0, "drain", "timeout", value="soon"),
     "steps[0].drain.timeout", "expected a duration"),
    ("negative restarts", setter("schedule", "max_restarts", value=-1), "schedule.max_restarts",
     "at least 0"),
    ("bool restarts", setter("schedule", "max_restarts", value=True), "schedule.max_restarts",
     "expected an integer"),
    ("str restarts", setter("schedule", "max_restarts", value="1"), "schedule.max_restarts",
     "expected an integer"),
    ("history zero", setter("history", value=0), "history", "at least 1"),
    ("history bool", setter("history", value=False), "history", "expected an integer"),
    ("retries negative", setter("steps", 1, "retries", value=-2), "steps[1].retries",
     "at least 0"),
    ("bool type", setter("schedule", "full_when_unchanged", value="yes please"),
     "schedule.full_when_unchanged", "expected true or false"),
    ("push int", setter("repos", 0, "push", value=1), "repos[0].push", "expected true or false"),
    ("min_permission", setter("trust", "min_permission", value="read"), "trust.min_permission",
     "write|maintain|admin"),
    ("on_timeout", setter("steps", 0, "drain", "on_timeout", value="skip"),
     "steps[0].drain.on_timeout", "fail|proceed"),
    ("cycles item", setter("steps", 1, "cycles", value=["partial", "weekly"]),
     "steps[1].cycles[1]", "partial|full"),
    ("cycles string", setter("steps", 1, "cycles", value="full"), "steps[1].cycles",
     "expected a list"),
    ("cycles empty", setter("steps", 1, "cycles", value=[]), "steps[1].cycles", "at least one"),
    ("repos empty", setter("repos", value=[]), "repos", "at least one"),
    ("repos missing", deleter("repos"), "repos", "missing"),
    ("repos not list", setter("repos", value={"name": "x"}), "repos", "expected a list"),
    ("repo dup", setter("repos", 1, "name", value="kernelci-api"), "repos[1].name",
     "duplicate repo name"),
    ("repo env clash", setter("repos", 1, "name", value="kernelci_api"), "repos[1].name",
     "KCISTAGE_REPO_KERNELCI_API_DIR"),
    ("repo bad name", setter("repos", 0, "name", value="../x"), "repos[0].name",
     "expected a short name"),
    ("repo no github", deleter("repos", 0, "github"), "repos[0].github", "missing"),
    ("repo github shape", setter("repos", 0, "github", value="kernelci-api"), "repos[0].github",
     "owner/name"),
    ("repo github url", setter("repos", 0, "github", value="https://github.com/a/b"),
     "repos[0].github", "owner/name"),
    ("staging equals base", setter("repos", 0, "staging_branch", value="main"),
     "repos[0].staging_branch", "must differ from base"),
    ("bad branch", setter("repos", 0, "base", value="-main"), "repos[0].base", "branch name"),
    ("step dup", setter("steps", 2, "name", value="api"), "steps[2].name",
     "duplicate step name"),
    ("step no name", deleter("steps", 1, "name"), "steps[1].name", "missing"),
    ("step both", setter("steps", 1, "drain", value={"url": "http://x/count"}), "steps[1]",
     "exactly one of run, drain, probe, kernelci, got run and drain"),
    ("step neither", deleter("steps", 1, "run"), "steps[1]",
     "exactly one of run, drain, probe, kernelci, got none"),
    ("probe and run", setter("steps", 1, "probe", value={"url": "http://x/"}), "steps[1]",
     "exactly one of run, drain, probe, kernelci, got run and probe"),
    ("probe no url", setter("steps", 0, value={"name": "up", "probe": {"expect": 200}}),
     "steps[0].probe.url", "missing"),
    ("probe status", setter("steps", 0, value={"name": "up", "probe": {"url": "http://x/",
                                                                         "expect": 999}}),
     "steps[0].probe.expect", "HTTP status"),
    ("probe stable", setter("steps", 0, value={"name": "up", "probe": {
        "url": "http://x/", "stable": "5m", "within": "5m"}}), "steps[0].probe.within",
     "longer than stable"),
    ("probe key", setter("steps", 0, value={"name": "up", "probe": {"url": "http://x/",
                                                                      "every": "1s"}}),
     "steps[0].probe.every", "unknown key"),
    ("probe cwd", setter("steps", 0, value={"name": "up", "probe": {"url": "http://x/"},
                                            "cwd": "kernelci-api"}), "steps[0].cwd",
     "a probe step runs no command"),
    ("run string", setter("steps", 1, "run", value="docker compose up"), "steps[1].run",
     "must be an argv list, not a string"),
    ("run empty", setter("steps", 1, "run", value=[]), "steps[1].run", "must not be empty"),
    ("run number word", setter("steps", 1, "run", value=["sleep", 10]), "steps[1].run[1]",
     "quote it"),
    ("notify string", setter("notify", "on_failure", value="mail root"), "notify.on_failure",
     "must be an argv list, not a string"),
    ("cwd unknown repo", setter("steps", 1, "cwd", value="kernelci-core"), "steps[1].cwd",
     "unknown repo 'kernelci-core'"),
    ("cwd on drain", setter("steps", 0, "cwd", value="kernelci-api"), "steps[0].cwd",
     "a drain step runs no command"),
    ("paths unknown repo", setter("steps", 1, "paths", value={"kernelci-core": ["a/**"]}),
     "steps[1].paths.kernelci-core", "unknown repo"),
    ("paths string", setter("steps", 1, "paths", value={"kernelci-api": "api/**"}),
     "steps[1].paths.kernelci-api", "expected a list of patterns"),
    ("paths list", setter("steps", 1, "paths", value=["api/**"]), "steps[1].paths",
     "expected a mapping"),
    ("paths empty", setter("steps", 1, "paths", value={}), "steps[1].paths", "at least one repo"),
    ("pattern empty list", setter("steps", 1, "paths", value={"kernelci-api": []}),
     "steps[1].paths.kernelci-api", "at least one pattern"),
    ("pattern not str", setter("steps", 1, "paths", value={"kernelci-api": ["a", 3]}),
     "steps[1].paths.kernelci-api[1]", "expected a string"),
    ("pattern invalid", setter("steps", 1, "paths", value={"kernelci-api": ["api/**", "!"]}),
     "steps[1].paths.kernelci-api[1]", "invalid pattern '!'"),
    ("api_url scheme", setter("github", "api_url", value="api.github.com"), "github.api_url",
     "http(s) URL"),
    ("api_url ftp", setter("github", "api_url", value="ftp://x"), "github.api_url", "http(s)"),
    ("drain url", setter("steps", 0, "drain", "url", value="file:///x"), "steps[0].drain.url",
     "http(s) URL"),
    ("drain no url", deleter("steps", 0, "drain", "url"), "steps[0].drain.url", "missing"),
    ("drain params list", setter("steps", 0, "drain", "params", value=["a"]),
     "steps[0].drain.params", "expected a mapping"),
    ("drain param nested", setter("steps", 0, "drain", "params", value={"kind": ["job"]}),
     "steps[0].drain.params.kind", "text or number"),
    ("users not list", setter("trust", "users", value="nuclearcat"), "trust.users",
     "expected a list"),
    ("user int", setter("trust", "admins", value=["ok", 1234]), "trust.admins[1]",
     "expected a string"),
    ("user bad", setter("trust", "maintainers", value=["@a-wai"]), "trust.maintainers[0]",
     "GitHub login"),
    ("token_env bad", setter("github", "token_env", value="GITHUB TOKEN"), "github.token_env",
     "environment variable"),
    ("login newline", setter("trust", "users", value=["ok\n"]), "trust.users[0]",
     "GitHub login"),
    ("bot with @", setter("github", "bot", value="@kcibot"), "github.bot", "without @"),
    ("skip_label empty", setter("trust", "skip_label", value=""), "trust.skip_label",
     "must not be empty"),
    ("state_file type", setter("state_file", value=5), "state_file", "expected a string"),
    ("steps not list", setter("steps", value={"a": 1}), "steps", "expected a list"),
    ("step not mapping", setter("steps", 1, value="api"), "steps[1]", "expected a mapping"),
]


@pytest.mark.parametrize("change,key,problem", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_error_names_file_and_key(tmp_path: Path, change, key: str, problem: str) -> None:
    path = write(tmp_path, edit(change))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: {key}: "), message
    assert problem in message
    assert "\n" not in message
    assert info.value.exit_code == 2


FILE_ERRORS: list[tuple[str, str, str]] = [
    ("bad yaml", "repos:\n  - name: a\n    github: [x\n", "line 4, column 1: YAML: a [list] not closed"),
    ("tab yaml", "repos:\n\t- a\n", "line 2, column 1: YAML: a tab character: indent with spaces"),
    ("duplicate key", "history: 3\nhistory: 4\n", "line 2, column 1: YAML: duplicate key 'history'"),
    ("top list", "- a\n- b\n", "expected a mapping of settings at the top level, got a list"),
    ("top scalar", "hello\n", "top level"),
    ("empty", "", "top level, got nothing"),
]


@pytest.mark.parametrize("text,problem", [e[1:] for e in FILE_ERRORS],
                         ids=[e[0] for e in FILE_ERRORS])
def test_file_level_errors(tmp_path: Path, text: str, problem: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: ")
    assert problem in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nothere\.yaml: no such file"):
        load_config(tmp_path / "nothere.yaml")


def test_unreadable_file(tmp_path: Path) -> None:
    path = write(tmp_path, BASE)
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running as root: chmod 0 does not stop reading")
        with pytest.raises(ConfigError, match=r"config\.yaml: cannot read: Permission denied"):
            load_config(path)
    finally:
        path.chmod(0o644)


def test_directory_is_not_a_config(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path)


def test_defaults(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, BASE))
    assert cfg.path == (tmp_path / "config.yaml").resolve()
    assert cfg.github.api_url == "https://api.github.com"
    assert cfg.github.token_env == "GITHUB_TOKEN" and cfg.github.token_file is None
    assert cfg.github.bot == "kcibot" and cfg.github.status_context == "kcistage/staging"
    assert cfg.state_file == Path("/var/lib/kcistage/state.json")
    assert cfg.workdir == Path("/var/lib/kcistage/work")
    assert cfg.schedule == Schedule()
    assert cfg.schedule.full_interval == timedelta(hours=6)
    assert cfg.schedule.settle == timedelta(minutes=5)
    assert cfg.schedule.throttle == timedelta(minutes=30)
    assert cfg.trust.users == () and cfg.trust.min_permission is None
    assert cfg.trust.skip_label == "staging-skip"
    assert cfg.history == 500 and cfg.notify.on_failure is None
    api = cfg.repo("kernelci-api")
    assert api.url == "https://github.com/kernelci/kernelci-api.git"
    assert (api.base, api.staging_branch, api.push) == ("main", "staging.kernelci.org", False)
    drain, step_api, pipeline = cfg.steps
    assert drain.drain == Drain(url="http://127.0.0.1:9/count") and drain.run is None
    assert drain.drain.on_timeout == "fail" and drain.drain.timeout == timedelta(minutes=30)
    assert step_api.run == ("docker", "compose", "up") and step_api.cwd == "kernelci-api"
    assert step_api.timeout == timedelta(hours=1) and step_api.retries == 0
    assert step_api.cycles == ("partial", "full") and step_api.paths is None
    assert pipeline.timeout == timedelta(minutes=20) and pipeline.cwd is None


def test_full_example_values(tmp_path: Path) -> None:
    data = edit(lambda d: None)
    data.update({
        "github": {"api_url": "http://127.0.0.1:8080/", "bot": "stagebot"},
        "schedule": {"settle": "0s", "throttle": "0.2s", "max_restarts": 0,
                     "full_when_unchanged": False},
        "trust": {"users": ["10ne1", "JenySadadia"], "min_permission": "maintain"},
        "history": 3,
        "notify": {"on_failure": ["mail", "-s", "staging failed", "root"]},
    })
    data["steps"][0]["drain"].update({"params": {"kind": "job", "state": "running", "n": 3,
                                                 "deep": True},
                                      "interval": "0.2s", "on_timeout": "proceed"})
    data["steps"][1].update({"paths": {"kernelci-api": ["api/**", "docker-compose.yaml"]},
                             "cycles": ["full", "partial", "full"]})
    data["steps"][2]["cycles"] = ["full"]
    cfg = load_config(write(tmp_path, data))
    assert cfg.github.api_url == "http://127.0.0.1:8080" and cfg.github.bot == "stagebot"
    assert cfg.schedule.settle == timedelta(0)
    assert cfg.schedule.throttle == timedelta(seconds=0.2)
    assert cfg.schedule.full_when_unchanged is False and cfg.schedule.max_restarts == 0
    assert cfg.trust.users == ("10ne1", "JenySadadia")  # kept as written
    assert cfg.trust.min_permission == "maintain" and cfg.history == 3
    assert cfg.notify.on_failure == ("mail", "-s", "staging failed", "root")
    drain = cfg.steps[0].drain
    assert drain.params == (("kind", "job"), ("state", "running"), ("n", "3"), ("deep", "true"))
    assert drain.interval == timedelta(seconds=0.2) and drain.on_timeout == "proceed"
    assert cfg.steps[1].paths == (("kernelci-api", ("api/**", "docker-compose.yaml")),)
    assert cfg.steps[1].cycles == ("partial", "full")
    assert cfg.steps[2].cycles == ("full",)
    assert all(isinstance(s, Step) for s in cfg.steps)


def test_probe_values_and_defaults(tmp_path: Path) -> None:
    data = edit(lambda d: None)
    data["steps"] += [{"name": "api-up", "probe": {"url": "http://127.0.0.1:9/latest/"}},
                      {"name": "pipe-up", "probe": {"url": "http://127.0.0.1:9/", "expect": 404,
                                                    "stable": "0s", "interval": "2s",
                                                    "within": "90s"}}]
    cfg = load_config(write(tmp_path, data))
    default, custom = cfg.steps[-2].probe, cfg.steps[-1].probe
    assert default == Probe(url="http://127.0.0.1:9/latest/") and cfg.steps[-2].run is None
    assert (default.expect, default.stable, default.interval, default.within) == \
        (200, timedelta(seconds=60), timedelta(seconds=10), timedelta(minutes=5))
    assert (custom.expect, custom.stable, custom.interval, custom.within) == \
        (404, timedelta(0), timedelta(seconds=2), timedelta(seconds=90))


def test_null_sections_mean_defaults(tmp_path: Path) -> None:
    text = yaml.safe_dump(BASE) + "github:\nschedule:\ntrust:\nnotify:\n"
    cfg = load_config(write(tmp_path, text))
    assert cfg.schedule == Schedule() and cfg.github.api_url == "https://api.github.com"


def test_relative_paths_resolve_against_config_folder(tmp_path: Path) -> None:
    folder = tmp_path / "etc" / "kcistage"
    folder.mkdir(parents=True)
    data = edit(lambda d: None)
    data.update({"state_file": "state/state.json", "workdir": "../work",
                 "github": {"token_file": "secret/token"}})
    data["repos"][0]["url"] = "repos/api.git"
    data["repos"][1]["url"] = "git@github.com:kernelci/kernelci-pipeline.git"
    data["steps"][1]["cwd"] = "./scripts"
    data["steps"][2]["cwd"] = "/opt/pipeline"
    path = write(folder, data)
    elsewhere = tmp_path / "other"
    elsewhere.mkdir()
    old = os.getcwd()
    os.chdir(elsewhere)  # the process's folder must not matter
    try:
        cfg = load_config(Path(os.path.relpath(path)))
    finally:
        os.chdir(old)
    assert cfg.state_file == folder / "state" / "state.json"
    assert cfg.workdir == tmp_path / "etc" / "work"
    assert cfg.github.token_file == folder / "secret" / "token"
    assert cfg.repos[0].url == str(folder / "repos" / "api.git")
    assert cfg.repos[1].url == "git@github.com:kernelci/kernelci-pipeline.git"
    assert cfg.steps[1].cwd == str(folder / "scripts")
    assert cfg.steps[2].cwd == "/opt/pipeline"
    assert cfg.path == path.resolve()
    assert cfg.steps[1].run == ("docker", "compose", "up")  # argv is never rewritten


def test_url_with_scheme_kept(tmp_path: Path) -> None:
    data = edit(setter("repos", 0, "url", value="file:///srv/git/api.git"))
    assert load_config(write(tmp_path, data)).repos[0].url == "file:///srv/git/api.git"


# -- durations ------------------------------------------------------------------------------

# -- token ----------------------------------------------------------------------------------

def test_token_from_env(tmp_path: Path) -> None:
    data = edit(setter("github", "token_env", value="KCI_TEST_TOKEN"))
    cfg = load_config(write(tmp_path, data))
    assert token(cfg, {"KCI_TEST_TOKEN": "  ghp_abc\n"}) == "ghp_abc"


def test_token_from_process_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_env")
    assert token(load_config(write(tmp_path, BASE))) == "ghp_env"


def test_token_file_wins_over_env(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("ghp_file\n")
    cfg = load_config(write(tmp_path, edit(setter("github", "token_file", value="token"))))
    assert token(cfg, {"GITHUB_TOKEN": "ghp_env"}) == "ghp_file"


def test_no_token(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, BASE))
    with pytest.raises(AuthError) as info:
        token(cfg, {"GITHUB_TOKEN": "   "})
    assert str(info.value) == (
        f"no GitHub token: set $GITHUB_TOKEN or github.token_file in {cfg.path}")


def test_missing_token_file_named_unless_the_variable_is_set(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, edit(setter("github", "token_file", value="missing"))))
    with pytest.raises(AuthError) as info:
        token(cfg, {})
    assert str(tmp_path / "missing") in str(info.value) and "$GITHUB_TOKEN" in str(info.value)
    # outside the systemd unit the credential file is absent: the variable stands in
    assert token(cfg, {"GITHUB_TOKEN": "ghp_env"}) == "ghp_env"


def test_unreadable_token_file_is_an_error_even_with_the_variable(tmp_path: Path) -> None:
    (tmp_path / "token").mkdir()  # exists but cannot be read as a file
    cfg = load_config(write(tmp_path, edit(setter("github", "token_file", value="token"))))
    with pytest.raises(AuthError) as info:
        token(cfg, {"GITHUB_TOKEN": "ghp_env"})
    assert str(tmp_path / "token") in str(info.value) and "ghp_env" not in str(info.value)


def test_empty_token_file(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("\n")
    cfg = load_config(write(tmp_path, edit(setter("github", "token_file", value="token"))))
    with pytest.raises(AuthError, match="is empty"):
        token(cfg, {})

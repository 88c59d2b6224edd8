"""The shipped config.yaml: it loads, describes the real staging, and plans the right steps."""

from __future__ import annotations

import configparser
from pathlib import Path

import pytest

from kcistage.core.settings import Config
from kcistage.core.step_filter import plan_steps
from kcistage.shell.config import load_config

CONFIG = Path(__file__).resolve().parents[1] / "config.yaml"
# kernelci-deploy's data/staging.ini: the users the old staging script merged PRs from.
STAGING_INI = Path(__file__).resolve().parent / "fixtures" / "staging.ini"
REPOS = ("kernelci-core", "kernelci-api", "kernelci-pipeline")


@pytest.fixture(scope="module")
def cfg() -> Config:
    return load_config(CONFIG)


def running(cfg: Config, cycle: str, changed: dict[str, list[str]] | None) -> set[str]:
    return {p.name for p in plan_steps(cfg.steps, cycle, changed) if p.run}


def test_the_three_repos(cfg: Config) -> None:
    assert tuple(r.name for r in cfg.repos) == REPOS
    for repo in cfg.repos:
        assert repo.github == f"kernelci/{repo.name}"
        assert repo.url == f"https://github.com/kernelci/{repo.name}.git"
        assert (repo.base, repo.staging_branch, repo.push) == ("main", "staging.kernelci.org", True)


def test_deployment_settings(cfg: Config) -> None:
    assert cfg.github.api_url == "https://api.github.com"
    assert cfg.github.token_file == Path("/run/credentials/kcistage.service/github-token")
    assert cfg.state_file == Path("/var/lib/kcistage/state.json")
    assert cfg.workdir == Path("/var/lib/kcistage/work")
    assert cfg.trust.skip_label == "staging-skip"
    assert set(cfg.trust.admins) == {"nuclearcat", "JenySadadia"}
    assert {"a-wai", "broonie", "laura-nao", "bhcopeland", "padovan", "patersonc"} <= set(
        cfg.trust.maintainers)


def test_credential_name_matches_the_unit(cfg: Config) -> None:
    unit = (CONFIG.parent / "systemd" / "kcistage.service").read_text()
    assert "LoadCredential=github-token:" in unit
    assert cfg.github.token_file.name == "github-token"
    assert cfg.github.token_file.parent.name == "kcistage.service"


def test_the_test_kernel_is_verified_through_kernelci(cfg: Config) -> None:
    unit = (CONFIG.parent / "systemd" / "kcistage.service").read_text()
    step = next(s for s in cfg.steps if s.name == "test-kernel")
    kc = step.kernelci
    assert kc is not None and step.cycles == ("full",)
    assert (kc.api, kc.pipeline) == ("https://staging.kernelci.org:9000",
                                     "https://staging.kernelci.org:9100")
    assert kc.kernel == "pinned" and kc.tree.branch == "staging-next"
    assert kc.token_file is not None and kc.token_file.parent.name == "kcistage.service"
    assert f"LoadCredential={kc.token_file.name}:/etc/kcistage/{kc.token_file.name}" in unit


def test_probes_follow_the_restarts(cfg: Config) -> None:
    names = [s.name for s in cfg.steps]
    for probe, after in (("api-healthy", "api-up"), ("pipeline-healthy", "pipeline-up")):
        step = cfg.steps[names.index(probe)]
        assert names.index(probe) == names.index(after) + 1 and step.probe is not None
        assert step.paths == cfg.steps[names.index(after)].paths  # runs whenever it restarts
        assert step.probe.expect == 200 and step.probe.stable.total_seconds() == 60
    assert cfg.steps[names.index("api-healthy")].probe.url.endswith(":9000/latest/")  # type: ignore[union-attr]


def test_every_staging_ini_user_is_trusted(cfg: Config) -> None:
    parser = configparser.ConfigParser()
    assert parser.read(STAGING_INI) == [str(STAGING_INI)]
    users = parser["DEFAULT"]["users"].split()
    assert len(users) > 40
    trusted = {u.lower() for u in cfg.trust.users + cfg.trust.maintainers + cfg.trust.admins}
    assert [u for u in users if u.lower() not in trusted] == []


def test_steps_are_argv_lists_in_repo_checkouts(cfg: Config) -> None:
    for step in cfg.steps:
        assert step.cwd in (None, *REPOS), step.name
        if step.run is not None:
            assert isinstance(step.run, tuple) and len(step.run) > 1
        assert step.timeout.total_seconds() <= 4 * 3600  # fits the unit's TimeoutStartSec
    drain = next(s.drain for s in cfg.steps if s.drain is not None)
    assert drain.url == "https://staging.kernelci.org:9000/latest/count"
    assert dict(drain.params) == {"kind": "job", "state": "running"}
    assert drain.on_timeout == "proceed"


def test_image_builds_use_kci_with_the_staging_prefix(cfg: Config) -> None:
    builds = [s for s in cfg.steps if s.run and s.run[:3] == ("./kci", "docker", "build")]
    assert len(builds) >= 3
    for step in builds:
        assert step.cwd == "kernelci-core"
        assert "--push" in step.run and "--prefix=ghcr.io/kernelci/staging-" in step.run


def test_pipeline_config_change_restarts_pipeline_without_builds(cfg: Config) -> None:
    run = running(cfg, "partial", {"kernelci-pipeline": ["config/pipeline.yaml"]})
    assert {"pipeline-pull", "pipeline-down", "pipeline-up", "drain-queue"} <= run
    assert not {n for n in run if n.startswith("build-")}
    assert not {n for n in run if n.startswith("api-")}


def test_api_code_change_rebuilds_api_image_and_restarts(cfg: Config) -> None:
    run = running(cfg, "partial", {"kernelci-api": ["api/main.py"]})
    assert {"build-api-image", "api-pull", "api-down", "api-up"} <= run
    assert "build-pipeline-image" not in run and "test-kernel" not in run


def test_api_compose_change_restarts_only(cfg: Config) -> None:
    run = running(cfg, "partial", {"kernelci-api": ["docker-compose.yaml"]})
    assert {"api-pull", "api-down", "api-up"} <= run
    assert not {n for n in run if n.startswith("build-")}


def test_pipeline_source_change_rebuilds_pipeline_images(cfg: Config) -> None:
    run = running(cfg, "partial", {"kernelci-pipeline": ["src/scheduler.py"]})
    assert {"build-pipeline-image", "build-lava-callback-image", "pipeline-up"} <= run
    assert "build-api-image" not in run and "api-up" not in run


def test_core_package_change_rebuilds_every_service_image(cfg: Config) -> None:
    run = running(cfg, "partial", {"kernelci-core": ["kernelci/api/helper.py"]})
    assert {"build-api-image", "build-pipeline-image", "build-lava-callback-image",
            "api-up", "pipeline-up"} <= run


@pytest.mark.parametrize("changed", [
    {"kernelci-core": ["doc/staging.md", "tests/test_x.py", "config/rootfs/a.yaml"]},
    {"kernelci-api": ["doc/index.md", "kube/api.yaml", "tests/unit.py"]},
    {"kernelci-pipeline": ["doc/x.md", "tools/y.py", "kube/z.yaml"]},
    {},
])
def test_docs_only_run_nothing_but_pathless_steps(cfg: Config, changed) -> None:
    pathless = {s.name for s in cfg.steps if s.paths is None and "partial" in s.cycles}
    assert running(cfg, "partial", changed) == pathless


def test_full_only_steps_never_run_in_partial(cfg: Config) -> None:
    full_only = {s.name for s in cfg.steps if s.cycles == ("full",)}
    assert {"test-kernel", "build-compiler-images"} <= full_only
    everything = {r: ["a", "api/x", "src/x", "config/x", "kernelci/x"] for r in REPOS}
    for changed in (None, {}, everything):
        assert not running(cfg, "partial", changed) & full_only


def test_first_deployment_and_full_cycle(cfg: Config) -> None:
    names = {s.name for s in cfg.steps}
    partial_ok = {s.name for s in cfg.steps if "partial" in s.cycles}
    assert running(cfg, "partial", None) == partial_ok
    assert running(cfg, "full", {}) == names
    assert running(cfg, "full", None) == names

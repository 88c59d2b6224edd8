"""A `kernelci` step in config.yaml: defaults, every key checked, one-line errors naming the key."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from kcistage.core.settings import KernelCI, KernelTree
from kcistage.errors import ConfigError
from kcistage.shell.config import load_config

MINIMAL: dict[str, Any] = {
    "api": "http://127.0.0.1:9000/", "pipeline": "http://127.0.0.1:9100",
    "token_env": "KCI_TOKEN",
    "tree": {"url": "https://github.com/kernelci/linux.git", "branch": "staging-next"},
}


def load(tmp_path: Path, kernelci: Any, **step: Any) -> Any:
    data = {"repos": [{"name": "kernelci-api", "github": "kernelci/kernelci-api"}],
            "steps": [{"name": "test-kernel", "kernelci": kernelci, **step}]}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(data))
    return load_config(tmp_path / "config.yaml").steps[0]


def test_defaults_and_trailing_slashes(tmp_path: Path) -> None:
    step = load(tmp_path, MINIMAL)
    assert step.run is None and step.drain is None
    assert step.kernelci == KernelCI(
        api="http://127.0.0.1:9000", pipeline="http://127.0.0.1:9100",
        tree=KernelTree("https://github.com/kernelci/linux.git", "staging-next"),
        token_env="KCI_TOKEN", kernel="pinned", interval=timedelta(seconds=60),
        timeout=timedelta(hours=4), max_regressions=0)


def test_every_key(tmp_path: Path) -> None:
    k = load(tmp_path, {**MINIMAL, "token_file": "kci-token", "jobfilter": ["kbuild-gcc-12-x86+"],
                        "platformfilter": ["qemu-x86", "bcm2711-rpi-4-b"], "kernel": "tip",
                        "interval": "5m", "timeout": "6h", "max_regressions": 3},
             cycles=["full"]).kernelci
    assert k.token_file == tmp_path.resolve() / "kci-token" and k.token_env == "KCI_TOKEN"
    assert k.jobfilter == ("kbuild-gcc-12-x86+",)
    assert k.platformfilter == ("qemu-x86", "bcm2711-rpi-4-b")
    assert (k.kernel, k.interval, k.timeout, k.max_regressions) == (
        "tip", timedelta(minutes=5), timedelta(hours=6), 3)


def without(key: str) -> dict[str, Any]:
    return {k: v for k, v in MINIMAL.items() if k != key}


K = "steps[0].kernelci"
ERRORS = [
    ({**MINIMAL, "url": "x"}, f"{K}.url: unknown key"),
    ({**MINIMAL, "jobfilters": []}, f"{K}.jobfilters: unknown key (did you mean jobfilter?)"),
    (without("api"), f"{K}.api: missing (required)"),
    (without("pipeline"), f"{K}.pipeline: missing (required)"),
    (without("tree"), f"{K}.tree: missing (required)"),
    (without("token_env"), f"{K}: needs token_file or token_env"),
    ({**MINIMAL, "api": "staging:9000"}, f"{K}.api: expected an http(s) URL"),
    ({**MINIMAL, "pipeline": "ftp://x"}, f"{K}.pipeline: expected an http(s) URL"),
    ({**MINIMAL, "token_env": "KCI TOKEN"}, f"{K}.token_env: expected an environment variable"),
    ({**MINIMAL, "tree": {"url": "https://x/linux.git"}}, f"{K}.tree.branch: missing"),
    ({**MINIMAL, "tree": {"url": "u", "branch": "-x"}}, f"{K}.tree.branch: expected a branch"),
    ({**MINIMAL, "tree": "https://x/linux.git"}, f"{K}.tree: expected a mapping"),
    ({**MINIMAL, "jobfilter": [f"job{i}" for i in range(9)]},
     f"{K}.jobfilter: at most 8 names (the pipeline's limit), got 9"),
    ({**MINIMAL, "platformfilter": [f"p{i}" for i in range(10)]},
     f"{K}.platformfilter: at most 8 names"),
    ({**MINIMAL, "jobfilter": "kbuild"}, f"{K}.jobfilter: expected a list of names"),
    ({**MINIMAL, "jobfilter": ["a b"]}, f"{K}.jobfilter[0]: expected a job or platform name"),
    ({**MINIMAL, "platformfilter": ["ok", 3]}, f"{K}.platformfilter[1]: expected a string"),
    ({**MINIMAL, "kernel": "latest"}, f"{K}.kernel: expected one of pinned|tip"),
    ({**MINIMAL, "interval": "0s"}, f"{K}.interval: must be longer than 0"),
    ({**MINIMAL, "timeout": "4 hours"}, f"{K}.timeout: expected a duration"),
    ({**MINIMAL, "max_regressions": -1}, f"{K}.max_regressions: must be at least 0"),
    ({**MINIMAL, "max_regressions": True}, f"{K}.max_regressions: expected an integer"),
    ("yes", f"{K}: expected a mapping"),
]


@pytest.mark.parametrize(("kernelci", "message"), ERRORS)
def test_error_names_the_key(tmp_path: Path, kernelci: Any, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, kernelci)
    assert str(info.value).startswith(f"{tmp_path / 'config.yaml'}: "), str(info.value)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_exactly_one_kind_and_no_cwd(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"steps\[0\]: step 'test-kernel' needs exactly one of "
                       r"run, drain, probe, kernelci, got run and kernelci"):
        load(tmp_path, MINIMAL, run=["true"])
    with pytest.raises(ConfigError, match=r"steps\[0\].cwd: a kernelci step runs no command"):
        load(tmp_path, MINIMAL, cwd="kernelci-api")

"""Every path kcistage knows by default, its environment override, and the files it derives.

One place for them, so the CLI, the config defaults, the docs and the systemd unit agree:

- the config file: `--config`, else `$KCISTAGE_CONFIG`, else `./config.yaml` when it exists,
  else `/etc/kcistage/config.yaml`;
- the state file and the workdir (config keys `state_file`, `workdir`) under the unit's
  StateDirectory `/var/lib/kcistage`;
- next to the state file: the history of finished deployments, its run lock, the rate-limit
  backoff and figures, and the operator controls;
- the webhook poke folder (config key `serve.poke_dir`) under /run/kcistage;
- under the workdir: the git checkouts and the step logs of each deployment.

Pure: paths are computed, never touched (the caller says whether ./config.yaml exists).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

CONFIG_ENV = "KCISTAGE_CONFIG"
LOCAL_CONFIG = Path("config.yaml")
DEFAULT_CONFIG = Path("/etc/kcistage/config.yaml")
DEFAULT_STATE_FILE = Path("/var/lib/kcistage/state.json")
DEFAULT_WORKDIR = Path("/var/lib/kcistage/work")
DEFAULT_POKE_DIR = Path("/run/kcistage/pokes")  # serve.poke_dir: kcistage-serve.service's RuntimeDirectory


def config_path(option: str | None, environ: Mapping[str, str], local_exists: bool) -> tuple[Path, str]:
    """The config file to read and where that choice came from (for error messages).

    `option` is --config's value (None when not given); `local_exists` whether ./config.yaml
    exists in the current folder.
    """
    if option:
        return Path(option), "--config"
    if environ.get(CONFIG_ENV):
        return Path(environ[CONFIG_ENV]), f"${CONFIG_ENV}"
    if local_exists:
        return LOCAL_CONFIG, "./config.yaml"
    return DEFAULT_CONFIG, "the default"


def beside_state(state_file: Path, suffix: str) -> Path:
    """A file kept next to the state file: `state.json.<suffix>`."""
    return state_file.with_name(f"{state_file.name}.{suffix}")


def history_file(state_file: Path) -> Path:
    """The finished deployments a run's decisions no longer read: one JSON record a line, oldest first."""
    return beside_state(state_file, "history")


def lock_file(state_file: Path) -> Path:
    """The run lock held by tick and deploy."""
    return beside_state(state_file, "lock")


def backoff_file(state_file: Path) -> Path:
    """GitHub's rate-limit reset time, kept outside the state document."""
    return beside_state(state_file, "backoff")


def rate_file(state_file: Path) -> Path:
    """GitHub's rate-limit figures as the last run saw them (for `serve`'s metrics)."""
    return beside_state(state_file, "rate")


def controls_file(state_file: Path) -> Path:
    """The operator controls (pause, exclusions by hand), writable while a deployment runs."""
    return beside_state(state_file, "controls")


def controls_lock(state_file: Path) -> Path:
    """The controls file's own short lock (never the run lock)."""
    return beside_state(state_file, "controls.lock")


def checkouts(workdir: Path) -> Path:
    """The folder of the repos' staging checkouts (`repos/<name>`)."""
    return workdir / "repos"


def logs(workdir: Path) -> Path:
    """The folder of the step logs (`logs/<deployment id>/<step>.log`)."""
    return workdir / "logs"


def log_folder(workdir: Path, deploy_id: int) -> Path:
    """The step logs of one deployment."""
    return logs(workdir) / str(int(deploy_id))


def log_path(workdir: Path, deploy_id: int, step: str) -> Path:
    """Where a step's output in a deployment is logged."""
    return log_folder(workdir, deploy_id) / f"{step}.log"


APP_TOKENS = "github-app-tokens.json"  # a GitHub App's installation tokens between runs


def app_token_file(environ: Mapping[str, str], poke_dir: Path) -> Path:
    """Where a GitHub App's installation tokens are kept: the unit's runtime directory
    ($RUNTIME_DIRECTORY, the first when systemd lists several), else `app/` beside the poke
    folder (/run/kcistage/app: the same folder, for a run by hand). Never beside the state."""
    runtime = (environ.get("RUNTIME_DIRECTORY") or "").split(":")[0]
    return (Path(runtime) if runtime else Path(poke_dir).parent / "app") / APP_TOKENS

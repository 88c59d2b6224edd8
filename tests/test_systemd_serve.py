"""The web units: kcistage-serve.service (hardened, read-only but for the pokes) and
kcistage-poke.path (a poke starts the tick), consistent with the shipped config."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from kcistage.shell.config import load_config
from tests.test_systemd import SERVICE, UNITS, overall_exposure, sections, settings

SERVE = UNITS / "kcistage-serve.service"
PATH = UNITS / "kcistage-poke.path"
CONFIG = Path(__file__).resolve().parents[1] / "config.yaml"


def test_systemd_analyze_verifies_the_web_units(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (.ci/run installs it)")
    for unit in (SERVE, SERVICE):  # verify wants ExecStart's binary to exist
        (tmp_path / unit.name).write_text(unit.read_text().replace(
            "ExecStart=/usr/local/bin/kcistage ", "ExecStart=/bin/true "))
    shutil.copy(PATH, tmp_path / PATH.name)
    proc = subprocess.run([analyze, "verify", SERVE.name, PATH.name, SERVICE.name],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert [line for line in output.splitlines() if "kcistage" in line] == [], output


def test_serve_security_exposure_is_at_most_1_0(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (.ci/run installs it)")
    assert overall_exposure(analyze, SERVE) <= 1.0


def test_serve_runs_as_the_tick_user_reading_the_state_writing_only_pokes() -> None:
    s, tick = settings(SERVE), settings(SERVICE)
    cfg = load_config(CONFIG)
    assert sections(SERVE) == ["Unit", "Service", "Install"]
    assert s["ExecStart"] == ["/usr/local/bin/kcistage --config /etc/kcistage/config.yaml serve"]
    assert (s["User"], s["Group"]) == (tick["User"], tick["Group"])
    assert "StateDirectory" not in s  # that would make the state folder writable
    assert s["ProtectSystem"] == ["strict"]
    assert s["ReadOnlyPaths"] == [str(cfg.state_file.parent)]
    assert s["ReadWritePaths"] == [str(cfg.serve.poke_dir)]
    assert s["RuntimeDirectory"] == ["kcistage kcistage/pokes"]
    assert s["RuntimeDirectoryPreserve"] == ["yes"]
    credential = s["LoadCredential"][0].split(":")[0]
    assert cfg.serve.webhook_secret_file == Path(f"/run/credentials/{SERVE.name}/{credential}")
    for key in ("NoNewPrivileges", "PrivateTmp", "PrivateDevices", "ProtectHome",
                "MemoryDenyWriteExecute", "RestrictSUIDSGID", "LockPersonality"):
        assert s[key] == ["yes"], key
    assert s["CapabilityBoundingSet"] == [""]
    assert "docker" not in " ".join(s.get("SupplementaryGroups", []))


def test_a_poke_starts_the_tick_and_the_tick_may_remove_pokes() -> None:
    p, tick = settings(PATH), settings(SERVICE)
    cfg = load_config(CONFIG)
    assert sections(PATH) == ["Unit", "Path", "Install"]
    assert p["DirectoryNotEmpty"] == [str(cfg.serve.poke_dir)]
    assert p["Unit"] == [SERVICE.name]
    assert f"-{cfg.serve.poke_dir}" in tick["ReadWritePaths"]

"""The deployment files (issue 17, item 4), checked without a container engine.

The systemd unit goes through `systemd-analyze verify`; the compose file's structure is read
as YAML; every RUN command of the Dockerfile runs here with the image's paths moved into a
temporary directory (its dependencies come from this test's environment: pip only fetches
the build backend, from its cache or the index).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_systemd_unit_verifies_clean_and_is_hardened(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (Debian's systemd package; .ci/run installs it)")
    text = (ROOT / "deploy" / "mailbeacon.service").read_text()
    mailbeacon = Path(sys.executable).with_name("mailbeacon")
    unit = tmp_path / "mailbeacon.service"
    unit.write_text(text.replace("/opt/mailbeacon/bin/mailbeacon", str(mailbeacon)))
    done = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "", done.stderr  # a misspelt setting is only a warning: none allowed
    settings = dict(line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#"))
    assert settings["DynamicUser"] == "yes" and settings["ProtectSystem"] == "strict"
    assert settings["StateDirectory"] == "mailbeacon" and settings["NoNewPrivileges"] == "yes"
    assert "--data ${STATE_DIRECTORY}" in settings["ExecStart"]


def test_compose_runs_postgres_two_nodes_and_caddy() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"postgres", "node-a", "node-b", "caddy"}
    for name in ("node-a", "node-b"):
        node = services[name]
        assert node["build"] == "."
        assert node["environment"]["MAILBEACON_DB"].startswith("postgresql://")
        assert node["environment"]["MAILBEACON_DB"].endswith("@postgres:5432/mailbeacon")
        assert node["environment"]["MAILBEACON_BASE_URL"].startswith("https://")
        assert node["depends_on"]["postgres"]["condition"] == "service_healthy"
        assert node["command"][:3] == ["serve", "--node-name", name]
        assert "--trusted-proxy" in node["command"]  # Caddy's X-Forwarded-For names the reader
    caddy = services["caddy"]
    assert {"443:443", "80:80"} <= set(caddy["ports"])
    assert caddy["command"][:2] == ["caddy", "reverse-proxy"]
    assert "node-a:8080" in caddy["command"] and "node-b:8080" in caddy["command"]
    assert set(compose["volumes"]) >= {"postgres", "caddy"}


def _dockerfile() -> tuple[list[str], str]:
    """The Dockerfile's RUN commands (continuations joined) and its whole text."""
    text = (ROOT / "Dockerfile").read_text()
    joined = re.sub(r"\\\n", " ", text)
    return [line[4:].strip() for line in joined.splitlines() if line.startswith("RUN ")], text


def test_dockerfile_is_slim_non_root_with_a_health_check() -> None:
    _, text = _dockerfile()
    assert re.search(r"^FROM python:3\.1\d-slim$", text, re.M)
    assert re.search(r"^USER mailbeacon$", text, re.M)
    assert "HEALTHCHECK" in text and "/healthz" in text


def test_every_run_command_of_the_dockerfile_works(tmp_path: Path) -> None:
    if os.geteuid() != 0 or shutil.which("useradd") is None:
        pytest.skip("the user-creating RUN needs root and shadow's useradd (here under --prefix, not the host's)")
    runs, _ = _dockerfile()
    root = tmp_path / "image"
    (root / "etc").mkdir(parents=True)
    for name in ("passwd", "group", "shadow", "gshadow", "login.defs"):
        if Path("/etc", name).exists():
            shutil.copy(Path("/etc", name), root / "etc" / name)
    src = root / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):  # what the COPY lines bring
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "mailbeacon", src / "mailbeacon", ignore=shutil.ignore_patterns("__pycache__"))
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": os.environ.get("HOME", "/root"),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    for command in runs:
        command = (command.replace("/opt/", f"{root}/opt/").replace("/src", str(src))
                   .replace("/var/lib/", f"{root}/var/lib/"))
        command = re.sub(r"\b(groupadd|useradd) ", rf"\1 --prefix {root} ", command)
        if "/bin/pip install" in command:  # the dependencies are this environment's; pip fetches only the build backend
            venv = root / "opt" / "mailbeacon"
            command = command.replace(f"&& {venv}/bin/pip", f"&& {_reuse_packages(venv)} && {venv}/bin/pip")
        done = subprocess.run(["sh", "-ec", command], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"RUN {command}\n{done.stdout}\n{done.stderr}"
    app = root / "opt" / "mailbeacon" / "bin" / "mailbeacon"
    shown = subprocess.run([str(app), "--version"], capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0 and "mailbeacon" in shown.stdout, shown.stderr
    assert not (src).exists()  # the sources are removed from the image
    assert "mailbeacon:x:10001:10001:" in (root / "etc" / "passwd").read_text()
    home = root / "var" / "lib" / "mailbeacon"
    assert (home.stat().st_uid, home.stat().st_mode & 0o777) == (10001, 0o700)


def _reuse_packages(venv: Path) -> str:
    """A shell step that points the new venv at this environment's packages (a .pth file)."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    ours = sysconfig.get_paths()["purelib"]
    return f"echo {ours} > {venv}/lib/{version}/site-packages/reused.pth"

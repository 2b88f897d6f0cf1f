"""The lower bounds in pyproject.toml stay past releases with known vulnerabilities (issue #12, item 18).

A bound that admits a vulnerable release lets a fresh install pick it (pip keeps an
older copy it already has), so the floor itself is what is checked, and the
installed version with it.
"""

from __future__ import annotations

import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"

FIXED = {
    "aiosmtpd": ("1.4.6", "CVE-2024-27305, CVE-2024-34083: SMTP smuggling, STARTTLS injection"),
    "jinja2": ("3.1.6", "CVE-2024-56326, CVE-2025-27516: sandbox escapes (users submit templates)"),
    "starlette": ("0.49.1", "CVE-2024-47874, CVE-2025-54121, CVE-2025-62727: multipart and Range DoS"),
    "python-multipart": ("0.0.18", "CVE-2024-53981: boundary parsing DoS"),
    "cryptography": ("44.0.1", "CVE-2024-26130, CVE-2024-12797: bundled OpenSSL"),
    "h11": ("0.16", "CVE-2025-43859: chunked-encoding request smuggling"),
}


def _floors() -> dict[str, Version]:
    project = tomllib.loads(PYPROJECT.read_text("utf-8"))
    floors: dict[str, Version] = {}
    for line in [*project["project"]["dependencies"], *project["build-system"]["requires"]]:
        requirement = Requirement(line)
        for spec in requirement.specifier:
            if spec.operator == ">=":
                floors[requirement.name.lower()] = Version(spec.version)
    return floors


@pytest.mark.parametrize("package", sorted(FIXED))
def test_lower_bound_excludes_vulnerable_releases(package: str) -> None:
    fixed, why = FIXED[package]
    floor = _floors().get(package)
    assert floor is not None, f"pyproject.toml pins no lower bound for {package} ({why})"
    assert floor >= Version(fixed), f"{package}>={floor} admits releases before {fixed}: {why}"
    assert Version(version(package)) >= Version(fixed), f"the installed {package} is older than {fixed}: {why}"


def test_build_backend_floor_excludes_vulnerable_setuptools() -> None:
    # CVE-2025-47273: path traversal in setuptools' PackageIndex, fixed in 78.1.1
    assert _floors()["setuptools"] >= Version("78.1.1")

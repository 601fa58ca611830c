"""mypy finds no errors in netc (configuration: `[tool.mypy]` in pyproject.toml).

The repository keeps one folder per pipeline stage, mapped onto the single import package `netc`
by pyproject's `package-dir`; mypy does not read that mapping (nor setuptools' editable-install
finder), so the test lays the same package out as symbolic links in a temporary folder and checks
`-p netc` there.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from mypy import api

ROOT = Path(__file__).resolve().parent.parent


def package_tree(into: Path) -> Path:
    """`into/netc/...` as the installed package sees it, built from pyproject's package-dir."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    mapping = config["tool"]["setuptools"]["package-dir"]
    top = into / "netc"
    top.mkdir(parents=True)
    for entry in (ROOT / mapping["netc"]).iterdir():
        if entry.name != "__pycache__":
            (top / entry.name).symlink_to(entry)
    for package, folder in mapping.items():
        if package != "netc":
            (top / package.removeprefix("netc.")).symlink_to(ROOT / folder)
    return into


def test_mypy_finds_no_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(package_tree(tmp_path / "src"))  # mypy finds `-p netc` from here
    argv = ["--config-file", str(ROOT / "pyproject.toml"), "--cache-dir", str(tmp_path / "cache")]
    out, err, status = api.run([*argv, "--no-error-summary", "-p", "netc"])
    assert (out, err, status) == ("", "", 0), out + err

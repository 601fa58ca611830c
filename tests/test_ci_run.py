"""`.ci/run` finds the backports suite of whatever archive a machine's apt sources name."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = (ROOT / ".ci" / "run").read_text()
FUNCTION = re.search(r"^backports_source\(\) \{\n.*?^\}\n", SCRIPT, re.M | re.S).group(0)


def backports(apt: Path, codename: str = "bookworm") -> str:
    proc = subprocess.run(
        ["bash", "-c", f'{FUNCTION}\ncodename={codename}\nbackports_source "$1"', "-", str(apt)],
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout


def test_deb822_sources(tmp_path):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n"
        "Components: main\n\n"
        "Types: deb deb-src\n# a comment\nURIs: http://mirror.example/debian\n"
        "Suites: bookworm bookworm-updates\nComponents: main contrib\n"
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
    )
    assert backports(tmp_path) == (
        "822 Types: deb\n822 URIs: http://mirror.example/debian\n"
        "822 Suites: bookworm-backports\n822 Components: main contrib\n"
        "822 Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
    )


def test_disabled_deb822_stanza_is_skipped(tmp_path):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "x.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm\nComponents: main\n"
        "Enabled: no\n"
    )
    assert backports(tmp_path) == ""


def test_one_line_sources_keep_their_options(tmp_path):
    (tmp_path / "sources.list").write_text(
        "deb http://mirror.example/debian-security bookworm-security main\n"
        "# deb http://old.example/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian bookworm main non-free\n"
    )
    assert backports(tmp_path) == (
        "one deb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian bookworm-backports "
        "main non-free\n"
    )


def test_no_registry_host_is_written_in_the_script():
    assert not re.search(r"https?://", SCRIPT)

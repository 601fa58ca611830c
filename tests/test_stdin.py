"""Standard input is read once, and every command that reads files reads '-' like a file.

`netc compile --verify -` used to compile its input three times and found stdin empty the
second time; the pipeline now reads every source once and carries the text with the result.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = (ROOT / "examples" / "default.net").read_text()
XML = (ROOT / "tests" / "libvirt" / "corpus" / "nat-no-dhcp.xml").read_text()


def netc(*argv: str, stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netc", *argv], input=stdin, capture_output=True, text=True
    )


@pytest.mark.parametrize(
    "argv, expect",
    [
        (("compile", "-"), "table inet netc"),
        (("compile", "--verify", "-"), "table inet netc"),
        (("compile", "--verify", "--target", "iptables", "-"), "*filter"),
        (("verify", "--compile", "-"), "equivalent: A=<nft>"),
    ],
)
def test_commands_read_stdin_once(argv, expect) -> None:
    done = netc(*argv, stdin=DEFAULT)
    assert done.returncode == 0, done.stderr
    assert expect in done.stdout


def test_check_reads_stdin() -> None:
    done = netc("check", "-", stdin=DEFAULT)
    assert done.returncode == 0, done.stderr
    assert "ok: 1 network" in done.stderr


def test_libvirt_xml_on_stdin() -> None:
    compiled = netc("compile", "--verify", "-", stdin=XML)
    assert compiled.returncode == 0, compiled.stderr
    assert "masquerade" in compiled.stdout
    imported = netc("import", "-", stdin=XML)
    assert imported.returncode == 0, imported.stderr
    assert "forward nat" in imported.stdout


def test_errors_in_stdin_point_into_it() -> None:
    done = netc("compile", "--verify", "-", stdin=DEFAULT.replace("forward nat", "forward nta"))
    assert done.returncode == 2 and done.stdout == ""
    assert (
        done.stderr.startswith("<stdin>:5:13: error") and "forward nta" in done.stderr
    )  # the caret line, from stdin's text

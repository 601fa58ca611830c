"""Inputs that once crashed netc or never returned: each now ends in a clear message, exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

NETC = [sys.executable, "-m", "netc"]
XML = """<network>
  <name>n</name>
  <bridge name='virbr9'/>
  <forward mode='nat'/>
  <ip address='192.168.9.1' prefix='{prefix}'/>
</network>
"""


def run(*argv: str, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*NETC, *argv], capture_output=True, text=True, timeout=60, **kwargs)


def assert_refused(done: subprocess.CompletedProcess[str], words: str) -> None:
    assert done.returncode == 2, done.stderr
    assert done.stdout == "" and "Traceback" not in done.stderr
    assert "internal error" not in done.stderr and words in done.stderr, done.stderr


def test_closed_stdin() -> None:
    done = subprocess.run(
        ["sh", "-c", f"exec {sys.executable} -m netc check - <&-"], capture_output=True, text=True
    )
    assert_refused(done, "standard input is closed")


def test_endless_device_is_refused_without_reading_it_again() -> None:
    assert_refused(run("check", "/dev/zero"), "larger than")


def test_huge_prefix_is_shown_short(tmp_path: Path) -> None:
    digits = "1" * 4400
    path = tmp_path / "big.net"
    path.write_text(
        f"network a {{\n bridge br-a\n forward nat\n ip 192.168.1.1/24\n"
        f" deny to 10.0.0.0/{digits}\n}}\n"
    )
    done = run("check", str(path))
    assert_refused(done, "is not an address or prefix")
    assert len(done.stderr) < 1000


def test_xml_digits_that_int_refuses(tmp_path: Path) -> None:
    path = tmp_path / "n.xml"
    path.write_text(XML.format(prefix="\u00b2"))
    assert_refused(run("check", str(path)), "is not a prefix length")
    path.write_text(
        XML.format(prefix="24").replace(
            "<forward mode='nat'/>",
            "<forward mode='nat'><nat><port start='1024' end='6553\u00b2'/></nat></forward>",
        )
    )
    assert_refused(run("check", str(path)), "6553")

"""`netc verify` on the command line: exit codes, output channels, side syntax."""

from __future__ import annotations

import subprocess
import sys

from helpers import FIXTURES, GOLDEN, golden_text

NETC = [sys.executable, "-m", "netc"]


def run(*argv: str):
    return subprocess.run([*NETC, "verify", *argv], capture_output=True, text=True)


def test_equivalent_pair_exits_0():
    g = GOLDEN / "default"
    p = run(str(g / "setup.nft"), f"{g / 'setup.iptables'}+{g / 'setup.ip6tables'}")
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("equivalent:") and p.stderr == ""


def test_difference_exits_1_with_counterexample(tmp_path):
    mutant = tmp_path / "mutant.nft"
    mutant.write_text(
        golden_text("default", "setup.nft").replace(
            "masquerade to :1024-65535", "masquerade to :2000-65535"
        )
    )
    g = GOLDEN / "default"
    p = run(str(mutant), str(g / "setup.iptables"))
    assert p.returncode == 1
    assert "NOT equivalent" in p.stdout and "smallest counterexample 1: forward ipv4" in p.stdout
    assert "A: accept, masquerade ports 2000-65535 at postrouting" in p.stdout


def test_unreadable_input_exits_2_located_no_stdout(tmp_path):
    bad = tmp_path / "bad.nft"
    bad.write_text("table inet t {\n  chain c {\n    iifname x log accept\n  }\n}\n")
    p = run(str(bad), str(FIXTURES / "default.v4.rules"))
    assert p.returncode == 2
    assert p.stdout == ""
    assert p.stderr.strip() == f"{bad}:3:15: error: unsupported statement 'log'"
    assert "Traceback" not in p.stderr
    p = run(str(tmp_path / "missing"), str(bad))
    assert p.returncode == 2 and "cannot read" in p.stderr and p.stdout == ""


def test_spec_only_and_compile_modes(tmp_path):
    g = GOLDEN / "default"
    p = run(str(g / "setup.nft"), "--spec", str(g / "input.net"))
    assert p.returncode == 0, p.stdout + p.stderr
    assert "spec of 1 network(s) holds on A" in p.stdout
    p = run("--compile", str(g / "input.net"))
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.startswith("equivalent:")
    broken = tmp_path / "broken.nft"
    broken.write_text(
        golden_text("default", "setup.nft").replace(
            "\t\tip daddr 192.168.122.0/24 ct state established,related accept\n", ""
        )
    )
    p = run(str(broken), "--spec", str(g / "input.net"))
    assert p.returncode == 1 and "outside -> guest established" in p.stdout


def test_usage_errors_exit_2():
    assert run().returncode == 2
    assert run(str(FIXTURES / "default.nft")).returncode == 2

"""What a new user meets first: --version, bare `netc`, --help, backend spellings, hints."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import pytest

from cli_run import run_cli
from netc.cli import build_parser
from netc.host.backends import choose_backend

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = str(ROOT / "examples" / "default.net")
DUAL = str(ROOT / "examples" / "dual-stack.net")


def test_version_comes_from_the_package_metadata(capsys):
    result = run_cli(["--version"], capsys)
    assert (result.code, result.out, result.err) == (0, f"netc {version('netc')}\n", "")


def test_bare_netc_prints_help(capsys):
    result = run_cli([], capsys)
    assert result.code == 2 and result.out == ""
    assert result.err.startswith("usage: netc")
    assert "compile" in result.err and "Compile virtual-network firewalls" in result.err


def test_help_speaks_to_the_user(capsys):
    result = run_cli(["--help"], capsys)
    assert result.code == 0
    assert "nftables or iptables rules" in result.out
    assert "render errors" not in result.out and "netc COMMAND --help" in result.out


@pytest.mark.parametrize("spelling", ["nft", "nftables"])
def test_target_takes_both_spellings_of_nftables(capsys, spelling):
    nft = run_cli(["compile", DEFAULT, "--target", "nft"], capsys)
    other = run_cli(["compile", DEFAULT, "--target", spelling], capsys)
    assert other.code == 0 and other.out == nft.out


@pytest.mark.parametrize(
    "argv, dest, expected",
    [
        (["apply", DEFAULT, "--backend", "nft"], "backend", "nftables"),
        (["apply", DEFAULT, "--backend", "nftables"], "backend", "nftables"),
        (["apply", DEFAULT, "--backend", "iptables"], "backend", "iptables"),
        (["migrate", "--to", "nft"], "to", "nftables"),
        (["migrate", "--to", "nftables"], "to", "nftables"),
        (["migrate", "--to", "iptables"], "to", "iptables"),
        (["compile", DEFAULT, "--target", "iptables"], "target", "iptables"),
    ],
)
def test_one_spelling_of_backends_everywhere(argv, dest, expected):
    assert getattr(build_parser(argv).parse_args(argv), dest) == expected


def test_migrate_says_the_backend_came_from_to():
    assert choose_backend("iptables", None, None, "--to").reason == "chosen with --to"


def test_import_of_a_net_file_says_what_import_reads(capsys):
    result = run_cli(["import", DEFAULT], capsys)
    assert result.code == 2 and result.out == ""
    assert "netc import reads libvirt network XML" in result.err


def test_verify_hints_at_a_missing_ip6tables_half(capsys, tmp_path):
    for target, name in (("iptables", "v4.rules"), ("ip6tables", "v6.rules"), ("nft", "d.nft")):
        assert (
            run_cli(["compile", DUAL, "-t", target, "-o", str(tmp_path / name)], capsys).code == 0
        )
    v4, v6, nft = (str(tmp_path / name) for name in ("v4.rules", "v6.rules", "d.nft"))
    half = run_cli(["verify", v4, nft], capsys)
    assert half.code == 1
    assert "hint: B has IPv6 rules and A has none" in half.out
    whole = run_cli(["verify", f"{v4}+{v6}", nft], capsys)
    assert whole.code == 0 and "hint:" not in whole.out

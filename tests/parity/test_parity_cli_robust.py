"""`netc verify` never fails internally: exit 3 is a bug, whatever valid input it is given.

ParityError (exit 2) is for unreadable or unsupported input only; everything else a valid ruleset
or `.net` file can lead to must end in 0 or 1.
"""

from __future__ import annotations

import pytest
from helpers import GOLDEN, golden_cases


@pytest.mark.parametrize("br", [[], ["--no-br-netfilter"]], ids=["br_netfilter", "no_br"])
@pytest.mark.parametrize("case", golden_cases())
def test_cli_verify_never_fails_internally(case, br, capsys):
    """Exit 3 is a bug: every golden, with its spec, in both bridge modes, ends in 0."""
    from netc.cli import main

    d = GOLDEN / case
    sides = [str(d / "setup.nft"), f"{d / 'setup.iptables'}+{d / 'setup.ip6tables'}"]
    status = main(["verify", *sides, "--spec", str(d / "input.net"), *br])
    assert status == 0, capsys.readouterr()


DOC_RANGES = """\
network a {
    bridge virbr5
    forward route
    ip 198.51.100.1/24
    ip 2001:db8:ffff::1/64
    expose tcp 80 to 198.51.100.20
}
network b {
    bridge virbr6
    forward route
    ip 203.0.113.1/24
    ip 2001:db8:fffe::1/64
    ip 2001:db8:fffd::1/64
    ip 2001:db8:fffc::1/64
}
"""

SMALL_SUBNET = """\
network a {
    bridge virbr5
    forward nat
    ip 192.168.5.1/30
    ip fd00::1/120
    services { tcp 22 }
}
"""


@pytest.mark.parametrize("source", [DOC_RANGES, SMALL_SUBNET], ids=["doc-ranges", "slash-30"])
@pytest.mark.parametrize("br", [[], ["--no-br-netfilter"]], ids=["br_netfilter", "no_br"])
def test_cli_verify_compile_edge_networks(source, br, tmp_path, capsys):
    """Networks on the addresses the spec likes for "outside" (was exit 3: no outside address
    left), and a /30 whose .10 guest lies outside the subnet (was a false spec failure)."""
    from netc.cli import main

    net = tmp_path / "edge.net"
    net.write_text(source)
    status = main(["verify", "--compile", str(net), *br])
    out = capsys.readouterr()
    assert status == 0, out.out + out.err

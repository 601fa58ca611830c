"""The verifier refuses text the kernel's loaders refuse, instead of calling it equivalent.

A ruleset that never loads proves nothing: `-A OUTPUT -i br0` ("Can't use -i with OUTPUT") and a
16-byte interface name (IFNAMSIZ is 16 with the NUL) are errors in iptables-restore and nft, so
`netc verify` reports them located, exit 2.
"""

from __future__ import annotations

import pytest

from netc.parity import Family, ParityError, parse_iptables, parse_nft

HEAD = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"


@pytest.mark.parametrize(
    "rule, words",
    [
        ("-A OUTPUT -i br0 -j ACCEPT", "-i (input interface) cannot be used in OUTPUT"),
        ("-A INPUT -o br0 -j ACCEPT", "-o (output interface) cannot be used in INPUT"),
        ("-A FORWARD -i abcdefghijklmnop -j ACCEPT", "longer than 15 bytes"),
    ],
)
def test_iptables_text_the_loader_refuses(rule: str, words: str) -> None:
    with pytest.raises(ParityError) as refused:
        parse_iptables(HEAD + rule + "\nCOMMIT\n", Family.IPV4, "x.rules")
    assert words in str(refused.value) and "x.rules:5:" in str(refused.value)


def test_iptables_fifteen_bytes_is_fine() -> None:
    parse_iptables(HEAD + "-A FORWARD -i abcdefghijklmno -j ACCEPT\nCOMMIT\n", Family.IPV4, "x")


def test_nft_interface_name_too_long() -> None:
    text = "table inet t {\n chain f {\n  type filter hook forward priority 0;\n"
    with pytest.raises(ParityError) as refused:
        parse_nft(text + '  iifname "abcdefghijklmnop" accept\n }\n}\n', "x.nft")
    assert "longer than 15 bytes" in str(refused.value)
    parse_nft(text + '  iifname "abcdefghijklmno" accept\n }\n}\n', "x.nft")


def test_multi_line_loader_errors_keep_their_lines() -> None:
    """A loader's error over several lines prints as indented lines, not a literal '\\n'."""
    from netc.diagnostics import Diagnostic, render

    text = render([Diagnostic("loading failed: line one\n    line two\nx.net:1:1: error: forged")])
    lines = text.splitlines()
    assert lines[0] == "netc: error: loading failed: line one" or lines[0].endswith("line one")
    assert lines[1] == "    line two"
    assert lines[2].startswith("    ") and "\\n" not in text  # indented: it cannot pose as one

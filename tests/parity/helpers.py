"""Shared helpers for the parity tests: golden texts, text mutations, packet builders."""

from __future__ import annotations

import ipaddress
from pathlib import Path as FsPath

from netc.parity import Family, Packet, Path, load_ruleset, parse_iptables, parse_nft

ROOT = FsPath(__file__).resolve().parents[2]
GOLDEN = ROOT / "golden"
FIXTURES = FsPath(__file__).resolve().parent / "fixtures"


def golden_cases() -> list[str]:
    return sorted(p.name for p in GOLDEN.iterdir() if (p / "setup.nft").exists())


def golden_text(case: str, name: str) -> str:
    return (GOLDEN / case / name).read_text()


def golden_pair(case: str):
    nft = load_ruleset(GOLDEN / case / "setup.nft")
    ipt = load_ruleset([GOLDEN / case / "setup.iptables", GOLDEN / case / "setup.ip6tables"])
    return nft, ipt


def ipt_side(v4_text: str, v6_text: str = "", name: str = "mut"):
    rs = parse_iptables(v4_text, Family.IPV4, f"{name}.v4")
    if v6_text:
        rs = rs.merged(parse_iptables(v6_text, Family.IPV6, f"{name}.v6"))
    return rs


def nft(text: str, name: str = "t.nft"):
    return parse_nft(text, name)


def a4(text: str) -> int:
    return int(ipaddress.ip_address(text))


def pkt(
    path="forward",
    iif=None,
    oif=None,
    src="192.168.122.10",
    dst="198.51.100.1",
    proto=6,
    sport=40000,
    dport=443,
    ct="new",
    **kw,
) -> Packet:
    p = Path(path)
    fam = Family.IPV6 if ":" in src else Family.IPV4
    ports = proto in (6, 17, 33, 132, 136)
    return Packet(
        p,
        fam,
        iif,
        oif,
        a4(src),
        a4(dst),
        proto,
        sport if ports else None,
        dport if ports else None,
        ct,
        **kw,
    )


def mutate(text: str, old: str, new: str) -> str:
    """Replace exactly one occurrence (a mutation that misses is a broken test)."""
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
    return text.replace(old, new)

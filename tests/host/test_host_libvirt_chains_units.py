"""Deciding what of libvirt's LIBVIRT_* chains concerns netc, from canned iptables-save (no kernel)."""

from __future__ import annotations

import pytest

import netc.host.libvirt_chains as libvirt_chains
from netc.host.lifecycle import compile_stored

NETWORKS = compile_stored(
    {"/x/default.net": "network default {\n bridge virbr0\n forward nat\n ip 192.168.122.1/24\n}\n"}
).program.networks

# What libvirt's base.iptables leaves in one family: its chains and the jumps into them.
BASE = {
    "filter": [
        ":INPUT ACCEPT [0:0]",
        ":FORWARD ACCEPT [0:0]",
        ":OUTPUT ACCEPT [0:0]",
        ":LIBVIRT_FWI - [0:0]",
        ":LIBVIRT_FWO - [0:0]",
        ":LIBVIRT_FWX - [0:0]",
        ":LIBVIRT_INP - [0:0]",
        ":LIBVIRT_OUT - [0:0]",
        "-A INPUT -j LIBVIRT_INP",
        "-A FORWARD -j LIBVIRT_FWX",
        "-A FORWARD -j LIBVIRT_FWI",
        "-A FORWARD -j LIBVIRT_FWO",
        "-A OUTPUT -j LIBVIRT_OUT",
    ],
    "nat": [":POSTROUTING ACCEPT [0:0]", ":LIBVIRT_PRT - [0:0]", "-A POSTROUTING -j LIBVIRT_PRT"],
}


def save(extra: dict[str, list[str]] | None = None) -> str:
    """iptables-save text: BASE plus `extra` lines per table."""
    out = []
    for table, lines in BASE.items():
        out += [f"*{table}", *lines, *(extra or {}).get(table, []), "COMMIT"]
    return "\n".join(out) + "\n"


class FakeHost:
    """Answers `iptables-save` and `ip6tables-save` with canned text."""

    def __init__(self, v4: str, v6: str):
        self.saved = {"iptables-save": v4, "ip6tables-save": v6}

    def check(self, argv: list[str], input: str | None = None, what: str | None = None) -> str:
        return self.saved[argv[0]]


@pytest.fixture(autouse=True)
def iptables_on_path(monkeypatch):
    monkeypatch.setattr(libvirt_chains, "available", lambda backend: True)


def plan(v4: dict[str, list[str]], v6: dict[str, list[str]] | None = None) -> libvirt_chains.Plan:
    return libvirt_chains.find(FakeHost(save(v4), save(v6)), NETWORKS)


def test_all_ours_drops_every_chain_and_jump_in_both_families():
    found = plan(
        {
            "filter": ["-A LIBVIRT_FWO -s 192.168.122.0/24 -i virbr0 -j ACCEPT"],
            "nat": ["-A LIBVIRT_PRT -s 192.168.122.0/24 ! -d 192.168.122.0/24 -j MASQUERADE"],
        }
    )
    assert len(found.ours) == 2 and found.kept == () and found.drop_chains
    v6 = libvirt_chains.script(found, "ip6tables")
    assert "-D FORWARD -j LIBVIRT_FWO\n" in v6 and "-X LIBVIRT_FWO\n" in v6
    assert "-X LIBVIRT_PRT\n" in v6
    v4 = libvirt_chains.script(found, "iptables")
    assert v4.startswith("*filter\n-D LIBVIRT_FWO -s 192.168.122.0/24 -i virbr0 -j ACCEPT\n")
    assert v4.count("-X ") == 6
    assert libvirt_chains.summary(found)[0].startswith("libvirt: its LIBVIRT_* chains are gone;")


def test_another_networks_ipv4_rule_keeps_the_ipv6_chains_too():
    found = plan(
        {
            "filter": [
                "-A LIBVIRT_FWI -o virbr0 -j REJECT --reject-with icmp-port-unreachable",
                "-A LIBVIRT_FWI -o virbr1 -j REJECT --reject-with icmp-port-unreachable",
            ]
        }
    )
    assert len(found.ours) == 1 and len(found.kept) == 1 and not found.drop_chains
    assert libvirt_chains.script(found, "ip6tables") == ""
    assert libvirt_chains.script(found, "iptables") == (
        "*filter\n-D LIBVIRT_FWI -o virbr0 -j REJECT --reject-with icmp-port-unreachable\nCOMMIT\n"
    )
    assert libvirt_chains.summary(found) == [
        "libvirt: kept its LIBVIRT_* chains in iptables and ip6tables: 1 rule(s) of other "
        "libvirt networks (bridges virbr1) still in them"
    ]


def test_subnet_learned_from_libvirts_rule_for_the_bridge():
    """libvirt had 10.1.1.0/24 on virbr0 (netc: 192.168.122.0/24): its masquerade goes too."""
    found = plan(
        {
            "filter": ["-A LIBVIRT_FWO -s 10.1.1.0/24 -i virbr0 -j ACCEPT"],
            "nat": ["-A LIBVIRT_PRT -s 10.1.1.0/24 ! -d 10.1.1.0/24 -o enp0s7 -j MASQUERADE"],
        }
    )
    assert [r.table for r in found.ours] == ["filter", "nat"] and found.drop_chains


def test_negated_matches_are_not_ours():
    found = plan(
        {
            "filter": ["-A LIBVIRT_FWX ! -i virbr0 -j ACCEPT"],
            "nat": ["-A LIBVIRT_PRT ! -s 192.168.122.0/24 -j MASQUERADE"],
        }
    )
    assert found.ours == () and len(found.kept) == 2 and not found.drop_chains
    assert found.empty


def test_a_jump_libvirt_never_adds_keeps_the_chains():
    found = plan({"filter": [":DOCKER-USER - [0:0]", "-A DOCKER-USER -j LIBVIRT_FWO"]})
    assert len(found.foreign) == 1 and not found.drop_chains
    assert "DOCKER-USER" not in libvirt_chains.script(found, "iptables")
    assert libvirt_chains.summary(found) == [
        "libvirt: kept its LIBVIRT_* chains in iptables and ip6tables: 1 jump(s) libvirt never "
        "adds lead to them (e.g. iptables filter `-A DOCKER-USER -j LIBVIRT_FWO`)"
    ]


def test_no_chains_no_plan():
    empty = "*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n"
    found = libvirt_chains.find(FakeHost(empty, empty), NETWORKS)
    assert found.families == () and found.empty and libvirt_chains.summary(found) == []
    assert libvirt_chains.leftovers(FakeHost(empty, empty), NETWORKS) is None


def test_leftovers_say_where_and_how_many():
    rules = [
        "-A LIBVIRT_INP -i virbr0 -p udp -m udp --dport 53 -j ACCEPT",
        "-A LIBVIRT_FWX -i virbr0 -o virbr0 -j ACCEPT",
    ]
    host = FakeHost(save({"filter": rules}), save({"filter": rules[1:]}))
    found = libvirt_chains.leftovers(host, NETWORKS)
    assert found is not None
    assert found.text().startswith(
        "libvirt's iptables and ip6tables chain(s) LIBVIRT_FWX, LIBVIRT_INP still hold 3 rule(s) "
        "for virbr0 (e.g. `-A LIBVIRT_INP -i virbr0 -p udp -m udp --dport 53 -j ACCEPT`): "
    )
    assert found.with_fix("netc migrate --to nftables").endswith(
        "; `netc migrate --to nftables` removes them"
    )

"""Deciding what of libvirt's nft tables concerns netc, from canned `nft -j` output (no kernel)."""

from __future__ import annotations

import json

import pytest

import netc.host.libvirt_nft as libvirt_nft
from netc.host.lifecycle import compile_stored
from netc.host.run import Result

NETWORKS = compile_stored(
    {"/x/default.net": "network default {\n bridge virbr0\n forward nat\n ip 192.168.122.1/24\n}\n"}
).program.networks


def _match(left: dict, right: object, op: str = "==") -> dict:
    return {"match": {"op": op, "left": left, "right": right}}


def _iface(key: str, name: object) -> dict:
    return _match({"meta": {"key": key}}, name)


def _addr(field: str, addr: str, length: int, op: str = "==") -> dict:
    return _match({"payload": {"protocol": "ip", "field": field}}, _prefix(addr, length), op)


def _prefix(addr: str, length: int) -> dict:
    return {"prefix": {"addr": addr, "len": length}}


COUNTER = {"counter": {"packets": 0, "bytes": 0}}


def table(*rules: tuple[str, list[dict]], extra: tuple[dict, ...] = (), policy="accept") -> str:
    """`nft -j list table ip libvirt_network` for these (chain, expr) rules."""
    items: list[dict] = [{"metainfo": {"json_schema_version": 1}}]
    items.append({"table": {"family": "ip", "name": "libvirt_network", "handle": 1}})
    base = {"type": "filter", "hook": "forward", "prio": 0, "policy": policy}
    items.append({"chain": {"family": "ip", "table": "libvirt_network", "name": "forward", **base}})
    for name in ("guest_output", "guest_input", "guest_cross", "guest_nat"):
        items.append({"chain": {"family": "ip", "table": "libvirt_network", "name": name}})
    jumps = [
        ("forward", [COUNTER, {"jump": {"target": c}}]) for c in ("guest_cross", "guest_input")
    ]
    for handle, (chain, expr) in enumerate([*jumps, *rules], start=10):
        rule = {"family": "ip", "table": "libvirt_network", "chain": chain, "handle": handle}
        items.append({"rule": {**rule, "expr": expr}})
    items += list(extra)
    return json.dumps({"nftables": items})


class FakeHost:
    """Answers `nft -j list table ip libvirt_network`; ip6's table does not exist."""

    def __init__(self, listing: str):
        self.listing = listing

    def run(self, argv: list[str], input: str | None = None) -> Result:
        if argv[:2] == ["nft", "-j"] and argv[4] == "ip":
            return Result(0, self.listing, "")
        if argv[:2] == ["nft", "-a"] and argv[4] == "ip":
            return Result(0, "table ip libvirt_network { # handle 1\n}\n", "")
        return Result(1, "", "Error: No such file or directory")


@pytest.fixture(autouse=True)
def nft_on_path(monkeypatch):
    monkeypatch.setattr(libvirt_nft, "which", lambda binary: "/usr/sbin/nft")


def plan(*rules, **kwargs) -> libvirt_nft.Plan:
    return libvirt_nft.find(FakeHost(table(*rules, **kwargs)), NETWORKS)


def test_bridge_by_name_in_a_set_and_nat_by_subnet_go_with_the_table():
    found = plan(
        ("guest_input", [_iface("oifname", {"set": ["virbr9", "virbr0"]}), {"reject": None}]),
        ("guest_nat", [_addr("saddr", "192.168.122.0", 24), {"masquerade": None}]),
    )
    assert [r.handle for r in found.ours] == [12, 13]
    assert found.kept == () and found.drop_tables
    assert libvirt_nft.script(found) == (
        "delete rule ip libvirt_network guest_input handle 12\n"
        "delete rule ip libvirt_network guest_nat handle 13\n"
        "delete table ip libvirt_network\n"
    )


def test_negated_subnet_and_other_bridges_are_not_ours():
    found = plan(
        ("guest_nat", [_addr("daddr", "192.168.122.0", 24, "!="), {"masquerade": None}]),
        ("guest_output", [_iface("iif", "virbr1"), {"reject": None}]),
    )
    assert found.ours == () and len(found.kept) == 2 and not found.drop_tables
    assert libvirt_nft.summary(found) == [
        "libvirt: kept table(s) ip libvirt_network: 2 rule(s) of other libvirt networks "
        "(bridges virbr1) still in them"
    ]


def test_subnet_learned_from_libvirts_rule_for_the_bridge():
    """libvirt had 10.1.1.0/24 on virbr0 (netc: 192.168.122.0/24): its masquerade goes too."""
    found = plan(
        (
            "guest_output",
            [_addr("saddr", "10.1.1.0", 24), _iface("iif", "virbr0"), {"accept": None}],
        ),
        ("guest_nat", [_addr("saddr", "10.1.1.0", 24), {"masquerade": None}]),
    )
    assert [r.chain for r in found.ours] == ["guest_output", "guest_nat"] and found.drop_tables


def test_stale_ifindex_rule_keeps_the_tables():
    """A rule whose bridge is gone prints the ifindex: not netc's, so libvirt's tables stay."""
    found = plan(
        ("guest_output", [_iface("iif", "virbr0"), {"reject": None}]),
        ("guest_cross", [_iface("iif", "7"), _iface("oif", "7"), {"accept": None}]),
    )
    assert len(found.ours) == 1 and len(found.kept) == 1 and not found.drop_tables
    assert "delete table" not in libvirt_nft.script(found)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"extra": ({"set": {"family": "ip", "table": "libvirt_network", "name": "s"}},)},
        {"policy": "drop"},
    ],
    ids=["a-set", "policy-drop"],
)
def test_what_libvirt_never_creates_keeps_the_table(kwargs):
    found = plan(("guest_output", [_iface("iif", "virbr0"), {"reject": None}]), **kwargs)
    assert len(found.ours) == 1 and not found.drop_tables
    assert libvirt_nft.summary(found) == [
        "libvirt: kept table(s) ip libvirt_network: they hold what libvirt never creates "
        "(a set, a map, a base chain that drops)"
    ]


def test_no_tables_no_plan():
    found = libvirt_nft.find(FakeHost(""), NETWORKS)
    assert found.tables == () and found.empty and libvirt_nft.summary(found) == []

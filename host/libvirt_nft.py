"""Taking over from libvirt's nftables backend: its rules for netc's bridges go, by handle.

Since 10.4 (Fedora 41's default) libvirt keeps every network's rules in two shared tables,
`ip libvirt_network` and `ip6 libvirt_network`: base chain `forward` jumps to `guest_output`,
`guest_input` and `guest_cross`; `guest_nat` masquerades; some versions add `postroute_mangle`.
There is no chain per network: a network's rules are told apart only by its bridge (`iif`/`oif`,
an ifindex that nft prints as the name) and by its subnet (`ip saddr NET` in `guest_nat`, where
no bridge is named). So a rule concerns netc when it names one of netc's bridges, or matches a
source subnet that is netc's or that libvirt's rules for those bridges name (libvirt's subnet
for a bridge may differ from the one netc gives it).

Those rules are deleted by their handles, read from `nft -j list table`, both families in one
`nft -f` transaction: the kernel takes it whole or not at all, and a handle that vanished since
the listing (libvirt changed its table meanwhile) aborts it with nothing changed.

The tables themselves: libvirt creates them once per daemon run and expects them afterwards
(`networkSetupPrivateChains` runs under `virOnce`), so deleting a table that another running
libvirt network uses would break that network's next start or stop. Both tables are therefore
deleted only when no libvirt network is left in either of them: every remaining rule is one of
the `forward` chain's jumps, no base chain drops, and nothing libvirt does not create (a set, a
map, a user's chain with rules) is in them. Otherwise both stay, and the report says whose rules
keep them. libvirt re-creates deleted tables when virtnetworkd (or libvirtd) restarts.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from netc.ir.model import Network

from .leftovers import Leftovers
from .nft_json import nft_items
from .run import Host, which

TABLE = "libvirt_network"
FAMILIES = ("ip", "ip6")
_LIBVIRT_OBJECTS = {"metainfo", "table", "chain", "rule"}
_INTERFACE_KEYS = ("iif", "oif", "iifname", "oifname")
_HANDLE = re.compile(r"^\s*(?P<text>.*?)\s*# handle (?P<handle>\d+)$")
_COUNTER = re.compile(r"counter packets \d+ bytes \d+")

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule of a libvirt table, with what tells its network apart."""

    family: str
    chain: str
    handle: int
    interfaces: tuple[str, ...]  # names an iif/oif/iifname/oifname match accepts
    sources: tuple[IPNetwork, ...]  # `ip saddr NET` (== only)
    destinations: tuple[IPNetwork, ...]  # `ip daddr NET` (== only)
    jump: str | None  # the chain a `jump`/`goto` leads to
    scaffolding: bool  # one of the `forward` chain's plain jumps libvirt adds once per run
    text: str  # as `nft list` prints it, counters left out

    def describe(self) -> str:
        return f"{self.family} {TABLE} {self.chain}: {self.text}"


@dataclass(frozen=True, slots=True)
class Table:
    family: str
    rules: tuple[Rule, ...]
    droppable: bool  # holds only what libvirt creates, and no base chain with policy drop


@dataclass(frozen=True, slots=True)
class Plan:
    """What removing libvirt's rules for some bridges means for the live tables."""

    tables: tuple[Table, ...]  # libvirt's tables that exist
    ours: tuple[Rule, ...]  # rules for netc's bridges and subnets: deleted
    kept: tuple[Rule, ...]  # other libvirt networks' rules: they keep both tables
    drop_tables: bool  # no libvirt network left afterwards: the tables go too

    @property
    def empty(self) -> bool:
        return not self.ours and not self.drop_tables


def find(host: Host, networks: Sequence[Network], keep_shared: bool = False) -> Plan:
    """Read libvirt's tables and decide what taking over these networks removes.

    `keep_shared`: the tables stay even when no libvirt network is left in them (libvirt runs
    and creates them only once per daemon run: `netc adopt` leaves it able to start any network).
    """
    tables = tuple(t for t in (_read(host, family) for family in FAMILIES) if t is not None)
    rules = [rule for table in tables for rule in table.rules]
    ours = tuple(concerning(rules, networks))
    gone = {(r.family, r.handle) for r in ours}
    kept = tuple(r for r in rules if (r.family, r.handle) not in gone and not r.scaffolding)
    drop = bool(tables) and not kept and not keep_shared and all(t.droppable for t in tables)
    return Plan(tables, ours, kept, drop)


def concerning(rules: Sequence[Rule], networks: Sequence[Network]) -> list[Rule]:
    """The rules that name one of these bridges, or a source subnet of theirs.

    A bridge's subnets are netc's and the ones libvirt's own rules for that bridge name (the
    allow-out `ip saddr NET iif BR`, the related-in `oif BR ip daddr NET`), so libvirt's
    masquerade rules go even when netc gives the bridge another subnet.
    """
    bridges = {net.bridge for net in networks}
    named = [bool(bridges & set(r.interfaces)) for r in rules]
    subnets = {subnet.network for net in networks for subnet in net.subnets}
    subnets |= {n for r, hit in zip(rules, named) if hit for n in (*r.sources, *r.destinations)}
    return [r for r, hit in zip(rules, named) if hit or subnets & set(r.sources)]


def script(plan: Plan) -> str:
    """The `nft -f` text: ours by handle, then (when nothing else is left) the tables.

    Deleting every rule by handle first makes the transaction fail, changing nothing, if any of
    them is gone since the listing. Tests replace this to inject a failure.
    """
    lines = [f"delete rule {r.family} {TABLE} {r.chain} handle {r.handle}" for r in plan.ours]
    if plan.drop_tables:
        lines += [f"delete table {t.family} {TABLE}" for t in plan.tables]
    return "".join(f"{line}\n" for line in lines)


WHAT = f"libvirt's nft rules (table {TABLE})"


def check(host: Host, plan: Plan) -> None:
    """Let the kernel check the removal (`nft -c`) before anything changes: a NetcError if not."""
    if not plan.empty:
        host.check(["nft", "-c", "-f", "-"], script(plan), what="checking the removal of " + WHAT)


def remove(host: Host, plan: Plan) -> list[str]:
    """Carry out the plan in one transaction; one report line per rule or table removed."""
    if plan.empty:
        return []
    host.check(["nft", "-f", "-"], script(plan), what="removing " + WHAT)
    report = [f"rule {rule.describe()}" for rule in plan.ours]
    if plan.drop_tables:
        report += [f"table {t.family} {TABLE} (no libvirt network left in it)" for t in plan.tables]
    return report


def summary(plan: Plan) -> list[str]:
    """What migrate says after removing: tables kept and why, or the restart libvirt needs."""
    if plan.drop_tables:
        return [
            f"libvirt: its tables are gone; restart virtnetworkd (or libvirtd) before starting a "
            f"libvirt network again, it creates `{TABLE}` once per run"
        ]
    if not plan.tables:
        return []
    families = " and ".join(f"{t.family} {TABLE}" for t in plan.tables)
    if plan.kept:
        bridges = sorted({i for r in plan.kept for i in r.interfaces})
        whose = f" (bridges {', '.join(bridges)})" if bridges else ""
        why = f"{len(plan.kept)} rule(s) of other libvirt networks{whose} still in them"
    elif all(t.droppable for t in plan.tables):
        why = "libvirt's network daemon runs and needs them to start any network"
    else:
        why = "they hold what libvirt never creates (a set, a map, a base chain that drops)"
    return [f"libvirt: kept table(s) {families}: {why}"]


def leftovers(host: Host, networks: Sequence[Network]) -> Leftovers | None:
    """libvirt's live nft rules for these networks' bridges (for `status`, `doctor`, `apply`)."""
    rules = find(host, networks).ours if networks else ()
    if not rules:
        return None
    tables = sorted({f"{r.family} {TABLE}" for r in rules})
    return Leftovers(
        holder=f"nft table(s) {' and '.join(tables)}",
        rules=len(rules),
        bridges=tuple(sorted({i for r in rules for i in r.interfaces})),
        example=rules[0].text,
        removal="by handle, one nft transaction; libvirt's tables go once no libvirt network "
        "is left in them",
    )


def _read(host: Host, family: str) -> Table | None:
    """One libvirt table from `nft -j list table` (rule texts from `nft -a list table`)."""
    if which("nft") is None:
        return None
    items = nft_items(host, ["list", "table", family, TABLE])
    if not items:
        return None
    texts = _texts(host.run(["nft", "-a", "list", "table", family, TABLE]).stdout)
    chains = {body["name"] for kind, body in items if kind == "chain"}
    rules = tuple(
        _rule(family, body, chains, texts.get(body["handle"], ""))
        for kind, body in items
        if kind == "rule"
    )
    base = [body for kind, body in items if kind == "chain" and "hook" in body]
    droppable = not {kind for kind, _ in items} - _LIBVIRT_OBJECTS and all(
        body.get("policy", "accept") == "accept" for body in base
    )
    return Table(family, rules, droppable)


def _texts(listing: str) -> dict[int, str]:
    """handle -> rule text, from `nft -a list table` (a table numbers its chains and rules from
    one counter, so a rule's handle is unique in its table; table and chain lines are skipped)."""
    out: dict[int, str] = {}
    for line in listing.splitlines():
        found = _HANDLE.match(line)
        if not found or line.lstrip().startswith(("table ", "chain ")):
            continue
        out[int(found["handle"])] = _COUNTER.sub("counter", found["text"])
    return out


def _rule(family: str, body: dict, chains: set[str], text: str) -> Rule:
    interfaces: list[str] = []
    sources: list[IPNetwork] = []
    destinations: list[IPNetwork] = []
    jump = None
    matches = 0
    for stmt in body.get("expr", ()):
        for verb in ("jump", "goto"):
            if verb in stmt:
                jump = stmt[verb].get("target")
        match = stmt.get("match")
        if not match:
            continue
        matches += 1
        if match.get("op", "==") not in ("==", "in"):
            continue
        left = match.get("left", {})
        if left.get("meta", {}).get("key") in _INTERFACE_KEYS:
            interfaces += [v for v in _values(match.get("right")) if isinstance(v, str)]
        field = left.get("payload", {})
        if field.get("protocol") in ("ip", "ip6") and field.get("field") in ("saddr", "daddr"):
            nets = [n for n in map(_network, _values(match.get("right"))) if n is not None]
            (sources if field["field"] == "saddr" else destinations).extend(nets)
    scaffolding = body["chain"] == "forward" and matches == 0 and jump in chains
    return Rule(
        family,
        body["chain"],
        body["handle"],
        tuple(interfaces),
        tuple(sources),
        tuple(destinations),
        jump,
        scaffolding,
        text or json.dumps(body.get("expr", ())),
    )


def _values(right: object) -> Iterable[object]:
    """A match's right-hand side as a list: a set (`{ a, b }`) or one value."""
    if isinstance(right, dict) and "set" in right:
        return right["set"]
    return [right]


def _network(value: object) -> IPNetwork | None:
    """`{"prefix": {"addr": A, "len": N}}` or a bare address, as a network; else None."""
    try:
        if isinstance(value, dict) and "prefix" in value:
            prefix = value["prefix"]
            return ipaddress.ip_network(f"{prefix['addr']}/{prefix['len']}", strict=False)
        if isinstance(value, str):
            return ipaddress.ip_network(value, strict=False)
    except (ValueError, KeyError, TypeError):
        return None
    return None

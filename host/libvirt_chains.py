"""Taking over from libvirt's iptables backend: its LIBVIRT_* rules for netc's bridges go.

libvirt keeps every network's iptables rules in shared chains (LIBVIRT_INP/OUT/FWO/FWI/FWX in
filter, LIBVIRT_PRT in nat and mangle), for IPv4 and IPv6, each jumped to from its built-in
chain. There is no chain per network: a network's rules are told apart only by its bridge
(`-i`/`-o`) and its subnet (`-s NET` in the nat rules, where no bridge is named). So a rule
concerns netc when it names one of netc's bridges, or matches a source subnet that is netc's or
that libvirt's rules for those bridges name (`-s NET -i BR`, `-d NET -o BR`: libvirt's subnet
for a bridge may differ from the one netc gives it). Those rules are deleted by their exact
spec, read from the live `iptables-save` (whichever iptables PATH gives: libvirt runs the same
`iptables`, so its rules are in that one, nf_tables or legacy).

The chains themselves, and the jumps into them, are libvirt's, not one network's: libvirt
creates them for both families together, once per daemon run (`networkSetupPrivateChains`,
guarded by `chainInitDone`; only a firewalld reload adds them again), and from then on inserts
every network's rules into them and never deletes them. Deleting them while any libvirt network
still runs breaks that network and the next one libvirt starts in this run: its `--insert
LIBVIRT_FWO` fails, in the IPv6 family too when that network has IPv6 (libvirt then refuses to
start it). So the decision is taken over both families at once: while any rule of another
libvirt network (anything in a LIBVIRT_* chain that is not netc's) remains in either family,
every LIBVIRT_* chain and jump stays in both; once none remains, they all go, and the report says
to restart virtnetworkd (or libvirtd) before starting a libvirt network again, since libvirt
creates them once per run. They also stay when something jumps to them that libvirt never adds
(deleting the chains would take someone else's rule with them). This is the rule libvirt_nft.py
applies to `ip/ip6 libvirt_network`.

Each family is one `iptables-restore --noflush` step, committed table by table. `iptables-restore --test` checks both
before anything changes: iptables-legacy also checks that every deleted rule exists,
iptables-nft only the syntax. If a step still fails, the report says what is done; running
migrate again finishes the job, because the plan is always made from the live tables.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from netc.diagnostics import Diagnostic, NetcError
from netc.ir.model import Network

from . import iptables_save
from .backends import RESTORE, IptablesBackend, available
from .leftovers import Leftovers
from .run import Host

PREFIX = "LIBVIRT_"
TOOLS = ("iptables", "ip6tables")
WHAT = "libvirt's {tool} rules (LIBVIRT_* chains)"

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# The jumps libvirt inserts, once per run, in both families (base.iptables in libvirt's tests).
LIBVIRT_JUMPS = {
    (table, parent, f"-j {chain}")
    for table, parent, chain in (
        ("filter", "INPUT", "LIBVIRT_INP"),
        ("filter", "OUTPUT", "LIBVIRT_OUT"),
        ("filter", "FORWARD", "LIBVIRT_FWO"),
        ("filter", "FORWARD", "LIBVIRT_FWI"),
        ("filter", "FORWARD", "LIBVIRT_FWX"),
        ("nat", "POSTROUTING", "LIBVIRT_PRT"),
        ("mangle", "POSTROUTING", "LIBVIRT_PRT"),
    )
}


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule of a family's table: in a LIBVIRT_* chain, or jumping to one."""

    tool: str  # "iptables" | "ip6tables"
    table: str  # "filter" | "nat" | "mangle"
    rule: iptables_save.Rule


@dataclass(frozen=True, slots=True)
class Family:
    """One family's live tables, as iptables-save printed them."""

    tool: str
    tables: tuple[iptables_save.Table, ...]


@dataclass(frozen=True, slots=True)
class Plan:
    """What removing libvirt's rules for some bridges means for the live LIBVIRT_* chains."""

    families: tuple[Family, ...]  # the families that have LIBVIRT_* chains
    ours: tuple[Rule, ...]  # rules for netc's bridges and subnets: deleted
    kept: tuple[Rule, ...]  # other libvirt networks' rules: they keep the chains, both families
    foreign: tuple[Rule, ...]  # jumps into the chains that libvirt never adds: they keep them too
    drop_chains: bool  # no libvirt network left in either family: chains and jumps go too

    @property
    def empty(self) -> bool:
        return not self.ours and not self.drop_chains


def find(host: Host, networks: Sequence[Network], keep_shared: bool = False) -> Plan:
    """Read both families' tables and decide what taking over these networks removes.

    `keep_shared`: the LIBVIRT_* chains and jumps stay even when no libvirt network is left in
    them (libvirt runs and creates them only once per daemon run).
    """
    backend = IptablesBackend(host)
    if not available(backend):
        return Plan((), (), (), (), False)
    families = []
    for tool in TOOLS:
        tables = tuple(backend.save(tool).values())
        if any(_owned(c.name) for t in tables for c in t.chains):
            families.append(Family(tool, tables))
    everything = [Rule(f.tool, t.name, r) for f in families for t in f.tables for r in t.rules]
    rules = [r for r in everything if _owned(r.rule.chain)]
    ours = tuple(concerning(rules, networks))
    kept = tuple(r for r in rules if r not in ours)
    foreign = tuple(
        r
        for r in everything
        if not _owned(r.rule.chain)
        and _owned(r.rule.target or "")
        and (r.table, r.rule.chain, r.rule.spec) not in LIBVIRT_JUMPS
    )
    drop = bool(families) and not kept and not foreign and not keep_shared
    return Plan(tuple(families), ours, kept, foreign, drop)


def concerning(rules: Sequence[Rule], networks: Sequence[Network]) -> list[Rule]:
    """The rules that name one of these bridges, or a source subnet of theirs (see above)."""
    bridges = {net.bridge for net in networks}
    named = [r.rule.mentions_interface(bridges) for r in rules]
    subnets = {subnet.network for net in networks for subnet in net.subnets}
    for rule, hit in zip(rules, named):
        if hit:
            subnets |= _networks(rule.rule.sources() + rule.rule.destinations())
    return [r for r, hit in zip(rules, named) if hit or subnets & _networks(r.rule.sources())]


def script(plan: Plan, tool: str) -> str:
    """One family's `iptables-restore --noflush` text (empty: nothing to do). Tests replace
    this to inject a failure."""
    return _removal(plan, tool)[0]


def check(host: Host, plan: Plan) -> None:
    """`iptables-restore --test` on each family's removal before anything changes."""
    for tool in TOOLS:
        text = script(plan, tool) if not plan.empty else ""
        if text:
            what = "checking the removal of " + WHAT.format(tool=tool)
            host.check([f"{tool}-restore", "--test", *RESTORE], text, what=what)


def remove(host: Host, plan: Plan) -> list[str]:
    """Carry out the plan, one restore per family; one report line per rule, jump, chain."""
    report: list[str] = []
    done: list[str] = []
    for tool in TOOLS if not plan.empty else ():
        text = script(plan, tool)
        if not text:
            continue
        try:
            what = "removing " + WHAT.format(tool=tool)
            host.check([f"{tool}-restore", *RESTORE], text, what=what)
        except NetcError as err:
            if not done:
                raise
            message = err.diagnostics[0].message
            raise NetcError(
                Diagnostic(f"{message} (the {' and '.join(done)} part is done)")
            ) from err
        done.append(tool)
        report += [f"{tool} {line}" for line in _removal(plan, tool)[1]]
    return report


def summary(plan: Plan) -> list[str]:
    """What migrate says after removing: chains kept and why, or the restart libvirt needs."""
    if plan.drop_chains:
        return [
            "libvirt: its LIBVIRT_* chains are gone; restart virtnetworkd (or libvirtd) before "
            "starting a libvirt network again, it creates them once per run"
        ]
    if not plan.families:
        return []
    tools = " and ".join(f.tool for f in plan.families)
    if plan.kept:
        bridges = sorted({i for r in plan.kept for i in r.rule.interfaces()})
        whose = f" (bridges {', '.join(bridges)})" if bridges else ""
        why = f"{len(plan.kept)} rule(s) of other libvirt networks{whose} still in them"
    elif not plan.foreign:
        why = "libvirt's network daemon runs and needs them to start any network"
    else:
        jump = plan.foreign[0]
        why = (
            f"{len(plan.foreign)} jump(s) libvirt never adds lead to them (e.g. {jump.tool} "
            f"{jump.table} `-A {jump.rule.chain} {jump.rule.spec}`)"
        )
    return [f"libvirt: kept its LIBVIRT_* chains in {tools}: {why}"]


def leftovers(host: Host, networks: Sequence[Network]) -> Leftovers | None:
    """libvirt's live LIBVIRT_* rules for these networks (for `status`, `doctor`, `apply`)."""
    rules = find(host, networks).ours if networks else ()
    if not rules:
        return None
    tools = [tool for tool in TOOLS if any(r.tool == tool for r in rules)]
    chains = sorted({r.rule.chain for r in rules})
    return Leftovers(
        holder=f"{' and '.join(tools)} chain(s) {', '.join(chains)}",
        rules=len(rules),
        bridges=tuple(sorted({i for r in rules for i in r.rule.interfaces()})),
        example=f"-A {rules[0].rule.chain} {rules[0].rule.spec}",
        removal="one iptables-restore per family; libvirt's LIBVIRT_* chains go once no "
        "libvirt network is left in either family",
    )


def _removal(plan: Plan, tool: str) -> tuple[str, list[str]]:
    family = next((f for f in plan.families if f.tool == tool), None)
    if family is None or plan.empty:
        return "", []
    texts: list[str] = []
    report: list[str] = []
    for table in family.tables:
        mine = {r.rule for r in plan.ours if r.tool == tool and r.table == table.name}
        text, removed = iptables_save.removal(
            {table.name: table}, _owned, lambda rule: rule in mine, keep_chains=not plan.drop_chains
        )
        texts.append(text)
        report += removed
    return "".join(texts), report


def _owned(chain: str) -> bool:
    return chain.startswith(PREFIX)


def _networks(values: Sequence[str]) -> set[IPNetwork]:
    out: set[IPNetwork] = set()
    for value in values:
        try:
            out.add(ipaddress.ip_network(value, strict=False))
        except ValueError:
            continue
    return out

"""The two firewall backends, with one face: install, remove, and list what netc owns.

nftables: netc owns `table inet netc`. The compiled script deletes and recreates that table in
one `nft -f` transaction, so installing is one atomic step (the kernel takes all of it or none),
re-installing replaces it, and removal is `netc compile --remove`'s two lines.

iptables: netc owns the NETC_* chains of the filter and nat tables, for IPv4 and IPv6. Each
family loads in one `iptables-restore --noflush` step; if the IPv6 step fails, the IPv4 step is
rolled back, so the host ends as it was. Removal is generated from the live `iptables-save`
(`iptables_save.removal`), never from memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from netc.diagnostics import Diagnostic, NetcError
from netc.emitters import TARGETS
from netc.pipeline import Compiled, emit
from netc.ir.model import Family

from . import iptables_save
from .nft_json import nft_items
from .run import Host, which

NFT_TABLE = "inet netc"
# `-w`: iptables-legacy's restore takes the xtables lock (one file for the whole machine, which
# libvirt's `iptables -w` also takes); wait for it instead of failing. iptables-nft ignores it.
RESTORE = ("-w", "5", "--noflush")
NETC_PREFIX = "NETC_"


@dataclass(frozen=True, slots=True)
class Installed:
    created_objects: tuple[str, ...]  # iptables-nft tables the load created ("ip filter")


class Backend(Protocol):
    name: str

    def binaries(self) -> tuple[str, ...]: ...

    def present(self) -> bool: ...

    def listing(self) -> str: ...

    def install(self, compiled: Compiled) -> Installed: ...

    def remove(self, created_objects: Sequence[str] = ()) -> list[str]: ...


def available(backend: "Backend") -> bool:
    return all(which(b) for b in backend.binaries())


def require(backend: "Backend") -> None:
    missing = [b for b in backend.binaries() if which(b) is None]
    if missing:
        package = "nftables" if backend.name == "nftables" else "iptables"
        other = "iptables" if backend.name == "nftables" else "nftables"
        raise NetcError(
            Diagnostic(
                f"the {backend.name} backend needs '{missing[0]}', which is not in PATH",
                hint=f"install the '{package}' package, or use --backend {other}; "
                "nothing was changed",
            )
        )


# The texts to load. Tests replace these to inject a ruleset the kernel rejects.
def nft_text(compiled: Compiled) -> str:
    return emit(compiled, "nft")


def iptables_text(compiled: Compiled, target: str, jumps: bool) -> str:
    return emit(compiled, target, jumps=jumps)


class NftBackend:
    name = "nftables"

    def __init__(self, host: Host):
        self.host = host

    def binaries(self) -> tuple[str, ...]:
        return ("nft",)

    def present(self) -> bool:
        return self.host.run(["nft", "list", "table", *NFT_TABLE.split()]).returncode == 0

    def listing(self) -> str:
        result = self.host.run(["nft", "list", "table", *NFT_TABLE.split()])
        return result.stdout if result.returncode == 0 else ""

    def install(self, compiled: Compiled) -> Installed:
        """One `nft -f` transaction: the kernel takes the whole table or nothing."""
        self.host.check(["nft", "-f", "-"], nft_text(compiled), what="loading netc's nft table")
        return Installed(())

    def remove(self, created_objects: Sequence[str] = ()) -> list[str]:
        if not self.present():
            return []
        self.host.check(["nft", "-f", "-"], TARGETS["nft"].teardown(), what="removing netc's table")
        return [f"nft table {NFT_TABLE}"]


_FAMILIES = (("iptables", "ip", Family.IPV4), ("ip6tables", "ip6", Family.IPV6))


class IptablesBackend:
    """NETC_* chains through iptables-restore; which iptables (nft or legacy) PATH provides."""

    name = "iptables"

    def __init__(self, host: Host):
        self.host = host

    def binaries(self) -> tuple[str, ...]:
        return tuple(f"{t}-{verb}" for t, _, _ in _FAMILIES for verb in ("restore", "save"))

    def save(self, tool: str) -> dict[str, iptables_save.Table]:
        return iptables_save.parse(self.host.check([f"{tool}-save"], what=f"{tool}-save"))

    def present(self) -> bool:
        return any(_netc_objects(self.save(tool)) for tool, _, _ in _FAMILIES)

    def listing(self) -> str:
        out: list[str] = []
        for tool, _, _ in _FAMILIES:
            for table, lines in _netc_objects(self.save(tool)).items():
                out += [f"{tool} *{table}", *lines]
        return "\n".join(out) + ("\n" if out else "")

    def install(self, compiled: Compiled) -> Installed:
        """Load IPv4 then IPv6, each in one `iptables-restore --noflush` step.

        A `--noflush` load declares netc's chains (which creates or flushes them) and inserts
        the jumps into INPUT/OUTPUT/FORWARD/POSTROUTING. A second load would insert the jumps
        again, so iptables-save is read first: when all of netc's jumps are in place the text is
        emitted with `jumps=False` (the chains are refilled, the jumps stay where they are).
        A partial leftover (some jumps or chains, not all) is removed first and loaded afresh.
        If a step fails, every family loaded so far goes back to what it was.
        """
        done: list[tuple[str, dict[str, iptables_save.Table]]] = []
        objects_before = iptables_nft_objects(self.host)
        for tool, _, _ in _FAMILIES:
            before = self.save(tool)
            try:
                complete = _jumps_complete(before)
                if not complete and _netc_objects(before):
                    self._restore(tool, iptables_save.removal(before, _is_netc)[0])
                text = iptables_text(compiled, tool, jumps=not complete)
                self._restore(tool, text, what=f"loading netc's {tool} rules")
            except NetcError:
                for back_tool, back_before in [*done, (tool, before)][::-1]:
                    self._roll_back(back_tool, back_before)
                created = sorted(iptables_nft_objects(self.host) - objects_before)
                drop_empty_objects(self.host, created)
                raise
            done.append((tool, before))
        return Installed(tuple(sorted(iptables_nft_objects(self.host) - objects_before)))

    def _restore(self, tool: str, text: str, what: str | None = None) -> None:
        if text:
            self.host.check([f"{tool}-restore", *RESTORE], text, what=what)

    def _roll_back(self, tool: str, before: dict[str, iptables_save.Table]) -> None:
        """Put netc's chains of one family back as they were (after a failed load).

        When netc's jumps were in place, the load only refilled its chains, so refilling them
        with the old rules restores the old state exactly (chains keep their place and the
        jumps were never touched). Otherwise the load added the chains: remove them again.
        """
        if _jumps_complete(before):
            self._restore(tool, _refill(before))
            return
        self._restore(tool, iptables_save.removal(self.save(tool), _is_netc)[0])
        if _netc_objects(before):
            self._restore(tool, _recreate(before))

    def remove(self, created_objects: Sequence[str] = ()) -> list[str]:
        report: list[str] = []
        for tool, _, _ in _FAMILIES:
            text, removed = iptables_save.removal(self.save(tool), _is_netc)
            self._restore(tool, text, what=f"removing netc's {tool} rules")
            report += [f"{tool} {line}" for line in removed]
        report += [f"empty {t}" for t in drop_empty_objects(self.host, created_objects)]
        return report


def _is_netc(chain: str) -> bool:
    return chain.startswith(NETC_PREFIX)


def _netc_objects(tables: dict[str, iptables_save.Table]) -> dict[str, list[str]]:
    """netc's chains, their rules and the jumps into them, per table, as save lines."""
    out: dict[str, list[str]] = {}
    for table in tables.values():
        lines = [f":{c.name}" for c in table.chains if _is_netc(c.name)]
        lines += [
            f"-A {r.chain} {r.spec}"
            for r in table.rules
            if _is_netc(r.chain) or (r.target or "").startswith(NETC_PREFIX)
        ]
        if lines:
            out[table.name] = lines
    return out


def _jumps_complete(tables: dict[str, iptables_save.Table]) -> bool:
    """Every jump netc's emitter inserts is there, exactly once, into an existing chain."""
    from netc.emitters.iptables import CHAINS

    for table_name, chain, parent in CHAINS:
        table = tables.get(table_name)
        if table is None or table.chain(chain) is None:
            return False
        jumps = [r for r in table.rules_in(parent) if r.spec == f"-j {chain}"]
        if len(jumps) != 1:
            return False
    return True


def _refill(tables: dict[str, iptables_save.Table]) -> str:
    """Restore text that flushes netc's chains and puts back the rules they held."""
    out: list[str] = []
    for table in tables.values():
        chains = [c.name for c in table.chains if _is_netc(c.name)]
        if chains:
            out.append(f"*{table.name}")
            out += [f":{c} - [0:0]" for c in chains]
            out += [f"-A {r.chain} {r.spec}" for r in table.rules if _is_netc(r.chain)]
            out.append("COMMIT")
    return "\n".join(out) + "\n" if out else ""


def _recreate(tables: dict[str, iptables_save.Table]) -> str:
    """Restore text that rebuilds netc's chains, rules and jumps as iptables-save showed them."""
    out: list[str] = []
    for table in tables.values():
        chains = [c.name for c in table.chains if _is_netc(c.name)]
        if not chains:
            continue
        out.append(f"*{table.name}")
        out += [f":{c} - [0:0]" for c in chains]
        for rule in table.rules:
            if not _is_netc(rule.chain) and (rule.target or "").startswith(NETC_PREFIX):
                position = table.rules_in(rule.chain).index(rule) + 1
                out.append(f"-I {rule.chain} {position} {rule.spec}")
        out += [f"-A {r.chain} {r.spec}" for r in table.rules if _is_netc(r.chain)]
        out.append("COMMIT")
    return "\n".join(out) + "\n" if out else ""


def iptables_nft_objects(host: Host) -> set[str]:
    """The iptables-nft tables and base chains that exist: {"ip filter", "ip filter INPUT"}.

    iptables-nft creates `ip filter` / `ip nat` (and ip6) and the built-in chains a load uses,
    and leaves them, empty, when the rules go. Comparing this set before and after a load tells
    what netc created, so `down` can delete exactly that once it is empty. Needs the `nft`
    binary; without it (or with iptables-legacy, whose tables nft cannot see) it is empty.
    """
    if which("nft") is None:
        return set()
    out = set()
    for kind, body in nft_items(host, ["list", "chains"]):
        if kind != "chain" or body["family"] not in ("ip", "ip6") or "hook" not in body:
            continue
        if body["table"] in ("filter", "nat"):
            out.add(f"{body['family']} {body['table']}")
            out.add(f"{body['family']} {body['table']} {body['name']}")
    return out


def drop_empty_objects(host: Host, objects: Sequence[str]) -> list[str]:
    """Delete the iptables-nft base chains and tables netc created, if they now hold nothing.

    A chain goes only when it is a base chain with policy accept and no rule; a table only when
    no chain, set or map is left in it: a foreign rule can never go with them.
    """
    dropped: list[str] = []
    if not objects or which("nft") is None:
        return dropped
    for chain in sorted(o for o in objects if len(o.split()) == 3):
        family, table, name = chain.split()
        items = nft_items(host, ["list", "chain", family, table, name])
        bodies = [body for kind, body in items if kind == "chain"]
        if not bodies or any(kind == "rule" for kind, _ in items):
            continue
        if "hook" not in bodies[0] or bodies[0].get("policy") != "accept":
            continue
        host.check(["nft", "delete", "chain", family, table, name], what=f"deleting {chain}")
        dropped.append(f"chain {chain}")
    for table in sorted(o for o in objects if len(o.split()) == 2):
        items = nft_items(host, ["list", "table", *table.split()])
        if not items or {kind for kind, _ in items} - {"metainfo", "table"}:
            continue
        host.check(["nft", "delete", "table", *table.split()], what=f"deleting table {table}")
        dropped.append(f"table {table}")
    return dropped


def make_backend(name: str, host: Host) -> Backend:
    return NftBackend(host) if name == "nftables" else IptablesBackend(host)


@dataclass(frozen=True, slots=True)
class Choice:
    name: str  # "nftables" | "iptables"
    reason: str  # said to the user: where the choice came from


def choose_backend(
    requested: str | None,
    configured: str | None,
    config_path: str | None,
    option: str = "--backend",
) -> Choice:
    """Explicit option, else the config file, else auto-detect: nft first, then iptables.

    Like libvirt's `network.conf`, a backend is usable when its binaries are on PATH; a backend
    named explicitly whose binaries are missing is an error, not a silent fallback.
    """
    if requested and requested != "auto":
        return Choice(requested, f"chosen with {option}")
    if configured and requested != "auto":
        return Choice(configured, f"firewall_backend in {config_path}")
    if which("nft"):
        return Choice("nftables", "auto-detected: nft found in PATH")
    if all(which(b) for b in IptablesBackend(Host()).binaries()):
        return Choice("iptables", "auto-detected: no nft in PATH, iptables-restore found")
    raise NetcError(
        Diagnostic(
            "could not find a usable firewall backend",
            hint="install the 'nftables' package (or 'iptables'); nothing was changed",
        )
    )

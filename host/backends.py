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

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from netc.compiler.api import Compiled, emit
from netc.diagnostics import Diagnostic, NetcError
from netc.emitters import TARGETS, header
from netc.ir.model import Family

from . import iptables_save
from .run import Host, which

NFT_TABLE = "inet netc"
NETC_PREFIX = "NETC_"


@dataclass(frozen=True, slots=True)
class Installed:
    created_tables: tuple[str, ...]  # iptables-nft tables the load created ("ip filter")


class Backend(Protocol):
    name: str

    def binaries(self) -> tuple[str, ...]: ...

    def present(self) -> bool: ...

    def listing(self) -> str: ...

    def install(self, compiled: Compiled) -> Installed: ...

    def remove(self, created_tables: Sequence[str] = ()) -> list[str]: ...


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
    emitter = TARGETS[target]
    names = [name.rsplit("/", 1)[-1] for name in compiled.sources]
    return header(emitter, names, False) + emitter.setup(compiled.intents, jumps=jumps)


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

    def remove(self, created_tables: Sequence[str] = ()) -> list[str]:
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

    def variant(self) -> str:
        """'nf_tables' or 'legacy', from `iptables-save --version`."""
        text = self.host.run(["iptables-save", "--version"]).stdout
        return "legacy" if "legacy" in text else "nf_tables"

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
        created: list[str] = []
        variant = self.variant()
        for tool, nft_family, _ in _FAMILIES:
            before = self.save(tool)
            try:
                complete = _jumps_complete(before)
                if not complete and _netc_objects(before):
                    self._restore(tool, iptables_save.removal(before, _is_netc)[0])
                text = iptables_text(compiled, tool, jumps=not complete)
                self._restore(tool, text, what=f"loading netc's {tool} rules")
            except NetcError:
                for back_tool, back_before in [*done, (tool, before)][::-1]:
                    self._roll_back(back_tool, back_before, variant)
                raise
            done.append((tool, before))
            if variant == "nf_tables":
                after = self.save(tool)
                created += [f"{nft_family} {t}" for t in after if t not in before]
        return Installed(tuple(created))

    def _restore(self, tool: str, text: str, what: str | None = None) -> None:
        if text:
            self.host.check([f"{tool}-restore", "--noflush"], text, what=what)

    def _roll_back(self, tool: str, before: dict[str, iptables_save.Table], variant: str) -> None:
        """Put netc's chains of one family back as they were (best effort, after a failure)."""
        now = self.save(tool)
        self._restore(tool, iptables_save.removal(now, _is_netc)[0])
        if _netc_objects(before):
            self._restore(tool, _recreate(before))
        if variant == "nf_tables":
            nft_family = "ip" if tool == "iptables" else "ip6"
            gone = [f"{nft_family} {t}" for t in self.save(tool) if t not in before]
            drop_empty_tables(self.host, gone)

    def remove(self, created_tables: Sequence[str] = ()) -> list[str]:
        report: list[str] = []
        for tool, _, _ in _FAMILIES:
            text, removed = iptables_save.removal(self.save(tool), _is_netc)
            self._restore(tool, text, what=f"removing netc's {tool} rules")
            report += [f"{tool} {line}" for line in removed]
        report += [f"empty table {t}" for t in drop_empty_tables(self.host, created_tables)]
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


def drop_empty_tables(host: Host, tables: Sequence[str]) -> list[str]:
    """Delete iptables-nft tables that netc's load created, if they now hold nothing.

    iptables-nft creates `ip filter` / `ip nat` (and ip6) when rules are first loaded, and leaves
    them, with empty built-in chains, when the rules go. A table is deleted only when every chain
    in it is an empty base chain with policy accept and it has no sets or maps, so no foreign
    rule can go with it. Needs the `nft` binary; without it the empty tables stay.
    """
    dropped: list[str] = []
    if not tables or which("nft") is None:
        return dropped
    for table in tables:
        result = host.run(["nft", "-j", "list", "table", *table.split()])
        if result.returncode != 0:
            continue
        items = [next(iter(obj.items())) for obj in json.loads(result.stdout)["nftables"]]
        kinds = {kind for kind, _ in items} - {"metainfo", "table"}
        chains = [body for kind, body in items if kind == "chain"]
        if kinds - {"chain"} or any("hook" not in c or c.get("policy") != "accept" for c in chains):
            continue
        host.check(["nft", "delete", "table", *table.split()], what=f"deleting empty table {table}")
        dropped.append(table)
    return dropped


def make_backend(name: str, host: Host) -> Backend:
    return NftBackend(host) if name == "nftables" else IptablesBackend(host)


@dataclass(frozen=True, slots=True)
class Choice:
    name: str  # "nftables" | "iptables"
    reason: str  # said to the user: where the choice came from


def choose_backend(
    requested: str | None, configured: str | None, config_path: str | None
) -> Choice:
    """Explicit option, else the config file, else auto-detect: nft first, then iptables.

    Like libvirt's `network.conf`, a backend is usable when its binaries are on PATH; a backend
    named explicitly whose binaries are missing is an error, not a silent fallback.
    """
    if requested and requested != "auto":
        return Choice(requested, "chosen with --backend")
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

"""`netc status`: which backend holds netc's rules, which networks are up, and drift.

Drift has two sides, and both are reported: the live rules are not what netc loaded (someone
ran `nft flush ruleset`, restarted a firewall service, deleted a chain), or the files on disk no
longer say what was applied (edited since). Lost or changed rules are put back by `netc restore`
(the state holds what was applied; nothing else changes); an edited file goes live with `netc
apply`. A network with `isolate guests` also drifts when a port of its bridge lacks the
`isolated` flag, and one with `expose` when a port lacks `hairpin_mode`: libvirt/qemu attached
a guest after the apply, and `netc apply` sets them. libvirt's rules for netc's bridges,
nftables or iptables (still there because netc was applied, not migrated to), are drift too:
`netc migrate` removes them (libvirt_leftovers.py). Networks adopted from libvirt get a line
each with libvirt's view of them (libvirt_adopt.py): rules libvirt holds for them again, or
netc's missing, are drift.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from . import dnsmasq, libvirt_leftovers, links
from .port_isolation import HAIRPIN, ports_isolated, unisolated_ports
from .backends import available, make_backend
from .lifecycle import Report, Where, compile_stored, read_files

# Rules gone or changed while the state still holds what was applied: `netc restore` loads
# exactly that again and touches nothing else (`netc apply` would also re-read the files, which
# may have been edited since, and redo links and servers).
RESTORE_HINT = "run `netc restore` (loads the applied rules again, changes nothing else)"


@dataclass(frozen=True, slots=True)
class Status:
    report: Report
    drift: bool


def status(files: Sequence[str], where: Where) -> Status:
    report = Report()
    host = where.host()
    old = where.state()
    drift = False
    live = {}
    for name in ("nftables", "iptables"):
        backend = make_backend(name, host)
        live[name] = (backend, available(backend) and backend.present())
    holders = [name for name, (_, present) in live.items() if present]
    report.say(f"live netc rules in: {', '.join(holders) or 'no backend'}")
    if old is None:
        report.say("applied: nothing (no state file at " + where.state_file + ")")
        return Status(report, _adopted(where, host, report) or bool(holders))
    report.say(f"applied with: {old.backend}")
    backend, present = live[old.backend]
    if not present:
        drift = True
        report.say(
            f"drift: netc's rules are missing from {old.backend} "
            f"(flushed, e.g. by `nft flush ruleset` or a firewall restart?); {RESTORE_HINT}"
        )
    elif backend.listing() != old.live:
        drift = True
        report.say(
            f"drift: the live {old.backend} rules differ from what netc loaded; {RESTORE_HINT}"
        )
    for name in holders:
        if name != old.backend:
            drift = True
            report.say(f"drift: stale netc rules in {name}; `netc migrate --to {old.backend}`")
    from .libvirt_adopt import load_record

    adopted = load_record(where)
    declared = compile_stored(old.sources).program.networks
    networks = [n for n in declared if n.name not in adopted]
    drift = _adopted(where, host, report) or drift
    for stale in libvirt_leftovers.find(host, networks):
        drift = True
        report.say(f"drift: {stale.with_fix(f'netc migrate --to {old.backend}')}")
    directory = dnsmasq.directory_for(where.state_file)
    ours = {owned.name for owned in old.networks if owned.created}
    for net in declared:
        if net.name in ours and dnsmasq.serves(net):
            problem = dnsmasq.drift(net, dnsmasq.Server(directory, net.name))
            if problem:
                drift = True
                report.say(f"drift: {problem}; `netc restore --bridges` starts it again")
    exposing = {net.name for net in declared if net.port_forwards}
    found = links.inspect(where.netns, [n.bridge for n in old.networks])
    for owned in old.networks:
        info = found.get(owned.bridge)
        if info is None:
            drift = True
            fix = "; `netc restore --bridges` creates it again" if owned.created else ""
            report.say(f"network {owned.name}: bridge {owned.bridge} missing{fix}")
            continue
        missing = [a for a in owned.addresses if a not in info.addresses]
        state = "up" if info.up else "down"
        extra = f", missing {', '.join(missing)}" if missing else ""
        drift = drift or not info.up or bool(missing)
        report.say(f"network {owned.name}: bridge {owned.bridge} {state}{extra}")
        if owned.isolate:
            loose = unisolated_ports(where.netns, owned.bridge)
            if loose:
                drift = True
                report.say(f"drift: {isolation_drift(owned.name, owned.bridge, loose)}")
        if owned.name in exposing:
            flags = ports_isolated(where.netns, owned.bridge, HAIRPIN)
            lacking = [port for port, hairpin in flags.items() if not hairpin]
            if lacking:
                drift = True
                report.say(f"drift: {hairpin_drift(owned.name, owned.bridge, lacking)}")
    current = read_files(files) if files else _current(old.sources)
    for path in sorted(set(current) | (set(old.sources) if not files else set())):
        if path not in old.sources:
            drift = True
            report.say(f"drift: {path} is not applied")
        elif current.get(path) is None:
            drift = True
            report.say(f"drift: {path} was applied but is gone or unreadable")
        elif current[path] != old.sources[path]:
            drift = True
            report.say(f"drift: {path} changed since it was applied; run `netc apply {path}`")
    if not drift:
        report.say("in sync: live rules and links match the applied files")
    return Status(report, drift)


def _adopted(where: Where, host, report: Report) -> bool:
    """Networks adopted from libvirt (libvirt_adopt.py): one line each, drift with its fix."""
    from .libvirt_adopt import load_record, views

    drift = False
    for view in views(where, host) if load_record(where) else ():
        report.say(view.line)
        for problem, fix in view.problems:
            drift = True
            report.say(f"drift: {problem}; {fix}")
    return drift


def isolation_drift(network: str, bridge: str, ports: Sequence[str]) -> str:
    """Why unflagged ports matter and the two fixes (shared with `netc doctor`)."""
    return (
        f"network {network} isolates guests, but port(s) {', '.join(ports)} of {bridge} lack the "
        "isolated flag (attached after `netc apply`, e.g. a guest libvirt/qemu started), so "
        "their guests reach the others; run `netc apply` again to flag them, and in libvirt "
        "put `<port isolated='yes'/>` in the network XML so new ports get the flag at once"
    )


def hairpin_drift(network: str, bridge: str, ports: Sequence[str]) -> str:
    """Why a port of an `expose` network without hairpin_mode matters, and the fix."""
    return (
        f"network {network} exposes ports, but port(s) {', '.join(ports)} of {bridge} lack "
        "hairpin_mode (attached after `netc apply`), so with br_netfilter loaded their guests "
        "cannot reach their own forwarded ports through the host's address; run `netc apply` "
        "again to set it"
    )


def _current(sources: dict[str, str]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for path in sources:
        try:
            with open(path, encoding="utf-8") as handle:
                out[path] = handle.read()
        except (OSError, UnicodeDecodeError):
            out[path] = None
    return out

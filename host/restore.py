"""`netc restore`: load again the rules netc's state records, after something wiped them.

A reboot, `systemctl restart nftables` (its `flush ruleset` empties every table, netc's too) or
a firewall that flushes iptables on reload takes netc's rules away while the state still says
they are applied. Restore loads exactly what the state holds: the source texts that were
applied (never the files on disk, which may have been edited since), with the backend they were
applied with, for every network in the state, however it got there. It starts no daemon and
creates no link, so it can run at boot before anything else: netc's rules match interface
names, and hold from the moment the bridge's owner (libvirt, the admin) brings it up.

One opt-in exception, `bridges=True` (the boot unit uses it): a bridge netc itself created (the
state says so) is created again, with the addresses netc gave it, and the network's dnsmasq
(DHCP/DNS, dnsmasq.py) is started again, or kept when it runs with the current config. A real
reboot loses both, and nobody else will bring them back; a bridge netc found in place is never
created, and keeps whoever serves it (as with `netc apply`).

The forwarding sysctls netc turned on are set again (a reboot resets them), and only those: a
key that was already on when netc applied is someone else's to set.

Idempotent: rules already live as recorded are left alone; anything else reloads the backend's
whole set in one step (the nft table replaced; iptables chains refilled, jumps never doubled).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace

from netc.ir.model import Network

from . import dnsmasq, forwarding, links
from .backends import make_backend, require
from .lifecycle import Report, Where, compile_stored
from .run import Host
from .state import NetworkState, State, save_state


def restore(where: Where, bridges: bool = False) -> Report:
    """Restore under the state's lock; with no state, say so and create nothing (no lock file,
    no state directory: a boot with nothing applied leaves no trace)."""
    where.host()
    if not os.path.exists(where.state_file):
        return _nothing(where)
    with where.locked():
        return _restore(where, bridges)


def _nothing(where: Where) -> Report:
    report = Report()
    report.say(
        f"nothing to restore: netc has applied nothing here (no state at {where.state_file})"
    )
    return report


def _restore(where: Where, bridges: bool) -> Report:
    report = Report()
    host = where.host()
    old = where.state()
    if old is None or not old.sources:
        return _nothing(where)
    backend = make_backend(old.backend, host)
    require(backend)
    compiled = compile_stored(old.sources)
    networks = compiled.program.networks
    names = ", ".join(net.name for net in networks)
    served = _served(old, networks) if bridges else []
    if served:
        dnsmasq.require()  # before anything changes, as `netc apply` does

    created_objects = old.created_objects
    if backend.present() and backend.listing() == old.live:
        report.say(f"rules: already in {old.backend} as netc loaded them ({names})")
    else:
        installed = backend.install(compiled)
        created_objects += tuple(
            o for o in installed.created_objects if o not in old.created_objects
        )
        report.say(f"rules: loaded into {old.backend} from netc's state ({names})")

    for key in _forwarding(host, old, forwarding.needed(networks)):
        report.say(f"forwarding: {key} = 1 (again)")

    owned = old.networks
    if bridges:
        lines, owned = _bridges(where, old, networks)
        for line in lines:
            report.say(line)
    else:
        missing = _missing_bridges(where, old)
        if missing:
            report.say(
                f"bridges not there yet: {', '.join(missing)} (the rules hold once their "
                "owner brings them up)"
            )

    now = replace(old, created_objects=created_objects, live=backend.listing(), networks=owned)
    if now != old:
        save_state(where.state_file, now)
    directory = dnsmasq.directory_for(where.state_file)
    for net in served:  # once the bridges are there, which each dnsmasq binds to
        what = dnsmasq.ensure(host, net, dnsmasq.Server(directory, net.name))
        report.say(f"network {net.name}: {what}")
    return report


def _forwarding(host: Host, old: State, wanted: list[str]) -> list[str]:
    """Turn on again the forwarding keys netc itself turned on (recorded in the state)."""
    turned = []
    for key in wanted:
        if key in old.sysctls and host.read_sysctl(key) not in (None, "1"):
            host.write_sysctl(key, "1")
            turned.append(key)
    return turned


def _served(old: State, networks: Sequence[Network]) -> list[Network]:
    """The networks `netc apply` runs a dnsmasq for: netc created their bridge (the state says
    so) and they serve DHCP/DNS."""
    ours = {owned.name for owned in old.networks if owned.created}
    return [net for net in networks if net.name in ours and dnsmasq.serves(net)]


def _missing_bridges(where: Where, old: State) -> list[str]:
    found = links.inspect(where.netns, [n.bridge for n in old.networks])
    return [n.bridge for n in old.networks if n.bridge not in found]


def _bridges(
    where: Where, old: State, networks: Sequence[Network]
) -> tuple[list[str], tuple[NetworkState, ...]]:
    """Bring back the bridges netc created (missing, down or lacking netc's addresses); returns
    what it said and the networks' state (a bridge made again has a new ifindex)."""
    said = []
    owned_now = []
    by_name = {net.name: net for net in networks}
    found = links.inspect(where.netns, [n.bridge for n in old.networks])
    for owned in old.networks:
        owned_now.append(owned)
        net = by_name.get(owned.name)
        info = found.get(owned.bridge)
        if net is None:
            continue
        if not owned.created:
            if info is None:
                said.append(
                    f"network {owned.name}: bridge {owned.bridge} not there yet (not netc's: "
                    "its owner creates it; the rules hold once it is up)"
                )
            continue
        if info is not None and info.up and set(owned.addresses) <= set(info.addresses):
            continue
        links.check_bridges(where.netns, [net])
        owned_now[-1] = replace(
            links.bring_up(where.netns, net, owned.file, info, owned),
            isolate=owned.isolate,
            flagged=owned.flagged,
            hairpinned=owned.hairpinned,
        )
        what = "created again" if info is None else "repaired"
        addrs = ", ".join(owned.addresses) or "no address of netc's"
        said.append(f"network {owned.name}: bridge {owned.bridge} ({what}, netc's), {addrs}, up")
    return said, tuple(owned_now)

"""`netc apply`: bridges, addresses, forwarding and rules for every network, in a safe order.

Everything that can be checked is checked before anything changes (the files compile, the
backend's binaries exist, no bridge name is taken by another kind of link). Then the rules load
in one step per backend, which the kernel takes whole or not at all; then the links change (and,
for `isolate guests`, the bridge ports' `isolated` flag, see port_isolation.py) and the sysctls. If a later step fails, the earlier ones are undone, so a failed apply leaves the host as
it was. Applying adds to what is already applied: the state keeps every applied file's text, and
a file applied again replaces its earlier version (networks it no longer declares go down).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from netc.diagnostics import Diagnostic, NetcError
from netc.ir.model import Network

from . import dnsmasq, forwarding, libvirt_leftovers, links, port_isolation
from .backends import Backend, choose_backend, make_backend, require
from .config import load_config
from .lifecycle import Report, Where, compile_stored, read_files
from .run import Host
from .state import FlaggedPort, NetworkState, State, save_state


def apply(files: Sequence[str], where: Where, backend: str | None = None) -> Report:
    sources = read_files(files)
    with where.locked():
        return apply_sources(sources, where, backend, libvirt_note=True)


def apply_sources(
    new_sources: dict[str, str],
    where: Where,
    backend: str | None,
    libvirt_note: bool = False,
    option: str = "--backend",
) -> Report:
    """Apply the stored sources updated with `new_sources` (path -> text); caller holds the lock.

    `apply` does not take bridges over from libvirt (`migrate` does); with `libvirt_note` it
    says so when libvirt's rules for these bridges (nft or iptables) are live. A network whose
    bridge netc created gets netc's dnsmasq for its DHCP/DNS; one on a bridge that was there
    already (libvirt's, adopted or migrated) keeps whoever serves it now.
    """
    report = Report()
    host = where.host()
    old = where.state()
    config = load_config(where.config)
    choice = choose_backend(backend, config.firewall_backend, config.path, option)
    report.say(f"backend: {choice.name} ({choice.reason})")

    sources = dict(old.sources) if old else {}
    sources.update(new_sources)
    compiled = compile_stored(sources)
    networks = compiled.program.networks

    # Checks: nothing has changed yet.
    chosen = make_backend(choice.name, host)
    require(chosen)
    previous_backend = make_backend(old.backend, host) if old else None
    if old is not None and previous_backend is not None and old.backend != choice.name:
        require(previous_backend)
    before = links.check_bridges(where.netns, networks)
    if any(_netc_bridge(net, before, old) and dnsmasq.serves(net) for net in networks):
        dnsmasq.require()

    # Rules: one step per backend; unchanged rules are not reloaded at all.
    unchanged = (
        old is not None
        and old.backend == choice.name
        and old.sources == sources
        and chosen.listing() == old.live
    )
    created_objects = tuple(old.created_objects) if old and old.backend == choice.name else ()
    if unchanged:
        report.say("rules: unchanged")
    else:
        installed = chosen.install(compiled)
        created_objects += tuple(t for t in installed.created_objects if t not in created_objects)
        report.say(f"rules: loaded into {choice.name}")

    # Links: first recorded as intended (a kill from here on leaves nothing `down` cannot
    # find), then made; this run's link changes and rules are undone if anything fails here.
    files = {net.name: next(p for p in sources if net.span.file == p) for net in networks}
    planned = [
        links.intended(
            net, files[net.name], before.get(net.bridge), old.network(net.name) if old else None
        )
        for net in networks
    ]
    leaving = [n for n in old.networks if n.name not in files] if old else []
    save_state(
        where.state_file,
        State(
            choice.name,
            sources,
            tuple(planned + leaving),
            old.sysctls if old else {},
            created_objects,
            chosen.listing(),
        ),
    )
    owned: list[NetworkState] = []
    flagged_now: list[tuple[str, tuple[FlaggedPort, ...]]] = []  # (bridge, ports) this run
    hairpin_now: list[tuple[str, tuple[FlaggedPort, ...]]] = []
    try:
        for net in networks:
            prior = old.network(net.name) if old else None
            if prior is not None and prior.bridge != net.bridge:
                links.take_down(where.netns, prior)
                prior = None
            state = links.bring_up(where.netns, net, files[net.name], before.get(net.bridge), prior)
            owned.append(state)
            report.say(_describe(state, before.get(net.bridge)))
            owned[-1], newly = _isolation(where.netns, net, owned[-1], prior, report)
            flagged_now.append((net.bridge, newly))
            owned[-1], newly = _hairpin(where.netns, net, owned[-1], prior, report)
            hairpin_now.append((net.bridge, newly))
    except BaseException as err:
        for bridge, ports in flagged_now:
            port_isolation.restore_ports(where.netns, bridge, ports)
        for bridge, ports in hairpin_now:
            port_isolation.restore_ports(where.netns, bridge, ports, port_isolation.HAIRPIN)
        _undo(where, old, owned, chosen, unchanged, created_objects)
        save_state(where.state_file, old)  # the links and rules are as they were again
        if _is_netlink_error(err):
            raise NetcError(
                Diagnostic(
                    f"network {net.name}: setting up bridge {net.bridge} failed: {err}",
                    net.span,
                    "the rules and links this run added were taken away again",
                )
            ) from err
        raise

    keep = {n.name for n in networks}
    for gone in old.networks if old else ():
        if gone.name not in keep:
            links.take_down(where.netns, gone)
            report.say(f"network {gone.name}: no longer declared, taken down")

    if old is not None and previous_backend is not None and old.backend != choice.name:
        for line in previous_backend.remove(old.created_objects):
            report.say(f"removed from {old.backend}: {line}")

    wanted = forwarding.needed(networks)
    sysctls = forwarding.enable(host, wanted, old.sysctls if old else {})
    sysctls = forwarding.restore(host, sysctls, wanted)
    for key in wanted:
        report.say(f"forwarding: {key} = 1")

    save_state(
        where.state_file,
        State(choice.name, sources, tuple(owned), sysctls, created_objects, chosen.listing()),
    )
    served = [net for net, state in zip(networks, owned) if state.created and dnsmasq.serves(net)]
    _servers(host, where, old, served, report)
    for stale in libvirt_leftovers.find(host, networks) if libvirt_note else ():
        report.say(f"note: {stale.with_fix(f'netc migrate --to {choice.name}')}")
    return report


def _netc_bridge(net: Network, before: dict[str, "links.LinkInfo"], old: State | None) -> bool:
    """Whether netc will own the network's bridge (and so serve its DHCP/DNS): it creates it
    now, or created it before."""
    prior = old.network(net.name) if old else None
    return net.bridge not in before or bool(prior and prior.created and prior.bridge == net.bridge)


def _servers(
    host: Host, where: Where, old: State | None, served: Sequence[Network], report: Report
) -> None:
    """One dnsmasq per network that serves DHCP/DNS; stopped for networks that no longer do."""
    directory = dnsmasq.directory_for(where.state_file)
    for net in served:
        what = dnsmasq.ensure(host, net, dnsmasq.Server(directory, net.name))
        report.say(f"network {net.name}: {what}")
    keep = {net.name for net in served}
    for gone in old.networks if old else ():
        if gone.name not in keep and dnsmasq.stop(dnsmasq.Server(directory, gone.name), True):
            report.say(f"network {gone.name}: dnsmasq stopped")


def _hairpin(
    netns: str | None, net: Network, state: NetworkState, prior: NetworkState | None, report
) -> tuple[NetworkState, tuple[FlaggedPort, ...]]:
    """`expose` with br_netfilter loaded: a guest reaching its own forwarded port through the
    host's address is DNATed back to itself, and the bridge sends that frame back out of the
    port it came in by only with hairpin_mode on that port (as Docker sets it). Ports present
    now get it; ports attached later get it when `netc apply` runs again. Returns the new state
    and the ports this call changed (down clears exactly the recorded ones)."""
    hairpin = port_isolation.HAIRPIN
    before = port_isolation.still_flagged(netns, net.bridge, prior.hairpinned) if prior else ()
    if not net.port_forwards:
        port_isolation.restore_ports(netns, net.bridge, before, hairpin)
        return replace(state, hairpinned=()), ()
    newly = port_isolation.isolate_ports(netns, net.bridge, hairpin)
    if newly:
        names = ", ".join(p.name for p in newly)
        report.say(f"network {net.name}: hairpin_mode set on the ports of {net.bridge}: {names}")
    return replace(state, hairpinned=before + newly), newly


def _isolation(
    netns: str | None,
    net: Network,
    state: NetworkState,
    prior: NetworkState | None,
    report: Report,
) -> tuple[NetworkState, tuple[FlaggedPort, ...]]:
    """Set the `isolated` flag on the bridge's current ports for `isolate guests`, or clear the
    flags an earlier apply set when the network no longer isolates; returns the new state and
    the ports flagged by this call (undone if a later network fails)."""
    before = port_isolation.still_flagged(netns, net.bridge, prior.flagged) if prior else ()
    if not net.isolate_guests:
        cleared = port_isolation.restore_ports(netns, net.bridge, before)
        if cleared:
            report.say(f"network {net.name}: isolated flag cleared on {', '.join(cleared)}")
        return state, ()
    newly = port_isolation.isolate_ports(netns, net.bridge)
    if newly:
        names = ", ".join(port.name for port in newly)
        report.say(f"network {net.name}: isolated flag set on the ports of {net.bridge}: {names}")
    elif not port_isolation.ports_isolated(netns, net.bridge):
        report.say(f"network {net.name}: {net.bridge} has no ports yet; {LATE_PORTS}")
    return replace(state, isolate=True, flagged=before + newly), newly


LATE_PORTS = (
    "ports attached later (guests started by libvirt/qemu) need the isolated flag too: "
    "re-run `netc apply`, or in libvirt put `<port isolated='yes'/>` in the network XML"
)


def _is_netlink_error(err: BaseException) -> bool:
    from pyroute2.netlink.exceptions import NetlinkError

    return isinstance(err, (NetlinkError, OSError))


def _describe(state: NetworkState, before: "links.LinkInfo | None") -> str:
    what = "created" if before is None else ("netc's" if state.created else "already there")
    addrs = ", ".join(state.addresses) or "no new address"
    return f"network {state.name}: bridge {state.bridge} ({what}), {addrs}, up"


def _undo(
    where: Where,
    old: State | None,
    owned: list[NetworkState],
    chosen: Backend,
    unchanged: bool,
    created_objects: tuple[str, ...],
) -> None:
    """Best effort after a failed link step: links this run created go, rules go back."""
    for state in owned:
        if old is None or old.network(state.name) is None:
            links.take_down(where.netns, state)
    if unchanged:
        return
    if old is not None and old.backend == chosen.name:
        chosen.install(compile_stored(old.sources))
    else:
        chosen.remove(created_objects)

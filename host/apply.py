"""`netc apply`: bridges, addresses, forwarding and rules for every network, in a safe order.

Everything that can be checked is checked before anything changes (the files compile, the
backend's binaries exist, no bridge name is taken by another kind of link). Then the rules load
in one step per backend, which the kernel takes whole or not at all; then the links change (and
the bridge ports' flags: `isolated` for `isolate guests`, `hairpin_mode` for `expose`, see
port_isolation.py), the sysctls, and the networks' dnsmasq (dnsmasq.py). Each step is one
function below, called in that order by `apply_sources`. If a link step fails, the earlier ones
are undone, so a failed apply leaves the host as it was. Applying adds to what is already
applied: the state keeps every applied file's text, and a file applied again replaces its
earlier version (networks it no longer declares go down).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from netc.diagnostics import Diagnostic, NetcError
from netc.ir.model import Network

from . import dnsmasq, forwarding, libvirt_leftovers, links, port_isolation
from .backends import Backend, choose_backend, make_backend, require
from .config import load_config
from .lifecycle import Report, Where, compile_stored, read_files
from .run import Host
from .state import FlaggedPort, NetworkState, State, save_state

if TYPE_CHECKING:
    from netc.pipeline import Compiled


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
    run = _prepare(new_sources, where, backend, option)
    _check(run)
    _load_rules(run)
    _record_intent(run)
    owned = _bring_up(run)
    _retire(run)
    sysctls = _forwarding(run)
    save_state(
        where.state_file,
        State(run.chosen.name, run.sources, tuple(owned), sysctls, run.objects, run.listing()),
    )
    served = [n for n, state in zip(run.networks, owned) if state.created and dnsmasq.serves(n)]
    _servers(run.host, where, run.old, served, run.report)
    for stale in libvirt_leftovers.find(run.host, run.networks) if libvirt_note else ():
        run.report.say(f"note: {stale.with_fix(f'netc migrate --to {run.chosen.name}')}")
    return run.report


@dataclass
class _Run:
    """What one apply works from, filled in step by step: the old state, the chosen backend,
    the compiled networks, the bridges found, and what the rules step did (for undo)."""

    where: Where
    host: Host
    report: Report
    old: State | None
    chosen: Backend
    previous: Backend | None  # the old state's backend, when this run switches away from it
    sources: dict[str, str]
    networks: tuple[Network, ...]
    files: dict[str, str]  # network name -> the source file declaring it
    compiled: Compiled
    before: dict[str, links.LinkInfo] = field(default_factory=dict)  # bridges there already
    unchanged: bool = False  # the rules are live as the old state recorded them: not reloaded
    objects: tuple[str, ...] = ()  # the backend objects netc created (tables, chains)

    def listing(self) -> str:
        return self.chosen.listing()

    def prior(self, net: Network) -> NetworkState | None:
        return self.old.network(net.name) if self.old else None


def _prepare(new_sources: dict[str, str], where: Where, backend: str | None, option: str) -> _Run:
    """Read the state and config, choose the backend and compile every applied source: a bad
    file or config stops the run here, before anything is looked up on the host."""
    report = Report()
    host = where.host()
    old = where.state()
    config = load_config(where.config)
    choice = choose_backend(backend, config.firewall_backend, config.path, option)
    report.say(f"backend: {choice.name} ({choice.reason})")
    sources = dict(old.sources) if old else {}
    sources.update(new_sources)
    compiled = compile_stored(sources)
    networks = tuple(compiled.program.networks)
    files = {net.name: next(p for p in sources if net.span.file == p) for net in networks}
    chosen = make_backend(choice.name, host)
    previous = None
    if old is not None and old.backend != choice.name:
        previous = make_backend(old.backend, host)
    return _Run(where, host, report, old, chosen, previous, sources, networks, files, compiled)


def _check(run: _Run) -> None:
    """Everything checkable before a change, so a refusal leaves the host untouched: both
    backends' binaries (a switch removes the old rules), no bridge name taken by another kind
    of link, dnsmasq installed where netc will serve DHCP/DNS."""
    require(run.chosen)
    if run.previous is not None:
        require(run.previous)
    run.before = links.check_bridges(run.where.netns, run.networks)
    if any(_netc_bridge(n, run.before, run.old) and dnsmasq.serves(n) for n in run.networks):
        dnsmasq.require()


def _load_rules(run: _Run) -> None:
    """One load per backend, which the kernel takes whole or not at all; rules already live as
    the state recorded them are not reloaded (no window without them, no counters reset)."""
    old = run.old if run.old is not None and run.old.backend == run.chosen.name else None
    run.unchanged = (
        old is not None and old.sources == run.sources and run.chosen.listing() == old.live
    )
    run.objects = tuple(old.created_objects) if old is not None else ()
    if run.unchanged:
        run.report.say("rules: unchanged")
        return
    installed = run.chosen.install(run.compiled)
    run.objects += tuple(t for t in installed.created_objects if t not in run.objects)
    run.report.say(f"rules: loaded into {run.chosen.name}")


def _record_intent(run: _Run) -> None:
    """Record the links about to be made before making them: a run killed from here on leaves
    nothing `netc down` cannot find (networks leaving stay recorded until they are down)."""
    old = run.old
    planned = [
        links.intended(net, run.files[net.name], run.before.get(net.bridge), run.prior(net))
        for net in run.networks
    ]
    leaving = [n for n in old.networks if n.name not in run.files] if old else []
    save_state(
        run.where.state_file,
        State(
            run.chosen.name,
            run.sources,
            tuple(planned + leaving),
            old.sysctls if old else {},
            run.objects,
            run.listing(),
        ),
    )


def _bring_up(run: _Run) -> list[NetworkState]:
    """Make each network's bridge, addresses and port flags. Links fail in ways no check
    foresees (a netlink error, a kill), so on any failure this run's port flags, links and
    rules are undone and the old state is written back: the host is as it was."""
    netns, report = run.where.netns, run.report
    owned: list[NetworkState] = []
    flagged_now: list[tuple[str, tuple[FlaggedPort, ...]]] = []  # (bridge, ports) this run
    hairpin_now: list[tuple[str, tuple[FlaggedPort, ...]]] = []
    try:
        for net in run.networks:
            prior = run.prior(net)
            if prior is not None and prior.bridge != net.bridge:
                links.take_down(netns, prior)
                prior = None
            before = run.before.get(net.bridge)
            state = links.bring_up(netns, net, run.files[net.name], before, prior)
            owned.append(state)
            report.say(_describe(state, before))
            owned[-1], newly = _isolation(netns, net, owned[-1], prior, report)
            flagged_now.append((net.bridge, newly))
            owned[-1], newly = _hairpin(netns, net, owned[-1], prior, report)
            hairpin_now.append((net.bridge, newly))
    except BaseException as err:
        for bridge, ports in flagged_now:
            port_isolation.restore_ports(netns, bridge, ports)
        for bridge, ports in hairpin_now:
            port_isolation.restore_ports(netns, bridge, ports, port_isolation.HAIRPIN)
        _undo(run.where, run.old, owned, run.chosen, run.unchanged, run.objects)
        save_state(run.where.state_file, run.old)  # the links and rules are as they were again
        if _is_netlink_error(err):
            raise NetcError(
                Diagnostic(
                    f"network {net.name}: setting up bridge {net.bridge} failed: {err}",
                    net.span,
                    "the rules and links this run added were taken away again",
                )
            ) from err
        raise
    return owned


def _retire(run: _Run) -> None:
    """Only once every network is up: networks no longer declared go down, and after a backend
    switch the old backend's rules go (exactly one party holds the rules at the end)."""
    old = run.old
    keep = {n.name for n in run.networks}
    for gone in old.networks if old else ():
        if gone.name not in keep:
            links.take_down(run.where.netns, gone)
            run.report.say(f"network {gone.name}: no longer declared, taken down")
    if old is not None and run.previous is not None:
        for line in run.previous.remove(old.created_objects):
            run.report.say(f"removed from {old.backend}: {line}")


def _forwarding(run: _Run) -> dict[str, str]:
    """Turn on the forwarding sysctls the networks need, and back off the ones netc turned on
    that no network needs now; returns the keys' earlier values, which `netc down` restores."""
    wanted = forwarding.needed(run.networks)
    sysctls = forwarding.enable(run.host, wanted, run.old.sysctls if run.old else {})
    sysctls = forwarding.restore(run.host, sysctls, wanted)
    for key in wanted:
        run.report.say(f"forwarding: {key} = 1")
    return sysctls


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

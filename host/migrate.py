"""`netc migrate --to nftables|iptables`: move netc's rules to the other backend, clean up.

The new backend is loaded first and the old one emptied afterwards, so guests never lose their
rules in between (both backends accepting at once is harmless). Every netc object on any other
backend goes, chains included, and so do libvirt's rules for the same bridges, from both of its
backends: its LIBVIRT_* iptables rules (libvirt_chains.py; Fedora's switch to nftables left them
behind until reboot) and its nftables rules in `ip/ip6 libvirt_network` (libvirt_nft.py).
libvirt's shared objects (the LIBVIRT_* chains and their jumps, the two nft tables) stay while
any other libvirt network still has rules in them, in either family, and while libvirt's network
daemon runs in that namespace (it creates them once per run: without them it can start no
network); otherwise they go.
Both removals are checked before anything changes (`iptables-restore --test`, `nft -c`); the nft
one runs as one transaction at the end. If a removal still fails there, netc's rules are in
place and the error says what of libvirt's is left as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from netc.diagnostics import Diagnostic, NetcError
from netc.ir.model import Network

from . import libvirt_chains, libvirt_daemon, libvirt_nft
from .apply import apply_sources
from .backends import available, make_backend
from .config import load_config
from .lifecycle import Report, Where, compile_stored, read_files
from .run import Host


def migrate(to: str, files: Sequence[str], where: Where) -> Report:
    with where.locked():
        return _migrate(to, files, where)


def _migrate(to: str, files: Sequence[str], where: Where) -> Report:
    host = where.host()
    old = where.state()
    if old is None and not files:
        raise NetcError(
            Diagnostic(
                "netc has applied nothing here, so there is nothing to migrate",
                hint="name the .net files (`netc migrate --to nftables FILE...`) to take over "
                "their bridges from libvirt, or use `netc apply`",
            )
        )
    new_sources = read_files(files) if files else {}
    wanted = compile_stored({**(old.sources if old else {}), **new_sources}).program.networks
    keep = libvirt_daemon.running_in(where.netns)
    libvirt_nft.check(host, libvirt_nft.find(host, wanted, keep))  # before anything changes
    libvirt_chains.check(host, libvirt_chains.find(host, wanted, keep))
    report = apply_sources(new_sources, where, to, option="--to")
    state = where.state()
    assert state is not None  # apply_sources has just written it
    for name in ("nftables", "iptables"):
        if name == to:
            continue
        backend = make_backend(name, host)
        if available(backend) and backend.present():
            tables = old.created_objects if old and old.backend == name else ()
            for line in backend.remove(tables):
                report.say(f"removed from {name}: {line}")
    networks = compile_stored(state.sources).program.networks
    keep = libvirt_daemon.running_in(where.netns)
    _remove_libvirt_chains(host, networks, to, report, keep)
    _remove_libvirt_nft(host, networks, to, report, keep)
    config = load_config(where.config)
    if config.firewall_backend and config.firewall_backend != to:
        report.say(
            f'note: {config.path} says firewall_backend = "{config.firewall_backend}"; '
            f'set it to "{to}" or the next `netc apply` moves the rules back'
        )
    return report


def _remove_libvirt_chains(
    host: Host, networks: Sequence[Network], to: str, report: Report, keep: bool
) -> None:
    plan = libvirt_chains.find(host, networks, keep)  # read again: the rules as they are now
    removed = _libvirt_step(
        libvirt_chains.remove,
        host,
        plan,
        to,
        "libvirt's LIBVIRT_* rules are as they were, but for a family the message calls done",
    )
    for line in removed:
        report.say(f"removed libvirt's {line}")
    if not plan.families:
        report.say("libvirt: no LIBVIRT_* iptables chains")
    elif not plan.ours:
        report.say("libvirt: no LIBVIRT_* rules for these bridges")
    for line in libvirt_chains.summary(plan):
        report.say(line)


def _remove_libvirt_nft(
    host: Host, networks: Sequence[Network], to: str, report: Report, keep: bool
) -> None:
    plan = libvirt_nft.find(host, networks, keep)  # read again: the handles as they are now
    removed = _libvirt_step(
        libvirt_nft.remove,
        host,
        plan,
        to,
        "libvirt's tables are as they were (one nft transaction)",
    )
    for line in removed:
        report.say(f"removed libvirt's nft {line}")
    if not plan.tables:
        report.say(f"libvirt: no {libvirt_nft.TABLE} nft tables")
    elif not plan.ours:
        report.say(f"libvirt: no {libvirt_nft.TABLE} nft rules for these bridges")
    for line in libvirt_nft.summary(plan):
        report.say(line)


def _libvirt_step(remove: Callable, host: Host, plan: object, to: str, unchanged: str) -> list[str]:
    """Run one backend's removal of libvirt's rules; a failure says what is done already."""
    try:
        return remove(host, plan)
    except NetcError as err:
        raise NetcError(
            Diagnostic(
                f"{err.diagnostics[0].message}",
                hint=f"the steps before this one are done: netc's rules are on {to} and its state "
                f"is saved (`netc status`); {unchanged}; run this `netc migrate` again to retry",
            )
        ) from err

"""`netc down`: take away what `apply` put on the host, and only that.

Rules are removed from the live ruleset (netc's table or NETC_* chains, whatever state they are
in); bridges go only if netc created them, otherwise only the addresses netc added; sysctls
netc changed get their old values back once no network needs them; iptables-nft tables that
netc's load created are deleted once empty. Foreign rules and links are never touched.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from netc.diagnostics import Diagnostic, NetcError

from . import dnsmasq, forwarding, links
from .backends import available, make_backend, require
from .lifecycle import Report, Where, compile_stored
from .state import State, save_state


def down(files: Sequence[str], where: Where) -> Report:
    with where.locked():
        return _down(files, where)


def _down(files: Sequence[str], where: Where) -> Report:
    report = Report()
    host = where.host()
    old = where.state()
    if old is None:
        return _down_without_state(where, report)
    wanted = {os.path.abspath(f) for f in files} if files else set(old.sources)
    unknown = sorted(wanted - set(old.sources))
    if unknown:
        raise NetcError(
            [
                Diagnostic("this file was not applied", hint="`netc status` lists what was", file=f)
                for f in unknown
            ]
        )
    backend = make_backend(old.backend, host)
    require(backend)
    remaining = {path: text for path, text in old.sources.items() if path not in wanted}
    if remaining:
        compiled = compile_stored(remaining)
        backend.install(compiled)
        still = compiled.program.networks
        report.say(f"rules: reloaded into {old.backend} for the remaining networks")
    else:
        for line in backend.remove(old.created_objects):
            report.say(f"removed: {line}")
        still = ()
    keep = {net.name for net in still}
    directory = dnsmasq.directory_for(where.state_file)
    for owned in old.networks:
        if owned.name not in keep and dnsmasq.stop(dnsmasq.Server(directory, owned.name), True):
            report.say(f"network {owned.name}: dnsmasq stopped")
    for owned in old.networks:
        if owned.name not in keep:
            foreign = links.take_down(where.netns, owned)
            what = "deleted" if owned.created else "left in place (netc did not create it)"
            report.say(f"network {owned.name}: {foreign or f'bridge {owned.bridge} {what}'}")
    sysctls = forwarding.restore(host, old.sysctls, forwarding.needed(still))
    for key in old.sysctls:
        if key not in sysctls:
            report.say(f"forwarding: {key} back to {old.sysctls[key]}")
    if remaining:
        save_state(
            where.state_file,
            State(
                old.backend,
                remaining,
                tuple(n for n in old.networks if n.name in keep),
                sysctls,
                old.created_objects,
                backend.listing(),
            ),
        )
    else:
        save_state(where.state_file, None)
    return report


def _down_without_state(where: Where, report: Report) -> Report:
    """No record of an apply: still remove any netc rules found live (links are left alone)."""
    host = where.host()
    for name in ("nftables", "iptables"):
        backend = make_backend(name, host)
        if available(backend) and backend.present():
            for line in backend.remove():
                report.say(f"removed: {line}")
    if not report.lines:
        report.say("nothing to do: netc has applied nothing here")
    return report

"""`netc migrate --to nftables|iptables`: move netc's rules to the other backend, clean up.

The new backend is loaded first and the old one emptied afterwards, so guests never lose their
rules in between (both backends accepting at once is harmless). Every netc object on any other
backend goes, chains included, and so do libvirt's LIBVIRT_* rules for the same bridges, which
Fedora's switch to nftables left behind until reboot.
"""

from __future__ import annotations

from collections.abc import Sequence

from netc.diagnostics import Diagnostic, NetcError

from .apply import apply_sources
from .backends import available, make_backend
from .config import load_config
from .lifecycle import Report, Where, compile_stored, read_files
from .libvirt_chains import remove_libvirt_rules


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
    report = apply_sources(read_files(files) if files else {}, where, to)
    state = where.state()
    for name in ("nftables", "iptables"):
        if name == to:
            continue
        backend = make_backend(name, host)
        if available(backend) and backend.present():
            tables = old.created_objects if old and old.backend == name else ()
            for line in backend.remove(tables):
                report.say(f"removed from {name}: {line}")
    networks = compile_stored(state.sources).program.networks
    removed = remove_libvirt_rules(host, networks)
    for line in removed:
        report.say(f"removed libvirt's {line}")
    if not removed:
        report.say("libvirt: no LIBVIRT_* rules for these bridges")
    config = load_config(where.config)
    if config.firewall_backend and config.firewall_backend != to:
        report.say(
            f'note: {config.path} says firewall_backend = "{config.firewall_backend}"; '
            f'set it to "{to}" or the next `netc apply` moves the rules back'
        )
    return report

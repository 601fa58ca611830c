"""`netc migrate --to nftables|iptables [FILE...]`: move netc's rules to another backend."""

from __future__ import annotations

import argparse
import sys

from .host_options import add_host_options, backend_arg, where


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "migrate",
        help="move netc's rules to another firewall backend",
        description="Install the applied networks' rules on the new backend, then remove "
        "netc's rules and chains from the old one, and libvirt's rules for the same bridges: "
        "its LIBVIRT_* iptables rules and its nft rules in ip/ip6 libvirt_network (the chains "
        "and tables too, in both families, once no libvirt network is left in them and libvirt's "
        "network daemon does not run, since it creates them once per run). Reports "
        "what it removed. "
        "FILEs take over networks netc has not applied yet (e.g. from libvirt).",
    )
    p.add_argument(
        "--to",
        required=True,
        type=backend_arg,
        metavar="{nftables,iptables}",
        help="new backend (nft is accepted for nftables)",
    )
    p.add_argument("files", nargs="*", metavar="FILE", help=".net file(s)")
    add_host_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from netc.diagnostics import Diagnostic, NetcError
    from netc.host.migrate import migrate

    if args.to == "auto":
        raise NetcError(Diagnostic("--to needs a backend: nftables or iptables"))
    sys.stdout.write(migrate(args.to, args.files, where(args)).text())
    return 0

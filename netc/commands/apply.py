"""`netc apply FILE... [--backend nftables|iptables|auto]`: bring networks up on a host."""

from __future__ import annotations

import argparse
import sys

from .host_options import add_host_options, backend_arg, where


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "apply",
        help="create bridges and load the rules for the networks in FILEs",
        description="Create each network's bridge (if missing), set its addresses, enable "
        "forwarding, and load the compiled rules atomically. Re-applying changes nothing; "
        "an edited file replaces the rules it produced. The backend comes from --backend, "
        "else firewall_backend in the config file, else auto-detection (nft, then iptables).",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help=".net file(s)")
    p.add_argument(
        "--backend",
        type=backend_arg,
        metavar="{nftables,iptables,auto}",
        help="firewall backend (nft is accepted for nftables)",
    )
    add_host_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from netc.host.apply import apply

    sys.stdout.write(apply(args.files, where(args), args.backend).text())
    return 0

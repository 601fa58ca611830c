"""`netc restore [--bridges]`: load the rules of every applied network again, from netc's state."""

from __future__ import annotations

import argparse
import sys

from .host_options import add_host_options, where


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "restore",
        help="load the rules of every applied network again, from netc's state",
        description="Load netc's rules again for every network its state records (the texts "
        "that were applied, with the backend they were applied with), after a reboot or a "
        "firewall restart wiped them (`nft flush ruleset`). Without --bridges it starts no daemon "
        "and creates no link: the rules match interface names, so they load before the bridges "
        "exist. "
        "Loading twice leaves one copy; with nothing applied it says so and changes nothing.",
    )
    p.add_argument(
        "--bridges",
        action="store_true",
        help="also create again the bridges netc itself created (never one it found in place) "
        "and start their DHCP/DNS servers (dnsmasq), as `netc apply` left them",
    )
    add_host_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from netc.host.restore import restore

    sys.stdout.write(restore(where(args), bridges=args.bridges).text())
    return 0

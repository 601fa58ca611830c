"""`netc release NAME... [--keep]`: give an adopted network's firewall back to libvirt."""

from __future__ import annotations

import argparse
import sys

from .host_options import add_host_options, add_libvirt_hooks_option, where


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "release",
        help="give adopted libvirt networks back to libvirt",
        description="For each adopted network NAME: restore libvirt's original definition, "
        "restart the network (libvirt loads its own rules while netc's are still there, so "
        "guests never lack NAT rules), then remove netc's rules and the .net file netc wrote.",
    )
    p.add_argument("names", nargs="+", metavar="NAME", help="adopted network name(s)")
    p.add_argument("--keep", action="store_true", help="keep the .net file netc wrote")
    p.add_argument(
        "--connect",
        metavar="URI",
        help="libvirt connection URI (default: the one the network was adopted with)",
    )
    add_libvirt_hooks_option(p)
    add_host_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from netc.host.libvirt_adopt import release

    report = release(args.names, args.keep, args.libvirt_hooks, where(args), args.connect)
    sys.stdout.write(report.text())
    return 0

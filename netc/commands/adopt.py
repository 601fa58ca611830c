"""`netc adopt NAME... [--connect URI] [--dir DIR]`: run a libvirt network's firewall with netc."""

from __future__ import annotations

import argparse
import sys

from .host_options import add_host_options, add_libvirt_hooks_option, where


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "adopt",
        help="take over the firewall of running libvirt networks (libvirt keeps bridge and DHCP)",
        description="For each libvirt network NAME: write DIR/NAME.net from its XML, load its "
        "rules, make libvirt's persistent definition forward mode 'open' (libvirt then adds no "
        "firewall rule; bridge, DHCP and DNS stay libvirt's), delete libvirt's live rules for "
        "it, and install a libvirt daemon hook that deletes them again if libvirt's daemon "
        "restarts before the network does. `netc release NAME` undoes it.",
    )
    p.add_argument("names", nargs="*", metavar="NAME", help="libvirt network name(s)")
    p.add_argument(
        "--connect",
        metavar="URI",
        help="libvirt connection URI, as `virsh -c` (default qemu:///system)",
    )
    p.add_argument(
        "--dir", metavar="DIR", help="where the .net files go (default /etc/netc/networks)"
    )
    add_libvirt_hooks_option(p)
    p.add_argument(
        "--reassert",
        action="store_true",
        help="only delete libvirt's live rules for the adopted networks again (the hook runs "
        "this; it never calls libvirt)",
    )
    p.add_argument(
        "--wait",
        action="store_true",
        help="with --reassert: first wait until libvirt's daemon answers (the hook's way)",
    )
    add_host_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from netc.diagnostics import Diagnostic, NetcError
    from netc.host import libvirt_adopt

    if args.reassert:
        if args.wait:
            libvirt_adopt.wait_for_libvirt(where(args))
        with where(args).locked():
            report = libvirt_adopt.reassert(where(args))
    elif not args.names:
        raise NetcError(Diagnostic("name the libvirt network(s) to adopt (`virsh net-list`)"))
    else:
        report = libvirt_adopt.adopt(
            args.names, args.connect, args.dir, args.libvirt_hooks, where(args)
        )
    sys.stdout.write(report.text())
    return 0

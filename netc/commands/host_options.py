"""Options shared by the commands that act on a host (apply, down, status, migrate, doctor,
adopt, release, restore).

Kept free of heavy imports: the CLI imports every command module at start-up.
"""

from __future__ import annotations

import argparse


def add_host_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        metavar="PATH",
        help="config file (default: $NETC_CONFIG or /etc/netc/netc.conf)",
    )
    parser.add_argument(
        "--state-dir",
        metavar="DIR",
        help="where netc keeps what it applied (default: $NETC_STATE_DIR or /var/lib/netc)",
    )
    parser.add_argument(
        "--netns",
        metavar="NAME",
        help="act inside this network namespace instead of the host (for tests and trials)",
    )


def add_libvirt_hooks_option(parser: argparse.ArgumentParser) -> None:
    """adopt installs its daemon hook there and release removes it: one default for both."""
    parser.add_argument(
        "--libvirt-hooks",
        metavar="DIR",
        help="libvirt's hook directory (default /etc/libvirt/hooks)",
    )


def where(args: argparse.Namespace):
    """Where a host command acts; refused up front without root, whose tools it runs (a
    non-root doctor once printed nothing and exited 0: a false all-clear)."""
    import os

    from netc.diagnostics import Diagnostic, NetcError
    from netc.host.lifecycle import Where

    if os.geteuid() != 0:
        raise NetcError(
            Diagnostic(
                f"`netc {args.command}` needs root: it reads and changes the firewall, links and "
                "sysctls",
                hint=f"run it as root (sudo netc {args.command} ...)",
            )
        )
    return Where(netns=args.netns, state_dir=args.state_dir, config=args.config)


def backend_arg(value: str) -> str:
    from netc.host.config import backend_name

    if value == "auto":
        return value
    try:
        return backend_name(value, "--backend")
    except Exception:
        raise argparse.ArgumentTypeError(f"invalid backend '{value}' (nftables, iptables, auto)")

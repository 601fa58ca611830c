"""Options shared by the commands that act on a host (apply, down, status, migrate, doctor).

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


def where(args: argparse.Namespace):
    from netc.host.lifecycle import Where

    return Where(netns=args.netns, state_dir=args.state_dir, config=args.config)


def backend_arg(value: str) -> str:
    from netc.host.config import backend_name

    if value == "auto":
        return value
    try:
        return backend_name(value, "--backend")
    except Exception:
        raise argparse.ArgumentTypeError(f"invalid backend '{value}' (nftables, iptables, auto)")

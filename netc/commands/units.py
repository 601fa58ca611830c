"""`netc units install|show`: the systemd units that restore netc's rules at boot and reloads."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "units",
        help="install the systemd units that restore netc's rules at boot and firewall reloads",
        description="Write netc-restore.service (restores netc's rules at boot, before libvirt "
        "starts its networks) and netc-firewall-reload.service (restores them after "
        "nftables.service or firewalld starts, restarts or reloads) into ROOT/etc/systemd/"
        "system, with the checked absolute path of netc in ExecStart; prints the systemctl "
        "command that enables them. `show` prints the units instead.",
    )
    p.add_argument("action", choices=("install", "show"), help="write the units, or print them")
    p.add_argument(
        "--root",
        metavar="DIR",
        default="/",
        help="write under DIR/etc/systemd/system (default: /), as `systemctl --root`",
    )
    p.add_argument(
        "--netc",
        metavar="PATH",
        help="absolute path of the netc executable for ExecStart "
        "(default: the netc installed with this Python)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from netc.host import systemd_units

    if args.action == "install":
        sys.stdout.write(systemd_units.install(args.root, args.netc).text())
        return 0
    executable = args.netc or systemd_units.default_executable()
    texts = [systemd_units.render(name, executable) for name in systemd_units.UNITS]
    for name, text in zip(systemd_units.UNITS, texts):
        sys.stdout.write(f"# {name}\n{text}")
    return 0

"""`netc doctor [FILE...]`: warn about what outside netc overrides its rules, with the fix."""

from __future__ import annotations

import argparse
import sys

from .host_options import add_host_options, where


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "doctor",
        help="find foreign rules and settings that break netc's networks",
        description="Read the live ruleset and sysctls and warn, with the concrete fix, about "
        "what will override netc: other tables' forward/input base chains that drop guest "
        "traffic (Docker's FORWARD DROP, a host firewall blocking DHCP/DNS), ip_forward off, "
        "br_netfilter. Prints nothing and exits 0 on a clean host; exits 1 with findings.",
    )
    p.add_argument(
        "files", nargs="*", metavar="FILE", help="networks to check for (default: applied)"
    )
    add_host_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from netc.host.doctor import doctor

    findings = doctor(args.files, where(args))
    for finding in findings:
        sys.stdout.write(f"warning: {finding.problem}\n  fix: {finding.fix}\n")
    return 1 if findings else 0

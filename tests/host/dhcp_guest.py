"""A DHCP guest for host tests: a namespace whose veth is a port of the network's bridge in the
scratch host namespace, taking its address with a real client (busybox udhcpc), as a VM would."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from kernel_support import delete_namespace, nsrun, unique_name


def lab_source(*lines: str) -> str:
    """Network `lab` (bridge brlab, NAT, 192.168.77.1/24) leasing .100-.150, plus `lines` in its
    subnet block (reserved hosts, say)."""
    body = "".join(f"        {line}\n" for line in ("dhcp 192.168.77.100 - 192.168.77.150", *lines))
    return (
        "network lab {\n    bridge brlab\n    forward nat\n    ip 192.168.77.1/24 {\n"
        f"{body}    }}\n}}\n"
    )


LAB = lab_source()

# udhcpc hands the lease to this script: configure it as a guest's init would, and print it.
UDHCPC_SCRIPT = """#!/bin/sh
case "$1" in
  bound|renew) ip addr flush dev "$interface"; ip addr add "$ip/$mask" dev "$interface";
               [ -n "$router" ] && ip route replace default via "$router" dev "$interface";
               echo "LEASE $ip" ;;
esac
exit 0
"""


class Guest:
    """One guest namespace; its interface is g0, plugged into the host's bridge by `attach`."""

    def __init__(self, ns: str, host_ns: str, script: Path) -> None:
        self.ns = ns
        self.host_ns = host_ns
        self.script = script

    def attach(self, bridge: str = "brlab", mac: str | None = None) -> None:
        """Plug g0 into `bridge` (which must exist); the host end is gp<last byte of the MAC>,
        so a guest re-plugged with another MAC never meets its old port still going away."""
        port = "gp" + (mac[-2:] if mac else "0")
        address = ["address", mac] if mac else []
        subprocess.run(
            ["ip", "link", "add", "g0", *address, "netns", self.ns, "type", "veth"]
            + ["peer", "name", port, "netns", self.host_ns],
            check=True,
        )
        nsrun(self.host_ns, "ip", "link", "set", port, "master", bridge, "up")
        nsrun(self.ns, "ip", "link", "set", "g0", "up")
        nsrun(self.ns, "ip", "link", "set", "lo", "up")

    def lease(self) -> str:
        """Ask for a lease (a few tries) and return the address granted."""
        out = nsrun(
            self.ns, "busybox", "udhcpc", "-i", "g0", "-q", "-n", "-t", "8", "-s", str(self.script)
        )
        return next(line.split()[1] for line in out.splitlines() if line.startswith("LEASE"))

    def detach(self) -> None:
        nsrun(self.ns, "ip", "link", "del", "g0")


@pytest.fixture
def guest(netc, tmp_path) -> Iterator[Guest]:
    """A guest of the scratch host namespace `netc` acts on; deleted afterwards."""
    name = unique_name("gst")
    subprocess.run(["ip", "netns", "add", name], check=True)
    script = tmp_path / "udhcpc.sh"
    script.write_text(UDHCPC_SCRIPT)
    script.chmod(0o755)
    yield Guest(name, netc.ns, script)
    delete_namespace(name)

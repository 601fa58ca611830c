"""`expose` with br_netfilter: a guest reaches its own forwarded port through the host's
address only when its bridge port has hairpin_mode, which `netc apply` sets and `down` clears."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from kernel_support import delete_namespace, nsrun, unique_name
from netc.host import port_isolation

NET = """\
network hp {
    bridge brhp
    forward nat
    dns off
    ip 192.168.81.1/24
    expose tcp 8022 to 192.168.81.10 port 22
}
"""
SERVER = """
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 22)); s.listen(); s.settimeout(8); print("READY", flush=True)
while True:
    conn, peer = s.accept(); conn.close()
"""
CONNECT = """
import socket, sys
try:
    socket.create_connection(("203.0.113.1", 8022), timeout=2).close(); print("OPEN")
except OSError as error:
    print("CLOSED", error)
"""


def _bridge_netfilter(ns: str) -> None:
    try:
        nsrun(ns, "sysctl", "-q", "net.bridge.bridge-nf-call-iptables=1")
    except subprocess.CalledProcessError:
        if os.environ.get("CI"):
            raise
        pytest.skip("br_netfilter is not available (modprobe br_netfilter)")


def test_a_guest_reaches_its_own_forwarded_port(netc, tmp_path):
    nsrun(netc.ns, "ip", "link", "add", "up0", "type", "veth", "peer", "name", "up0p")
    nsrun(netc.ns, "ip", "addr", "add", "203.0.113.1/24", "dev", "up0")
    nsrun(netc.ns, "ip", "link", "set", "up0", "up")
    guest = unique_name("ghp")
    subprocess.run(["ip", "netns", "add", guest], check=True)
    lab = tmp_path / "hp.net"
    lab.write_text(NET)
    server = None
    try:
        assert netc("apply", str(lab)).code == 0
        _bridge_netfilter(netc.ns)
        subprocess.run(
            ["ip", "link", "add", "g0", "netns", guest, "type", "veth", "peer", "name", "gphp"]
            + ["netns", netc.ns],
            check=True,
        )
        nsrun(netc.ns, "ip", "link", "set", "gphp", "master", "brhp", "up")
        nsrun(guest, "ip", "addr", "add", "192.168.81.10/24", "dev", "g0")
        nsrun(guest, "ip", "link", "set", "g0", "up")
        nsrun(guest, "ip", "link", "set", "lo", "up")
        nsrun(guest, "ip", "route", "add", "default", "via", "192.168.81.1")
        server = subprocess.Popen(
            ["ip", "netns", "exec", guest, sys.executable, "-c", SERVER],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert server.stdout.readline().strip() == "READY"
        hairpin = port_isolation.HAIRPIN
        assert port_isolation.ports_isolated(netc.ns, "brhp", hairpin) == {"gphp": False}
        without = nsrun(guest, sys.executable, "-c", CONNECT).strip()
        result = netc("apply", str(lab))  # the port exists now: apply sets hairpin_mode on it
        assert result.code == 0 and "hairpin_mode set" in result.out, result.out
        assert port_isolation.ports_isolated(netc.ns, "brhp", hairpin) == {"gphp": True}
        assert nsrun(guest, sys.executable, "-c", CONNECT).strip() == "OPEN"
        assert without.startswith("CLOSED"), without  # and without it, the guest did not
    finally:
        if server:
            server.kill()
            server.wait()
        assert netc("down").code == 0
        delete_namespace(guest)

"""The Fedora change's "How To Test" without libvirt: `netc apply` a NAT network with a DHCP
range in a scratch host namespace with an uplink to a wan namespace; a guest takes a lease
(busybox udhcpc), reaches the wan masqueraded, the host reaches the guest's port 22 and the
wan cannot open a connection to the guest — on nft, iptables-nft and iptables-legacy."""

from __future__ import annotations

import subprocess
import sys

import pytest

from dhcp_guest import LAB
from kernel_support import delete_namespace, nsrun, unique_name

# One connection accepted; prints the peer's address, then exits.
SERVER = """
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(); s.settimeout(10)
print("READY", flush=True)
conn, peer = s.accept(); print("PEER", peer[0], flush=True)
"""
CONNECT = """
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1.5).close(); print("OPEN")
except OSError as error:
    print("CLOSED", error)
"""


@pytest.fixture
def wan(netc):
    """A wan namespace behind the host's uplink: host 203.0.113.1, wan 203.0.113.2."""
    name = unique_name("wan")
    subprocess.run(["ip", "netns", "add", name], check=True)
    subprocess.run(
        ["ip", "link", "add", "up0", "netns", netc.ns, "type", "veth", "peer", "name", "w0"]
        + ["netns", name],
        check=True,
    )
    nsrun(netc.ns, "ip", "addr", "add", "203.0.113.1/24", "dev", "up0")
    nsrun(netc.ns, "ip", "link", "set", "up0", "up")
    nsrun(name, "ip", "addr", "add", "203.0.113.2/24", "dev", "w0")
    nsrun(name, "ip", "link", "set", "w0", "up")
    nsrun(name, "ip", "link", "set", "lo", "up")
    # The wan knows the way to the guests, so only the firewall stands between them.
    nsrun(name, "ip", "route", "add", "192.168.77.0/24", "via", "203.0.113.1")
    yield name
    delete_namespace(name)


def _serve(ns: str, port: int) -> subprocess.Popen:
    server = subprocess.Popen(
        ["ip", "netns", "exec", ns, sys.executable, "-c", SERVER, str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout.readline().strip() == "READY"
    return server


def _peer(server: subprocess.Popen) -> str:
    out, _ = server.communicate(timeout=10)
    return out.split()[1]


def _connect(ns: str, address: str, port: int) -> str:
    return nsrun(ns, sys.executable, "-c", CONNECT, address, str(port)).strip()


def test_fedora_how_to_test_without_libvirt(flavour, netc, wan, guest, tmp_path):
    lab = tmp_path / "lab.net"
    lab.write_text(LAB)
    backend = "nftables" if flavour == "nft" else "iptables"
    result = netc("apply", "--backend", backend, str(lab))
    assert result.code == 0, result.err
    try:
        guest.attach()
        address = guest.lease()
        assert address.startswith("192.168.77.")
        assert "default via 192.168.77.1" in nsrun(guest.ns, "ip", "route")

        outside = _serve(wan, 8080)  # guest → outside, masqueraded as the host's uplink
        assert _connect(guest.ns, "203.0.113.2", 8080) == "OPEN"
        assert _peer(outside) == "203.0.113.1"

        ssh = _serve(guest.ns, 22)  # the host reaches the guest's ssh port
        assert _connect(netc.ns, address, 22) == "OPEN"
        assert _peer(ssh) == "192.168.77.1"

        ssh = _serve(guest.ns, 22)  # the outside cannot open a connection to the guest
        assert _connect(wan, address, 22).startswith("CLOSED")
        ssh.kill()
        ssh.wait()
    finally:
        assert netc("down").code == 0

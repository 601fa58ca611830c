"""An IPv6 subnet with a DHCPv6 range: netc's dnsmasq advertises the router on the bridge.
No DHCPv6 client is installed (busybox lacks udhcpc6, no rdisc6), so the guest namespace sends
a Router Solicitation and reads the Router Advertisement with a raw ICMPv6 socket."""

from __future__ import annotations

import sys

from kernel_support import nsrun

DUAL = """\
network lab6 {
    bridge brlab6
    forward nat
    ip 192.168.79.1/24
    ip 2001:db8:79::1/64 {
        dhcp 2001:db8:79::100 - 2001:db8:79::1ff
    }
}
"""
# Solicit a router, then print the first RA's flags byte and its prefix-information prefixes.
LISTEN = """
import ipaddress, socket, time
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
s.settimeout(1)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
deadline = time.monotonic() + 15
while time.monotonic() < deadline:
    try:
        s.sendto(bytes([133, 0, 0, 0, 0, 0, 0, 0]), ("ff02::2", 0, 0, socket.if_nametoindex("g0")))
    except OSError:
        pass  # no link-local address yet
    try:
        data, peer = s.recvfrom(2048)
    except socket.timeout:
        continue
    if data[0] != 134:
        continue
    prefixes, at = [], 16
    while at + 2 <= len(data):
        kind, size = data[at], data[at + 1] * 8
        if kind == 3:
            prefixes.append(f"{ipaddress.IPv6Address(data[at + 16:at + 32])}/{data[at + 2]}")
        at += max(size, 8)
    print("RA", peer[0], data[5], *prefixes)
    break
"""


def test_an_ipv6_guest_hears_the_router_advertisement(netc, guest, tmp_path):
    lab = tmp_path / "lab6.net"
    lab.write_text(DUAL)
    try:
        result = netc("apply", str(lab))
        assert result.code == 0, result.err
        nsrun(guest.ns, "sysctl", "-q", "net.ipv6.conf.default.accept_dad=0")
        guest.attach("brlab6")
        out = nsrun(guest.ns, sys.executable, "-c", LISTEN)
        words = out.split()
        assert words and words[0] == "RA", out
        flags = int(words[2])
        assert flags & 0x80, f"managed (DHCPv6) flag not set: {out}"
        assert "2001:db8:79::/64" in words[3:], out
    finally:
        assert netc("down").code == 0

"""An IPv6 subnet with a DHCPv6 range and a reserved host: netc's dnsmasq advertises the router
on the bridge and leases addresses (from the range, the reserved one to the guest that sends its
name, the gateway as DNS server), as a guest's own client sees them.

The router advertisement is read with a raw ICMPv6 socket; leases are taken by dhcpcd (Debian
package dhcpcd-base), a real DHCPv6 client, run once in the guest namespace. dhcpcd keeps a DUID,
leases and a control socket under /var/lib/dhcpcd and /run/dhcpcd and runs hook scripts that edit
resolv.conf: here it runs in a private mount namespace with empty tmpfs mounts over those
directories, reads a config of the test's own, and calls the test's script instead of its hooks,
so nothing of the machine's is read or written.
"""

from __future__ import annotations

import ipaddress
import shutil
import subprocess
import sys
from pathlib import Path

from dhcp_guest import Guest
from kernel_support import cannot_run, nsrun
from netc.host import dnsmasq
from netc.pipeline import compile_sources

GATEWAY = ipaddress.IPv6Address("2001:db8:79::1")
FIRST = ipaddress.IPv6Address("2001:db8:79::100")
LAST = ipaddress.IPv6Address("2001:db8:79::1ff")
RESERVED = ipaddress.IPv6Address("2001:db8:79::42")
DUAL = f"""\
network lab6 {{
    bridge brlab6
    forward nat
    ip 192.168.79.1/24
    ip {GATEWAY}/64 {{
        dhcp {FIRST} - {LAST}
        host {RESERVED} name vm6
    }}
}}
"""
# reserved hosts only: dnsmasq serves DHCPv6 (and advertises the router) for a subnet it has a
# dhcp-range for, so netc writes a `static` one, as libvirt does
HOSTS_ONLY = DUAL.replace(f"        dhcp {FIRST} - {LAST}\n", "")
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

# dhcpcd calls this for every event instead of its hooks; it prints the DHCPv6 lease once bound.
LEASE_SCRIPT = """#!/bin/sh
[ "$reason" = BOUND6 ] || exit 0
env | grep '^new_dhcp6_' | sed 's/^/LEASE6 /'
"""
# dhcpcd's config: a DUID-LLT (kept in the private tmpfs, so every run is a new client) and the
# DNS servers option requested; `settings` add to it.
CLIENT_CONFIG = "duid\noption dhcp6_name_servers\n"
# Empty tmpfs over /run and /var/lib (dhcpcd's state lives in their dhcpcd/), in a mount
# namespace of dhcpcd's own: the machine's directories are neither read nor written.
PRIVATE_STATE = (
    "mount -t tmpfs netc-test /run && mkdir /run/dhcpcd"
    ' && mount -t tmpfs netc-test /var/lib && mkdir /var/lib/dhcpcd && exec "$0" "$@"'
)


def _require_dhcpcd() -> None:
    if shutil.which("dhcpcd") is None:
        cannot_run(
            "needs dhcpcd (Debian package dhcpcd-base): the guest's DHCPv6 client", "DHCPv6 test"
        )


def _no_dad(ns: str) -> None:
    """Addresses usable at once in `ns`: no duplicate address detection delays the router's
    link-local address (dnsmasq's RAs come from it) or the guest's."""
    nsrun(
        ns, "sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0"
    )


def dhcp6_lease(guest: Guest, tmp_path: Path, *settings: str) -> dict[str, str]:
    """Run dhcpcd once on the guest's g0, IPv6 only, until it is bound; returns the lease's
    `new_dhcp6_*` variables. `settings` are extra dhcpcd.conf lines."""
    config = tmp_path / "dhcpcd.conf"
    config.write_text(CLIENT_CONFIG + "".join(f"{line}\n" for line in settings))
    script = tmp_path / "dhcpcd-lease.sh"
    script.write_text(LEASE_SCRIPT)
    script.chmod(0o755)
    client = ["dhcpcd", "-f", str(config), "-c", str(script), "-6", "-1", "-B", "--waitip=6"]
    proc = subprocess.Popen(
        ["ip", "netns", "exec", guest.ns, "unshare", "--mount", "--propagation", "private"]
        + ["sh", "-c", PRIVATE_STATE, *client, "g0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # dhcpcd's own timeout (-t) does not end a wait for a router advertisement: give it 30 s,
    # then stop it (ip, unshare and sh exec it: the process is dhcpcd; it ends its helpers; any
    # left over go with the guest's namespace)
    try:
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.terminate()
        out, err = proc.communicate(timeout=10)
        err += "\n(stopped after 30 s: no router advertisement, or no DHCPv6 server answered)"
    lease = dict(
        line.removeprefix("LEASE6 ").split("=", 1)
        for line in out.splitlines()
        if line.startswith("LEASE6 ")
    )
    assert proc.returncode == 0 and lease, f"no DHCPv6 lease:\n{out}\n{err}"
    return lease


def _apply(netc, guest: Guest, tmp_path: Path, source: str = DUAL) -> None:
    """Apply the network in the scratch host namespace and plug the guest into its bridge."""
    lab = tmp_path / "lab6.net"
    lab.write_text(source)
    _no_dad(netc.ns)
    result = netc("apply", str(lab))
    assert result.code == 0, result.err
    _no_dad(guest.ns)
    guest.attach("brlab6")


def test_an_ipv6_guest_hears_the_router_advertisement(netc, guest, tmp_path):
    try:
        _apply(netc, guest, tmp_path)
        out = nsrun(guest.ns, sys.executable, "-c", LISTEN)
        words = out.split()
        assert words and words[0] == "RA", out
        flags = int(words[2])
        assert flags & 0x80, f"managed (DHCPv6) flag not set: {out}"
        assert "2001:db8:79::/64" in words[3:], out
    finally:
        assert netc("down").code == 0


def test_an_ipv6_guest_leases_an_address_from_the_dhcpv6_range(netc, guest, tmp_path):
    _require_dhcpcd()
    try:
        _apply(netc, guest, tmp_path)
        lease = dhcp6_lease(guest, tmp_path)
        address = ipaddress.IPv6Address(lease["new_dhcp6_ia_na1_ia_addr1"])
        assert FIRST <= address <= LAST, lease
        # DNS is on (the default): the gateway is the guest's name server, and answers for vm6
        assert lease.get("new_dhcp6_name_servers") == str(GATEWAY), lease
        assert f"inet6 {address}/128" in nsrun(guest.ns, "ip", "-6", "addr", "show", "g0")
        ping = ["busybox", "ping", "-6", "-c", "1", "-W", "5", "-I", str(address), str(GATEWAY)]
        nsrun(guest.ns, *ping)  # the leased address works: the gateway answers from it
        answer = nsrun(
            guest.ns, "busybox", "nslookup", "-type=aaaa", "vm6", str(GATEWAY), check=False
        )
        assert f"Address: {RESERVED}" in answer, answer
    finally:
        assert netc("down").code == 0


def test_a_named_ipv6_guest_leases_its_reserved_address(netc, guest, tmp_path):
    _require_dhcpcd()
    try:
        _apply(netc, guest, tmp_path)
        # dnsmasq knows a DHCPv6 client by the name in its FQDN option
        lease = dhcp6_lease(guest, tmp_path, "hostname vm6", "fqdn both")
        assert lease["new_dhcp6_ia_na1_ia_addr1"] == str(RESERVED), lease
    finally:
        assert netc("down").code == 0


def test_reserved_ipv6_hosts_alone_get_a_static_dhcpv6_range(tmp_path):
    net = compile_sources([("lab6.net", HOSTS_ONLY)]).program.networks[0]
    lines = dnsmasq.config(net, dnsmasq.Server(str(tmp_path), "lab6")).splitlines()
    assert "dhcp-range=2001:db8:79::,static,64" in lines
    assert f"dhcp-host=id:*,vm6,[{RESERVED}]" in lines


def test_a_named_ipv6_guest_leases_its_address_from_a_subnet_without_a_range(netc, guest, tmp_path):
    _require_dhcpcd()
    try:
        _apply(netc, guest, tmp_path, HOSTS_ONLY)
        lease = dhcp6_lease(guest, tmp_path, "hostname vm6", "fqdn both")
        assert lease["new_dhcp6_ia_na1_ia_addr1"] == str(RESERVED), lease
    finally:
        assert netc("down").code == 0

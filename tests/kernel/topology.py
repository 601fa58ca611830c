"""A libvirt-like host in network namespaces: guests on a bridge, an uplink, and "the internet".

Why a harness of its own: the behaviour tests (and the host-lifecycle tests) need the same four
namespaces with the same addresses, built fast (about 0.1 s) and always removed, whatever fails.

    guest  eth0 ──── vnet0 ┐
                           ├ bridge virbr0 (192.168.122.1/24, 2001:db8:ca2:2::1/64)   host
    guest2 eth0 ──── vnet1 ┘  wan0 (203.0.113.1/24, 2001:db8:ffff::1/64) ──── eth0    wan
                                                                   (203.0.113.2/24, 2001:db8:ffff::2/64)

`wan` holds the "internet server" addresses on `lo` (198.51.100.1/32, 2001:db8:5100::1/128; this
kernel has no dummy driver) and routes back to the guest subnets via the host, so wan→guest is
routable and only the host's firewall can stop it. The host forwards IPv4 and IPv6 and has the
br_netfilter sysctls set explicitly (they are per-netns and default to 1 here, but a distro host
without br_netfilter behaves as 0), so a test states which world it runs in.

Links, addresses and routes use pyroute2; sysctls and commands run through `ip netns exec`.
"""

from __future__ import annotations

import ipaddress
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from pyroute2 import IPRoute, netns
from pyroute2.netlink.rtnl.ifaddrmsg import IFA_F_NODAD

from kernel_support import br_netfilter_loaded, nsrun, require_br_netfilter, unique_name

ROLES = ("guest", "guest2", "host", "wan")

UPLINK = "wan0"
HOST_UPLINK4 = ipaddress.ip_interface("203.0.113.1/24")
WAN_UPLINK4 = ipaddress.ip_interface("203.0.113.2/24")
HOST_UPLINK6 = ipaddress.ip_interface("2001:db8:ffff::1/64")
WAN_UPLINK6 = ipaddress.ip_interface("2001:db8:ffff::2/64")
SERVER4 = ipaddress.ip_address("198.51.100.1")
SERVER6 = ipaddress.ip_address("2001:db8:5100::1")


@dataclass(frozen=True, slots=True)
class Shape:
    """What the virtual network looks like: bridge name, gateway addresses, guest host numbers.

    `gateway4`/`gateway6` are the host's addresses on the bridge with the subnet's prefix (as in
    a `.net` file's `ip` line); either may be None. Guests get host numbers `index4`/`index6`
    and the next one in each subnet (.10 and .11, ::10 and ::11 by default).
    """

    bridge: str = "virbr0"
    gateway4: str | None = "192.168.122.1/24"
    gateway6: str | None = "2001:db8:ca2:2::1/64"
    index4: int = 10
    index6: int = 0x10
    bridge_nf_call: bool = True
    wan_routes: tuple[str, ...] = ()  # more prefixes the wan routes via the host (SNAT ranges)
    uplink: str = UPLINK  # the host's uplink name (a `.net` file's `forward dev` may name it)

    def _guest(self, gateway: str | None, offset: int) -> str | None:
        if gateway is None:
            return None
        net = ipaddress.ip_interface(gateway).network
        index = self.index6 if net.version == 6 else self.index4
        return str(net.network_address + index + offset)

    def guest_addr(self, family: int, second: bool = False) -> str | None:
        """The address of `guest` (or `guest2`) in the IPv4 (4) or IPv6 (6) subnet."""
        gateway = self.gateway4 if family == 4 else self.gateway6
        return self._guest(gateway, 1 if second else 0)

    def gateway_addr(self, family: int) -> str | None:
        """The host's address on the bridge, without the prefix."""
        gateway = self.gateway4 if family == 4 else self.gateway6
        return None if gateway is None else str(ipaddress.ip_interface(gateway).ip)

    def subnet(self, family: int) -> str | None:
        gateway = self.gateway4 if family == 4 else self.gateway6
        return None if gateway is None else str(ipaddress.ip_interface(gateway).network)


@dataclass(frozen=True, slots=True)
class Topology:
    """A built topology: the namespace name of each role, and the shape it was built from."""

    shape: Shape
    names: dict[str, str] = field(hash=False)
    extra: tuple[Shape, ...] = ()  # more networks, one guest each: roles "peer0", "peer1", ...

    def ns(self, role: str) -> str:
        """The namespace name for a role ("guest", "guest2", "host", "wan", "peer0", ...)."""
        return self.names[role]

    def run(self, role: str, *argv: str, input: str | None = None, check: bool = True) -> str:
        """Run a command inside a role's namespace; returns stdout."""
        return nsrun(self.names[role], *argv, input=input, check=check)

    def popen(self, role: str, *argv: str, **kwargs) -> subprocess.Popen:
        """Start a long-running command inside a role's namespace (the caller must stop it)."""
        return subprocess.Popen(["ip", "netns", "exec", self.names[role], *argv], **kwargs)

    def addr(self, role: str, family: int = 4) -> str:
        """The address other parties use to reach a role (wan: the "internet server")."""
        if role == "guest":
            found = self.shape.guest_addr(family)
        elif role == "guest2":
            found = self.shape.guest_addr(family, second=True)
        elif role == "host":
            found = self.shape.gateway_addr(family)
        elif role == "wan":
            found = str(SERVER4 if family == 4 else SERVER6)
        elif role.startswith("peer"):
            found = self.extra[int(role[4:])].guest_addr(family)
        else:
            raise KeyError(role)
        if found is None:
            raise ValueError(f"{role} has no IPv{family} address in {self.shape}")
        return found


def _add_addr(ipr: IPRoute, index: int, iface: str) -> None:
    ip = ipaddress.ip_interface(iface)
    flags = IFA_F_NODAD if ip.version == 6 else 0
    ipr.addr("add", index=index, address=str(ip.ip), prefixlen=ip.network.prefixlen, flags=flags)


def _up(ipr: IPRoute, ifname: str, **extra) -> int:
    index = ipr.link_lookup(ifname=ifname)[0]
    ipr.link("set", index=index, state="up", **extra)
    return index


# Link-local addresses get duplicate address detection (about 1 s) unless the namespace's default
# says otherwise, and while the link-local address is tentative the kernel silently skips the
# neighbour solicitation for a *forwarded* packet: the first forwarded IPv6 connection then loses
# its first SYN and takes a 1 s retransmission. So DAD is off before any interface exists.
# ICMP errors (a reject's port unreachable too) are rate limited per destination: after a burst
# of 6 only one a second (IPv4), so a run with many refused probes from one guest would see
# late rejects turn into timeouts. Rate limiting is off: every reject must answer at once.
_NS_SYSCTLS = (
    "net.ipv6.conf.all.accept_dad=0",
    "net.ipv6.conf.default.accept_dad=0",
    "net.ipv4.icmp_ratelimit=0",
    "net.ipv6.icmp.ratelimit=0",
)


def _sysctl_all(namespaces: list[str], settings: tuple[str, ...]) -> None:
    """Set sysctls in several namespaces at once (one `ip netns exec` each, in parallel)."""
    procs = [
        (
            ns,
            subprocess.Popen(
                ["ip", "netns", "exec", ns, "sysctl", "-qw", *settings],
                stderr=subprocess.PIPE,
                text=True,
            ),
        )
        for ns in namespaces
    ]
    for ns, proc in procs:
        _, err = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"sysctl {' '.join(settings)} failed in {ns}: {err.strip()}")


def _guest_side(ns: str, shape: Shape, second: bool) -> None:
    with IPRoute(netns=ns) as guest:
        eth0 = _up(guest, "eth0")
        _up(guest, "lo")
        for family in (4, 6):
            addr = shape.guest_addr(family, second)
            if addr is None:
                continue
            net = ipaddress.ip_network(shape.subnet(family))
            _add_addr(guest, eth0, f"{addr}/{net.prefixlen}")
            default = "0.0.0.0/0" if family == 4 else "::/0"
            guest.route("add", dst=default, gateway=shape.gateway_addr(family))


def _bridge(host: IPRoute, shape: Shape, ports: list[tuple[str, str]]) -> None:
    """A bridge with the shape's gateway addresses and one veth port per (port, namespace)."""
    host.link("add", ifname=shape.bridge, kind="bridge")
    bridge = _up(host, shape.bridge)
    for port, ns in ports:
        host.link("add", ifname=port, kind="veth", peer={"ifname": "eth0", "net_ns_fd": ns})
        _up(host, port, master=bridge)
    for gateway in (shape.gateway4, shape.gateway6):
        if gateway is not None:
            _add_addr(host, bridge, gateway)


def _build(shape: Shape, extra: tuple[Shape, ...], names: dict[str, str]) -> None:
    _sysctl_all(list(names.values()), _NS_SYSCTLS)
    with IPRoute(netns=names["host"]) as host:
        _bridge(host, shape, [("vnet0", names["guest"]), ("vnet1", names["guest2"])])
        for n, other in enumerate(extra):
            _bridge(host, other, [(f"vpeer{n}", names[f"peer{n}"])])
        host.link(
            "add",
            ifname=shape.uplink,
            kind="veth",
            peer={"ifname": "eth0", "net_ns_fd": names["wan"]},
        )
        uplink = _up(host, shape.uplink)
        _up(host, "lo")
        _add_addr(host, uplink, str(HOST_UPLINK4))
        _add_addr(host, uplink, str(HOST_UPLINK6))
        host.route("add", dst="0.0.0.0/0", gateway=str(WAN_UPLINK4.ip))
        host.route("add", dst="::/0", gateway=str(WAN_UPLINK6.ip))

    _guest_side(names["guest"], shape, False)
    _guest_side(names["guest2"], shape, True)
    for n, other in enumerate(extra):
        _guest_side(names[f"peer{n}"], other, False)

    with IPRoute(netns=names["wan"]) as wan:
        eth0 = _up(wan, "eth0")
        lo = _up(wan, "lo")
        _add_addr(wan, eth0, str(WAN_UPLINK4))
        _add_addr(wan, eth0, str(WAN_UPLINK6))
        _add_addr(wan, lo, f"{SERVER4}/32")
        _add_addr(wan, lo, f"{SERVER6}/128")
        vias = {4: str(HOST_UPLINK4.ip), 6: str(HOST_UPLINK6.ip)}
        for each in (shape, *extra):
            for family in (4, 6):
                subnet = each.subnet(family)
                if subnet is not None:
                    wan.route("add", dst=subnet, gateway=vias[family])
            for prefix in each.wan_routes:
                wan.route("add", dst=prefix, gateway=vias[ipaddress.ip_network(prefix).version])

    nf = "1" if shape.bridge_nf_call else "0"
    bridge_nf = []  # without br_netfilter, bridged frames skip the IP hooks: the "0" world
    if shape.bridge_nf_call or br_netfilter_loaded():
        bridge_nf = [
            f"net.bridge.bridge-nf-call-iptables={nf}",
            f"net.bridge.bridge-nf-call-ip6tables={nf}",
        ]
    nsrun(
        names["host"],
        "sysctl",
        "-qw",
        "net.ipv4.ip_forward=1",
        "net.ipv6.conf.all.forwarding=1",
        *bridge_nf,
    )


def remove(names: dict[str, str]) -> None:
    """Delete the namespaces by name; tolerant of ones that were never created."""
    from kernel_support import delete_namespace

    for name in names.values():
        delete_namespace(name)  # its processes too (a dnsmasq `netc apply` started)


@contextmanager
def topology(
    shape: Shape = Shape(), tag: str = "topo", extra: tuple[Shape, ...] = ()
) -> Iterator[Topology]:
    """Build the namespaces for `shape`, yield them, and delete them whatever happens.

    Each `extra` shape is one more network on the same host (its own bridge, e.g. to test
    traffic between networks) with a single guest, role "peer0", "peer1", ...
    """
    if len(tag) > 8:
        raise ValueError(f"tag {tag!r} is too long: namespace names must stay unique in 32 chars")
    if shape.bridge_nf_call:
        require_br_netfilter()
    short = {"guest": "g", "guest2": "g2", "host": "h", "wan": "w"}
    roles = [*ROLES, *(f"peer{n}" for n in range(len(extra)))]
    names: dict[str, str] = {}
    try:
        for role in roles:
            name = unique_name(f"{tag}-{short.get(role, 'p' + role[4:])}")
            netns.create(name)
            names[role] = name
        _build(shape, extra, names)
        yield Topology(shape, dict(names), extra)
    finally:
        remove(names)

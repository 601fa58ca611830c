"""Compiled rules in a real kernel do what libvirt's do, packet by packet.

Each scenario (a `.net` text and the topology shape it describes) is loaded with each backend in
turn — nft, iptables-nft, iptables-legacy — into the host namespace of a *fresh* topology
(conntrack state outlives a ruleset swap), and a fixed list of probes runs once; every check is
then its own test, looking up the probe's outcome. The checks are those of Fedora's test plan for
libvirt's nftables switch: masquerade with port remapping, no inbound connections to NAT guests,
host→guest ssh, guest→host DNS/DHCP, guest↔guest on the bridge; isolated and routed networks get
their own expectations. A `none` run (no rules at all) proves each check marked `sensitive` can
fail: without netc the source leaks and wan→guest succeeds.

Beyond TCP/UDP: ICMP echo both ways (raw sockets; masqueraded out of a NAT network, refused in),
the far end's port unreachable for a guest's UDP flow, which must come back through NAT as
conntrack *related* (the client checks who sent it, so the host's own reject cannot pass for it),
and the host services libvirt opens per mode — DNS over TCP, TFTP (answered from a transfer port,
as a real server does), DHCPv6 (unicast and a solicit to ff02::1:2) — on a host closed with
`services { }`: on an open host those rows would pass without any rules. Rows that the empty
baseline cannot break (a service that must stay reachable, a related error) are each guarded by a
mutant ruleset in MUTANTS instead.
"""

from __future__ import annotations

import ipaddress
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import pytest

from kernel_support import kernel_unavailable, require_kernel
from netc.pipeline import compile_text

from .probing import Outcome, servers
from .topology import (
    HOST_UPLINK4,
    HOST_UPLINK6,
    WAN_UPLINK4,
    WAN_UPLINK6,
    Shape,
    Topology,
    topology,
)

pytestmark = pytest.mark.kernel

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples")

# backend -> [(compiler target, loader argv)], run in the host namespace with the text on stdin
BACKENDS: dict[str, list[tuple[str, list[str]]]] = {
    "nft": [("nft", ["nft", "-f", "-"])],
    "iptables-nft": [
        ("iptables", ["iptables-restore", "--noflush"]),
        ("ip6tables", ["ip6tables-restore", "--noflush"]),
    ],
    "iptables-legacy": [
        # -w: the legacy xtables lock is a file shared by every namespace on the machine
        ("iptables", ["iptables-legacy-restore", "-w", "5", "--noflush"]),
        ("ip6tables", ["ip6tables-legacy-restore", "-w", "5", "--noflush"]),
    ],
}
BASELINE = "none"

WAN_TCP, WAN_UDP = 8080, 8081
GUEST_TCP, GUEST_UDP = 22, 5000  # ssh-like, and a UDP service on the guest
HOST_TCP = 8080  # an arbitrary host service (not DNS/DHCP)


@dataclass(frozen=True, slots=True)
class Check:
    """One probe: a client role connects to a server role's address over one protocol."""

    name: str
    client: str
    proto: str
    server: str
    port: int
    family: int = 4
    sport: int | None = None
    broadcast: bool = False
    closed: bool = False  # no server listens: the far end answers with a port unreachable
    group: str | None = None  # send to this multicast group (scoped, e.g. "ff02::1:2%eth0")

    def spec(self, topo: Topology) -> str:
        host = "255.255.255.255" if self.broadcast else topo.addr(self.server, self.family)
        host = self.group or host
        if self.proto == "icmp":  # an echo request; the server role logs it from a raw socket
            return f"icmp/{host}"
        tail = "" if self.sport is None else f"/{self.sport}"
        return f"{self.proto}/{host}/{self.port}{tail}"


@dataclass(frozen=True, slots=True)
class Expect:
    """What a check should show: reached or blocked; if reached, the source the server saw.

    `source` names whose address the server should see: "masquerade" (the host's uplink
    address), "own" (the client's own address), a CIDR the address must fall in (SNAT to an
    address range), or None (don't care). `remapped` True means the client's low source port
    must arrive moved into `ports` (libvirt's default 1024-65535); False means unchanged.
    """

    reach: bool
    source: str | None = None
    remapped: bool | None = None
    sensitive: bool = False  # the no-rules baseline must violate this expectation
    ports: tuple[int, int] = (1024, 65535)
    result: str | None = None  # the client's exact verdict when blocked ("refused": a reject)
    # "far": the ICMP error must come from the server role's address (the far end's own port
    # unreachable, brought back through NAT as related), not from the host's reject
    by: str | None = None

    def problems(self, check: Check, topo: Topology, outcome: Outcome) -> list[str]:
        """Why `outcome` does not meet this expectation (empty when it does)."""
        if not self.reach:
            if not outcome.blocked:
                return [f"expected blocked, got {outcome}"]
            if self.result is not None and outcome.result != self.result:
                return [f"expected the client to see {self.result}, got {outcome}"]
            far = topo.addr(check.server, check.family)
            if self.by == "far" and outcome.by != far:
                return [f"expected the ICMP error to come from {far}, got {outcome}"]
            return []
        if not outcome.ok:
            return [f"expected to get through, got {outcome}"]
        found = []
        want = self._source(check, topo)
        if want is not None and "/" in want:
            if ipaddress.ip_address(outcome.peer) not in ipaddress.ip_network(want):
                found.append(f"server saw source {outcome.peer}, expected one in {want}")
        elif want is not None and outcome.peer != want:
            found.append(f"server saw source {outcome.peer}, expected {want}")
        low, high = self.ports
        if self.remapped is True and not (low <= outcome.sport <= high):
            found.append(f"source port {outcome.sport} not remapped into {low}-{high}")
        if self.remapped is False and outcome.sport != check.sport:
            found.append(f"source port {check.sport} changed to {outcome.sport}")
        return found

    def _source(self, check: Check, topo: Topology) -> str | None:
        if self.source == "masquerade":
            return str((HOST_UPLINK4 if check.family == 4 else HOST_UPLINK6).ip)
        if self.source != "own":
            return self.source
        if check.client == "wan":
            return str((WAN_UPLINK4 if check.family == 4 else WAN_UPLINK6).ip)
        return topo.addr(check.client, check.family)


def _checks(*pairs: tuple[Check, Expect]) -> tuple[tuple[Check, Expect], ...]:
    return pairs


OUT_TCP = Check("guest_to_wan_tcp", "guest", "tcp", "wan", WAN_TCP, sport=700)
OUT_UDP = Check("guest_to_wan_udp", "guest", "udp", "wan", WAN_UDP, sport=701)
IN_TCP = Check("wan_to_guest_tcp", "wan", "tcp", "guest", GUEST_TCP)
IN_UDP = Check("wan_to_guest_udp", "wan", "udp", "guest", GUEST_UDP)
SSH = Check("host_to_guest_ssh", "host", "tcp", "guest", GUEST_TCP)
DNS_UDP = Check("guest_to_host_dns_udp", "guest", "udp", "host", 53)
DNS_TCP = Check("guest_to_host_dns_tcp", "guest", "tcp", "host", 53)
DHCP = Check("guest_to_host_dhcp", "guest", "udp", "host", 67)
DHCP_BCAST = Check("guest_dhcp_broadcast", "guest", "udp", "host", 67, sport=68, broadcast=True)
CROSS = Check("guest_to_guest2", "guest", "tcp", "guest2", HOST_TCP)
TO_HOST = Check("guest_to_host_tcp", "guest", "tcp", "host", HOST_TCP)
CLOSED_TCP = Check("guest_to_wan_closed_tcp", "guest", "tcp", "wan", 9, sport=702, closed=True)
CLOSED_UDP = Check("guest_to_wan_closed_udp", "guest", "udp", "wan", 9, sport=703, closed=True)
# ICMP echo (raw sockets: the server role logs the request, its kernel answers it)
PING_OUT = Check("guest_ping_wan", "guest", "icmp", "wan", 0)
PING_IN = Check("wan_ping_guest", "wan", "icmp", "guest", 0)
PING_HOST = Check("guest_ping_host", "guest", "icmp", "host", 0)
# host services beyond DHCP/DNS: TFTP (IPv4 only; request to udp 69, the server answers from
# another port and the client acks there) and DHCPv6 (client port 546 -> server 547)
TFTP = Check("guest_to_host_tftp", "guest", "tftp", "host", 69)
DHCPV6 = Check("guest_to_host_dhcpv6", "guest", "udp", "host", 547, family=6, sport=546)
# ... and as a real client solicits: from its link-local address to ff02::1:2
DHCPV6_SOLICIT = Check(
    "guest_dhcpv6_solicit", "guest", "udp", "host", 547, 6, sport=546, group="ff02::1:2%eth0"
)


def _v6(check: Check) -> Check:
    """The same check over IPv6 (a source port moved by 10, so both can run side by side)."""
    sport = None if check.sport is None else check.sport + 10
    return replace(check, name=check.name + "_v6", family=6, sport=sport)


MASQ = Expect(True, "masquerade", remapped=True, sensitive=True)
MASQ_ICMP = Expect(True, "masquerade", sensitive=True)  # no ports: the echo id may stay
OWN = Expect(True, "own")
REACH = Expect(True)
# libvirt rejects (icmp port-unreachable), never drops: the client must see a refusal at once
BLOCKED = Expect(False, sensitive=True, result="refused")
# the far end's port unreachable must come back to the guest through NAT (ct state related)
FAR_REFUSAL = Expect(False, result="refused")
# ... and for UDP, the port unreachable must be the far end's (not a reject by the host)
FAR_UNREACHABLE = Expect(False, result="refused", by="far")
HOST_SIDE = _checks(
    (SSH, OWN), (DNS_UDP, REACH), (DNS_TCP, REACH), (DHCP, REACH), (DHCP_BCAST, REACH)
)


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    text: str
    shape: Shape
    checks: tuple[tuple[Check, Expect], ...]
    removed: bool = False  # load the rules, then their `--remove` text, then probe
    extra: tuple[Shape, ...] = ()  # more networks on the host, one guest each ("peer0", ...)


def _example(name: str) -> str:
    with open(os.path.join(EXAMPLES, name), encoding="utf-8") as fh:
        return fh.read()


# libvirt's default for routed networks: stateless inbound (examples/routed.net asks stateful)
ROUTED_STATELESS = """
network routed {
    bridge virbr2
    forward route { dev wan0 }
    ip 192.0.2.1/25 { dhcp 192.0.2.64 - 192.0.2.100 }
}
"""

# examples/dual-stack.net with `ipv6 nat` added
DUAL_V6NAT = _example("dual-stack.net").replace("forward nat", "forward nat { ipv6 nat }")
assert "ipv6 nat" in DUAL_V6NAT

DEFAULT_SHAPE = Shape(bridge="virbr0", gateway4="192.168.122.1/24", gateway6=None)
ROUTED_SHAPE = Shape(bridge="virbr2", gateway4="192.0.2.1/25", gateway6=None)
DUAL_SHAPE = Shape(bridge="virbr3", gateway4="192.168.123.1/24", gateway6="2001:db8:ca2:2::1/64")

SCENARIOS = [
    Scenario(
        "nat",
        _example("default.net"),
        DEFAULT_SHAPE,
        _checks(
            (OUT_TCP, MASQ),
            (OUT_UDP, MASQ),
            (CLOSED_TCP, FAR_REFUSAL),
            (CLOSED_UDP, FAR_UNREACHABLE),
            (IN_TCP, BLOCKED),
            (IN_UDP, BLOCKED),
            (CROSS, OWN),
            (PING_OUT, MASQ_ICMP),
            (PING_IN, BLOCKED),
            *HOST_SIDE,
        ),
    ),
    # the same with br_netfilter's call-iptables off: bridged guest↔guest skips netfilter
    Scenario(
        "nat_nobrnf",
        _example("default.net"),
        Shape(bridge="virbr0", gateway4="192.168.122.1/24", gateway6=None, bridge_nf_call=False),
        _checks((OUT_TCP, MASQ), (IN_TCP, BLOCKED), (CROSS, OWN)),
    ),
    Scenario(
        "isolated",
        _example("isolated.net"),
        Shape(bridge="virbr1", gateway4="192.168.100.1/24", gateway6=None),
        _checks(
            (OUT_TCP, BLOCKED),
            (OUT_UDP, BLOCKED),
            (IN_TCP, BLOCKED),
            (IN_UDP, BLOCKED),
            (PING_OUT, BLOCKED),
            (PING_IN, BLOCKED),
            (TO_HOST, OWN),
            (CROSS, OWN),
            *HOST_SIDE,
        ),
    ),
    # libvirt's routed default: guests keep their addresses, and inbound is stateless (open)
    Scenario(
        "routed",
        ROUTED_STATELESS,
        ROUTED_SHAPE,
        _checks(
            (OUT_TCP, Expect(True, "own", remapped=False)),
            (OUT_UDP, Expect(True, "own", remapped=False)),
            (IN_TCP, OWN),
            (IN_UDP, OWN),
            (PING_OUT, OWN),
            (PING_IN, OWN),
            (CROSS, OWN),
            *HOST_SIDE,
        ),
    ),
    Scenario(
        "routed_stateful",
        _example("routed.net"),  # `forward route { dev eth0  inbound stateful }`
        Shape(bridge="virbr2", gateway4="192.0.2.1/25", gateway6=None, uplink="eth0"),
        _checks(
            (OUT_TCP, Expect(True, "own", remapped=False)),
            (OUT_UDP, Expect(True, "own", remapped=False)),
            (IN_TCP, BLOCKED),
            (IN_UDP, BLOCKED),
            (PING_OUT, OWN),
            (PING_IN, BLOCKED),
            # inbound is replies only: the far end's port unreachable enters as related
            (CLOSED_UDP, FAR_UNREACHABLE),
            (SSH, OWN),
            # `dev eth0` restricts egress: a bridge netc does not manage is not eth0
            (Check("guest_to_other_bridge", "guest", "tcp", "peer0", GUEST_TCP), BLOCKED),
        ),
        extra=(Shape(bridge="br-other", gateway4="198.51.100.129/25", gateway6=None),),
    ),
    # dual stack in nat mode: IPv4 masqueraded, IPv6 routed (and, as libvirt, open inbound)
    Scenario(
        "dual",
        _example("dual-stack.net"),
        DUAL_SHAPE,
        _checks(
            (OUT_TCP, MASQ),
            (IN_TCP, BLOCKED),
            (_v6(OUT_TCP), Expect(True, "own", remapped=False)),
            (_v6(OUT_UDP), Expect(True, "own", remapped=False)),
            (_v6(IN_TCP), OWN),
            (_v6(SSH), OWN),
            (_v6(DNS_UDP), REACH),
            (_v6(DNS_TCP), REACH),
            (DHCPV6, REACH),
            (_v6(CROSS), OWN),
            (PING_OUT, MASQ_ICMP),
            (PING_IN, BLOCKED),
            (_v6(PING_OUT), OWN),
            (_v6(PING_IN), OWN),
        ),
    ),
    # `ipv6 nat` (libvirt's <nat ipv6='yes'>): IPv6 masqueraded too, and closed inbound
    Scenario(
        "dual_v6nat",
        DUAL_V6NAT,
        DUAL_SHAPE,
        _checks(
            (OUT_TCP, MASQ),
            (_v6(OUT_TCP), MASQ),
            (_v6(OUT_UDP), MASQ),
            (_v6(IN_TCP), BLOCKED),
            (_v6(IN_UDP), BLOCKED),
            (_v6(SSH), OWN),
            (_v6(CROSS), OWN),
            (_v6(PING_OUT), MASQ_ICMP),
            (_v6(PING_IN), BLOCKED),
            (_v6(CLOSED_UDP), FAR_UNREACHABLE),
        ),
    ),
]
# SNAT to an address range the host does not own: the wan routes it back to the host
SNAT_SHAPE = Shape(
    bridge="virbr0", gateway4="192.168.122.1/24", gateway6=None, wan_routes=("192.0.2.192/26",)
)
SCENARIOS += [
    Scenario(
        "nat_snat_range",
        """
        network snat {
            bridge virbr0
            forward nat { address 192.0.2.200 - 192.0.2.203  ports 2000 - 2999 }
            ip 192.168.122.1/24
        }
        """,
        SNAT_SHAPE,
        _checks(
            (OUT_TCP, Expect(True, "192.0.2.200/30", True, True, (2000, 2999))),
            (OUT_UDP, Expect(True, "192.0.2.200/30", True, True, (2000, 2999))),
            (IN_TCP, BLOCKED),
            (CROSS, OWN),
        ),
    ),
    # `forward open`: netc (like libvirt) adds nothing, so traffic flows as without rules
    Scenario(
        "open",
        "network op { bridge virbr0 forward open ip 192.168.122.1/24 }",
        DEFAULT_SHAPE,
        _checks(
            (OUT_TCP, Expect(True, "own", remapped=False)),
            (IN_TCP, OWN),
            (CROSS, OWN),
            (SSH, OWN),
        ),
    ),
    # load, then remove: nothing of netc's behaviour is left (new connections only: conntrack
    # keeps old bindings, which is why every run has fresh namespaces)
    Scenario(
        "nat_removed",
        _example("default.net"),
        DEFAULT_SHAPE,
        _checks(
            (OUT_TCP, Expect(True, "own", remapped=False)),
            (IN_TCP, OWN),
            (CROSS, OWN),
            (SSH, OWN),
        ),
        removed=True,
    ),
]
# several networks in one file: libvirt rejects traffic into another NAT network (its `oif`
# reject comes first), while a routed network accepts it (stateless allow-in)
SCENARIOS.append(
    Scenario(
        "two_networks",
        """
        network default { bridge virbr0 forward nat ip 192.168.122.1/24 }
        network other { bridge virbr5 forward nat ip 192.168.124.1/24 }
        network rt { bridge virbr6 forward route ip 192.0.2.1/25 }
        """,
        DEFAULT_SHAPE,
        _checks(
            (OUT_TCP, MASQ),
            (Check("peer0_to_wan_tcp", "peer0", "tcp", "wan", WAN_TCP, sport=704), MASQ),
            (Check("guest_to_nat_peer", "guest", "tcp", "peer0", GUEST_TCP), BLOCKED),
            (Check("nat_peer_to_guest", "peer0", "tcp", "guest", GUEST_TCP), BLOCKED),
            # masqueraded like any destination outside the source subnet, via virbr6's address
            (
                Check("guest_to_routed_peer", "guest", "tcp", "peer1", GUEST_TCP),
                Expect(True, "192.0.2.1/32"),
            ),
            (Check("wan_to_routed_peer", "wan", "tcp", "peer1", GUEST_TCP), OWN),
            (IN_TCP, BLOCKED),
        ),
        extra=(
            Shape(bridge="virbr5", gateway4="192.168.124.1/24", gateway6=None),
            Shape(bridge="virbr6", gateway4="192.0.2.1/25", gateway6=None),
        ),
    )
)


def _served(forward: str, bridge: str, gateway4: str, served: bool = True) -> str:
    """A network whose host is closed to guests (`services { }`): only what it serves gets in.

    Without `services` netc (like libvirt) leaves the host open, so a guest→host row would pass
    with no rules at all; closed, each service row depends on netc's own accept. `served`
    False: no TFTP, no DHCPv6 range, `dns off` — the same probes must then be refused.
    """
    net = ipaddress.ip_interface(gateway4).network
    first, last = net.network_address + 2, net.broadcast_address - 1
    v4 = f"dhcp {first} - {last}" + ("  tftp /srv/tftp" if served else "")
    v6 = " { dhcp 2001:db8:ca2:2:1::10 - 2001:db8:ca2:2:1::ff }" if served else ""
    lines = [
        f"network served {{ bridge {bridge}  forward {forward}",
        f"    ip {gateway4} {{ {v4} }}",
        f"    ip 2001:db8:ca2:2::1/64{v6}",
        *([] if served else ["    dns off"]),
        "    services { }",
        "}",
    ]
    return "\n".join(lines) + "\n"


SERVED_SHAPE = Shape(bridge="virbr0", gateway4="192.168.122.1/24")  # and 2001:db8:ca2:2::1/64
SERVED_ROUTED_SHAPE = Shape(bridge="virbr2", gateway4="192.0.2.1/25")
# what a closed host must still let in, in every mode that firewalls (nat, route, isolated)
SERVED = _checks(
    (DNS_UDP, REACH),
    (DNS_TCP, REACH),
    (_v6(DNS_TCP), REACH),
    (DHCP, REACH),
    (DHCP_BCAST, REACH),
    (TFTP, REACH),
    (_v6(TFTP), BLOCKED),  # libvirt's (and netc's) TFTP is IPv4 only
    (DHCPV6, REACH),
    (DHCPV6_SOLICIT, REACH),
    (PING_HOST, REACH),
    (_v6(PING_HOST), REACH),
    (TO_HOST, BLOCKED),  # what is neither served nor listed is refused: the host is closed
    (_v6(TO_HOST), BLOCKED),
)
SCENARIOS += [
    Scenario(
        "nat_served",
        _served("nat", "virbr0", "192.168.122.1/24"),
        SERVED_SHAPE,
        _checks(*SERVED, (PING_OUT, MASQ_ICMP), (PING_IN, BLOCKED), (_v6(PING_IN), OWN)),
    ),
    Scenario(
        "isolated_served",
        _served("isolated", "virbr0", "192.168.122.1/24"),
        SERVED_SHAPE,
        _checks(*SERVED, (PING_OUT, BLOCKED), (_v6(PING_OUT), BLOCKED), (PING_IN, BLOCKED)),
    ),
    Scenario(
        "routed_served",
        _served("route", "virbr2", "192.0.2.1/25"),
        SERVED_ROUTED_SHAPE,
        _checks(*SERVED, (PING_OUT, OWN), (PING_IN, OWN), (CLOSED_UDP, FAR_UNREACHABLE)),
    ),
    # the same closed host without TFTP, DHCPv6 or DNS: none of them may get in
    Scenario(
        "nat_unserved",
        _served("nat", "virbr0", "192.168.122.1/24", served=False),
        SERVED_SHAPE,
        _checks(
            (DNS_UDP, BLOCKED),
            (DNS_TCP, BLOCKED),
            (_v6(DNS_TCP), BLOCKED),
            (TFTP, BLOCKED),
            (DHCPV6, BLOCKED),
            (DHCP, REACH),
            (PING_HOST, REACH),
            (TO_HOST, BLOCKED),
        ),
    ),
]
BY_NAME = {s.name: s for s in SCENARIOS}

# (scenario, backend or None for all, check name) -> reason: compiler bugs found by these tests.
KNOWN_BUGS: dict[tuple[str, str | None, str], str] = {}


@dataclass(frozen=True, slots=True)
class Run:
    topo: Topology  # namespaces gone by now; kept for the addresses
    outcomes: dict[str, Outcome]
    seconds: float


def _listen(scenario: Scenario) -> dict[str, list[str]]:
    listen: dict[str, set[str]] = {}
    for check, _ in scenario.checks:
        if check.closed:
            continue
        spec = "icmp" if check.proto == "icmp" else f"{check.proto}/{check.port}"
        listen.setdefault(check.server, set()).add(spec)
    return {role: sorted(specs) for role, specs in listen.items()}


def _load(topo: Topology, backend: str, scenario: Scenario, mutate: Mutation | None) -> None:
    for remove in (False, True) if scenario.removed else (False,):
        for target, argv in BACKENDS[backend]:
            rules = compile_text(scenario.text, f"{scenario.name}.net", target, remove=remove)
            if mutate is not None and not remove:
                rules = mutate(rules)
            topo.run("host", *argv, input=rules)


def observe(scenario: Scenario, backend: str, mutate: Mutation | None = None) -> Run:
    """Build a fresh topology, load the rules (none for the baseline), run every probe once."""
    started = time.monotonic()
    with topology(scenario.shape, f"bh{len(_RUNS)}", scenario.extra) as topo:
        if backend != BASELINE:
            _load(topo, backend, scenario, mutate)
        clients: dict[str, list[str]] = {}
        for check, _ in scenario.checks:
            clients.setdefault(check.client, []).append(check.spec(topo))
        with servers(topo, _listen(scenario)) as srv:
            got = srv.probe(clients, timeout=1.0)
    outcomes = {check.name: got[(check.client, check.spec(topo))] for check, _ in scenario.checks}
    return Run(topo, outcomes, time.monotonic() - started)


# (scenario, backend, mutant name or "") -> its run, or why it could not be observed
_RUNS: dict[tuple[str, str, str], Run | Exception] = {}


Mutation = Callable[[str], str]


def _without(*needles: str) -> Mutation:
    """A mutant ruleset: every line containing one of `needles` is dropped."""
    return lambda text: "\n".join(
        line for line in text.splitlines() if not any(n in line for n in needles)
    )


def _replace(*pairs: tuple[str, str]) -> Mutation:
    """A mutant ruleset: each (old, new) text replacement applied in turn."""

    def mutate(text: str) -> str:
        for old, new in pairs:
            text = text.replace(old, new)
        return text

    return mutate


def _without_generic_masquerade(text: str) -> str:
    """Drop the masquerade rule for protocols other than tcp/udp (ICMP's only translation)."""
    generic = ("masquerade", "-j MASQUERADE")
    return "\n".join(line for line in text.splitlines() if not line.rstrip().endswith(generic))


@dataclass(frozen=True, slots=True)
class Mutant:
    """How to break the emitted text, the scenario to run it on, and the checks that must fail."""

    mutate: Mutation
    must_fail: frozenset[str]
    scenario: str = "nat"


MUTANTS: dict[str, Mutant] = {
    "no_established_return": Mutant(
        _without("established", "ESTABLISHED"),
        frozenset({"guest_to_wan_tcp", "guest_to_wan_udp", "guest_to_wan_closed_tcp"}),
    ),
    "no_port_range": Mutant(
        lambda t: t.replace(" to :1024-65535", "").replace(" --to-ports 1024-65535", ""),
        frozenset({"guest_to_wan_tcp", "guest_to_wan_udp"}),
    ),
    "no_guest_cross": Mutant(
        _without('iifname "virbr0" accept', "NETC_FWX -i"), frozenset({"guest_to_guest2"})
    ),
    "no_inbound_reject": Mutant(
        _without("meta nfproto ipv4 reject", "NETC_FWI -o virbr0 -j REJECT"),
        frozenset({"wan_to_guest_tcp", "wan_to_guest_udp", "wan_ping_guest"}),
    ),
    # ct state established only: replies still pass, ICMP errors about a flow do not
    "no_related": Mutant(
        _replace(("established,related", "established"), ("RELATED,ESTABLISHED", "ESTABLISHED")),
        frozenset({"guest_to_wan_closed_udp"}),
    ),
    "no_related_routed": Mutant(
        _replace(("established,related", "established"), ("RELATED,ESTABLISHED", "ESTABLISHED")),
        frozenset({"guest_to_wan_closed_udp"}),
        "routed_stateful",
    ),
    "no_related_v6nat": Mutant(
        _replace(("established,related", "established"), ("RELATED,ESTABLISHED", "ESTABLISHED")),
        frozenset({"guest_to_wan_closed_udp_v6"}),
        "dual_v6nat",
    ),
    # the host rejects what guests send out: its port unreachable is not the far end's
    "no_outbound_accept": Mutant(
        _without("ip saddr 192.168.122.0/24 accept", "NETC_FWO -s 192.168.122.0/24"),
        frozenset({"guest_to_wan_closed_udp", "guest_ping_wan", "guest_to_wan_udp"}),
    ),
    "no_generic_masquerade": Mutant(_without_generic_masquerade, frozenset({"guest_ping_wan"})),
    # a routed network's allow-in made stateful: the outside can no longer ping (or reach) guests
    "routed_inbound_stateful": Mutant(
        _replace(
            ('iifname "wan0" accept', 'iifname "wan0" ct state established,related accept'),
            (
                "-i wan0 -o virbr2 -j",
                "-i wan0 -o virbr2 -m conntrack --ctstate RELATED,ESTABLISHED -j",
            ),
        ),
        frozenset({"wan_ping_guest", "wan_to_guest_tcp"}),
        "routed",
    ),
    # one run for three independent rules (each matches only its own port): TFTP, DHCPv6, DNS/TCP
    "no_served_ports": Mutant(
        _without(
            "udp dport 69 accept",
            "--dport 69 -j ACCEPT",
            "udp dport 547 accept",
            "--dport 547 -j ACCEPT",
            "tcp dport 53 accept",
            "-p tcp -m tcp --dport 53 -j ACCEPT",
        ),
        frozenset(
            {
                "guest_to_host_tftp",
                "guest_to_host_dhcpv6",
                "guest_dhcpv6_solicit",
                "guest_to_host_dns_tcp",
                "guest_to_host_dns_tcp_v6",
            }
        ),
        "nat_served",
    ),
    # a closed host must let in replies to what it sent: the TFTP ack to the transfer port
    "no_host_established": Mutant(
        _without("meta nfproto ipv4 ct state established", "NETC_INP -i virbr0 -m conntrack"),
        frozenset({"guest_to_host_tftp"}),
        "nat_served",
    ),
    "no_host_icmp": Mutant(
        _without("ip protocol icmp accept", "-p icmp -j ACCEPT"),
        frozenset({"guest_ping_host"}),
        "isolated_served",
    ),
    "no_host_reject": Mutant(
        _without("meta nfproto ipv4 reject", "NETC_INP -i virbr0 -j REJECT"),
        frozenset({"guest_to_host_tftp", "guest_to_host_dns_tcp", "guest_to_host_tcp"}),
        "nat_unserved",
    ),
}


def _observe_once(key: tuple[str, str, str]) -> None:
    if key not in _RUNS:
        scenario, backend, mutant = key
        try:
            mutate = MUTANTS[mutant].mutate if mutant else None
            _RUNS[key] = observe(BY_NAME[scenario], backend, mutate)
        except Exception as err:  # remembered, so one broken run fails its checks fast
            _RUNS[key] = err


PARALLEL = 3  # observations at once: each mostly waits for processes to start


@pytest.fixture(scope="module", autouse=True)
def _prefetch(request: pytest.FixtureRequest) -> None:
    """Observe every (scenario, backend) the selected tests need, a few at a time.

    Each observation is independent (its own namespaces), and most of its time is spent
    waiting for `ip netns exec` and Python to start, so running them side by side divides the
    file's wall time without changing what any single run sees.
    """
    wanted = []
    for item in request.session.items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if item.module is not request.module or not {"scenario_name", "mutant"} & set(params):
            continue
        mutant = params.get("mutant", "")
        key = (
            MUTANTS[mutant].scenario if mutant else params["scenario_name"],
            params.get("backend", BASELINE),
            mutant,
        )
        if key not in wanted:
            wanted.append(key)
    if not wanted or kernel_unavailable() is not None:
        return  # each test then skips (or, under CI, fails) by itself
    with ThreadPoolExecutor(PARALLEL) as pool:
        list(pool.map(_observe_once, wanted))


def run_of(scenario: Scenario, backend: str, mutant: str = "") -> Run:
    """Each (scenario, backend[, mutant]) is observed once per session, shared by its checks."""
    require_kernel()
    key = (scenario.name, backend, mutant)
    _observe_once(key)
    found = _RUNS[key]
    if isinstance(found, Exception):
        raise found
    return found


def _cases():
    for scenario in SCENARIOS:
        for backend in BACKENDS:
            for check, _ in scenario.checks:
                marks = []
                for key in (
                    (scenario.name, backend, check.name),
                    (scenario.name, None, check.name),
                ):
                    if key in KNOWN_BUGS:
                        marks.append(pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[key]))
                yield pytest.param(
                    scenario.name,
                    backend,
                    check.name,
                    marks=marks,
                    id=f"{scenario.name}-{backend}-{check.name}",
                )


def _expectation(scenario: Scenario, name: str) -> tuple[Check, Expect]:
    return next((c, e) for c, e in scenario.checks if c.name == name)


@pytest.mark.parametrize("scenario_name, backend, check_name", list(_cases()))
def test_behaviour(scenario_name: str, backend: str, check_name: str) -> None:
    scenario = BY_NAME[scenario_name]
    check, expect = _expectation(scenario, check_name)
    run = run_of(scenario, backend)
    problems = expect.problems(check, run.topo, run.outcomes[check_name])
    assert not problems, "; ".join(problems)


def _sensitive():
    for scenario in SCENARIOS:
        for check, expect in scenario.checks:
            if expect.sensitive:
                yield pytest.param(scenario.name, check.name, id=f"{scenario.name}-{check.name}")


@pytest.mark.parametrize("scenario_name, check_name", list(_sensitive()))
def test_baseline_without_rules_fails_the_check(scenario_name: str, check_name: str) -> None:
    """Without rules the check must fail, or it would prove nothing about the rules."""
    scenario = BY_NAME[scenario_name]
    check, expect = _expectation(scenario, check_name)
    run = run_of(scenario, BASELINE)
    outcome = run.outcomes[check_name]
    assert expect.problems(check, run.topo, outcome), f"passes without rules: {outcome}"


PROBE_BUDGET_MS = 500  # a reject answers in milliseconds; a drop or a SYN retry costs ≥ 1000
RUN_BUDGET_S = 15.0  # build, load, probe, teardown: about 0.3 s on an idle machine


@pytest.mark.parametrize("backend", list(BACKENDS))
@pytest.mark.parametrize("scenario_name", [s.name for s in SCENARIOS])
def test_scenario_is_fast(scenario_name: str, backend: str) -> None:
    """Every probe answers at once (rejects, not drops; no retries), and a run takes seconds.

    The per-probe figure is what the rules decide; the run's wall time mostly measures how busy
    the machine is, so its bound only catches a hang.
    """
    run = run_of(BY_NAME[scenario_name], backend)
    slow = [str(o) for o in run.outcomes.values() if o.ms > PROBE_BUDGET_MS]
    assert not slow, f"probes over {PROBE_BUDGET_MS} ms: {slow}"
    assert run.seconds < RUN_BUDGET_S, f"{scenario_name} on {backend} took {run.seconds:.2f} s"


@pytest.mark.parametrize("backend", ["nft", "iptables-nft"])
@pytest.mark.parametrize("mutant", list(MUTANTS))
def test_mutant_ruleset_is_caught(mutant: str, backend: str) -> None:
    """Each rule that matters, removed from the emitted text, makes the checks relying on it fail.

    Stronger than the no-rules baseline: it shows which check guards which rule.
    """
    require_kernel()
    spec = MUTANTS[mutant]
    scenario = BY_NAME[spec.scenario]
    texts = [
        compile_text(scenario.text, f"{scenario.name}.net", target)
        for target, _ in BACKENDS[backend]
    ]
    if all(spec.mutate(text) == text for text in texts):
        pytest.fail(f"mutant {mutant} no longer matches the emitted text: update MUTANTS")
    run = run_of(scenario, backend, mutant)
    failed = {c.name for c, e in scenario.checks if e.problems(c, run.topo, run.outcomes[c.name])}
    assert spec.must_fail <= failed, f"not caught by {sorted(spec.must_fail - failed)}"

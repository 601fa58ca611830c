"""Compiled rules in a real kernel do what libvirt's do (issue #2, "Behaviour in a real kernel").

Each scenario (a `.net` text and the topology shape it describes) is loaded with each backend in
turn — nft, iptables-nft, iptables-legacy — into the host namespace of a *fresh* topology
(conntrack state outlives a ruleset swap), and a fixed list of probes runs once; every check is
then its own test, looking up the probe's outcome. The checks are those of Fedora's test plan for
libvirt's nftables switch: masquerade with port remapping, no inbound connections to NAT guests,
host→guest ssh, guest→host DNS/DHCP, guest↔guest on the bridge; isolated and routed networks get
their own expectations. A `none` run (no rules at all) proves each check marked `sensitive` can
fail: without netc the source leaks and wan→guest succeeds.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import pytest

from kernel_support import require_kernel
from netc.compiler.api import compile_text

from .probing import Outcome, servers
from .topology import HOST_UPLINK4, HOST_UPLINK6, WAN_UPLINK4, WAN_UPLINK6, Shape, topology

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
        ("iptables", ["iptables-legacy-restore", "--noflush"]),
        ("ip6tables", ["ip6tables-legacy-restore", "--noflush"]),
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

    def spec(self, shape: Shape) -> str:
        if self.broadcast:
            host = "255.255.255.255"
        elif self.server == "wan":
            host = "198.51.100.1" if self.family == 4 else "2001:db8:5100::1"
        elif self.server == "host":
            host = shape.gateway_addr(self.family)
        else:
            host = shape.guest_addr(self.family, second=self.server == "guest2")
        tail = "" if self.sport is None else f"/{self.sport}"
        return f"{self.proto}/{host}/{self.port}{tail}"


@dataclass(frozen=True, slots=True)
class Expect:
    """What a check should show: reached or blocked; if reached, the source the server saw.

    `source` names whose address the server should see: "masquerade" (the host's uplink
    address), "own" (the client's own address), or None (don't care). `remapped` True means the
    client's low source port must arrive moved into 1024-65535; False means unchanged.
    """

    reach: bool
    source: str | None = None
    remapped: bool | None = None
    sensitive: bool = False  # the no-rules baseline must violate this expectation

    def problems(self, check: Check, shape: Shape, outcome: Outcome) -> list[str]:
        """Why `outcome` does not meet this expectation (empty when it does)."""
        if not self.reach:
            return [] if outcome.blocked else [f"expected blocked, got {outcome}"]
        if not outcome.ok:
            return [f"expected to get through, got {outcome}"]
        found = []
        want = self._source(check, shape)
        if want is not None and outcome.peer != want:
            found.append(f"server saw source {outcome.peer}, expected {want}")
        if self.remapped is True and not (1024 <= outcome.sport <= 65535):
            found.append(f"source port {outcome.sport} not remapped into 1024-65535")
        if self.remapped is False and outcome.sport != check.sport:
            found.append(f"source port {check.sport} changed to {outcome.sport}")
        return found

    def _source(self, check: Check, shape: Shape) -> str | None:
        if self.source == "masquerade":
            return str((HOST_UPLINK4 if check.family == 4 else HOST_UPLINK6).ip)
        if self.source != "own":
            return None
        if check.client == "wan":
            return str((WAN_UPLINK4 if check.family == 4 else WAN_UPLINK6).ip)
        if check.client == "host":
            return shape.gateway_addr(check.family)
        return shape.guest_addr(check.family, second=check.client == "guest2")


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


def _v6(check: Check) -> Check:
    return Check(
        check.name + "_v6",
        check.client,
        check.proto,
        check.server,
        check.port,
        6,
        None if check.sport is None else check.sport + 10,
    )


MASQ = Expect(True, "masquerade", remapped=True, sensitive=True)
OWN = Expect(True, "own")
REACH = Expect(True)
BLOCKED = Expect(False, sensitive=True)
HOST_SIDE = _checks(
    (SSH, OWN), (DNS_UDP, REACH), (DNS_TCP, REACH), (DHCP, REACH), (DHCP_BCAST, REACH)
)


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    text: str
    shape: Shape
    checks: tuple[tuple[Check, Expect], ...]


def _example(name: str) -> str:
    with open(os.path.join(EXAMPLES, name), encoding="utf-8") as fh:
        return fh.read()


ISOLATED = """
network iso {
    bridge virbr1
    forward isolated
    ip 192.168.100.1/24 { dhcp 192.168.100.128 - 192.168.100.254 }
}
"""

ROUTED = """
network routed {
    bridge virbr2
    forward route { dev wan0 %s }
    ip 192.0.2.1/25 { dhcp 192.0.2.64 - 192.0.2.100 }
}
"""

DUAL = """
network dual {
    bridge virbr3
    forward nat %s
    ip 192.168.123.1/24 { dhcp 192.168.123.100 - 192.168.123.254 }
    ip 2001:db8:ca2:2::1/64
}
"""

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
            (IN_TCP, BLOCKED),
            (IN_UDP, BLOCKED),
            (CROSS, OWN),
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
        ISOLATED,
        Shape(bridge="virbr1", gateway4="192.168.100.1/24", gateway6=None),
        _checks(
            (OUT_TCP, BLOCKED),
            (OUT_UDP, BLOCKED),
            (IN_TCP, BLOCKED),
            (IN_UDP, BLOCKED),
            (TO_HOST, OWN),
            (CROSS, OWN),
            *HOST_SIDE,
        ),
    ),
    # libvirt's routed default: guests keep their addresses, and inbound is stateless (open)
    Scenario(
        "routed",
        ROUTED % "",
        ROUTED_SHAPE,
        _checks(
            (OUT_TCP, Expect(True, "own", remapped=False)),
            (OUT_UDP, Expect(True, "own", remapped=False)),
            (IN_TCP, OWN),
            (IN_UDP, OWN),
            (CROSS, OWN),
            *HOST_SIDE,
        ),
    ),
    Scenario(
        "routed_stateful",
        ROUTED % "inbound stateful",
        ROUTED_SHAPE,
        _checks(
            (OUT_TCP, Expect(True, "own", remapped=False)),
            (OUT_UDP, Expect(True, "own", remapped=False)),
            (IN_TCP, BLOCKED),
            (IN_UDP, BLOCKED),
            (SSH, OWN),
        ),
    ),
    # dual stack in nat mode: IPv4 masqueraded, IPv6 routed (and, as libvirt, open inbound)
    Scenario(
        "dual",
        DUAL % "",
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
            (_v6(CROSS), OWN),
        ),
    ),
    # `ipv6 nat` (libvirt's <nat ipv6='yes'>): IPv6 masqueraded too, and closed inbound
    Scenario(
        "dual_v6nat",
        DUAL % "{ ipv6 nat }",
        DUAL_SHAPE,
        _checks(
            (OUT_TCP, MASQ),
            (_v6(OUT_TCP), MASQ),
            (_v6(OUT_UDP), MASQ),
            (_v6(IN_TCP), BLOCKED),
            (_v6(IN_UDP), BLOCKED),
            (_v6(SSH), OWN),
            (_v6(CROSS), OWN),
        ),
    ),
]
BY_NAME = {s.name: s for s in SCENARIOS}

# (scenario, backend or None for all, check name) -> reason: compiler bugs found by these tests.
KNOWN_BUGS: dict[tuple[str, str | None, str], str] = {}


@dataclass(frozen=True, slots=True)
class Run:
    outcomes: dict[str, Outcome]
    seconds: float


def _listen(scenario: Scenario) -> dict[str, list[str]]:
    listen: dict[str, set[str]] = {}
    for check, _ in scenario.checks:
        listen.setdefault(check.server, set()).add(f"{check.proto}/{check.port}")
    return {role: sorted(specs) for role, specs in listen.items()}


def _load(topo, backend: str, scenario: Scenario) -> None:
    for target, argv in BACKENDS[backend]:
        rules = compile_text(scenario.text, f"{scenario.name}.net", target)
        topo.run("host", *argv, input=rules)


def observe(scenario: Scenario, backend: str) -> Run:
    """Build a fresh topology, load the rules (none for the baseline), run every probe once."""
    started = time.monotonic()
    with topology(scenario.shape, tag=f"bh{len(_RUNS)}") as topo:
        if backend != BASELINE:
            _load(topo, backend, scenario)
        clients: dict[str, list[str]] = {}
        for check, _ in scenario.checks:
            clients.setdefault(check.client, []).append(check.spec(scenario.shape))
        with servers(topo, _listen(scenario)) as srv:
            got = srv.probe(clients, timeout=1.0)
    outcomes = {
        check.name: got[(check.client, check.spec(scenario.shape))] for check, _ in scenario.checks
    }
    return Run(outcomes, time.monotonic() - started)


_RUNS: dict[tuple[str, str], Run | Exception] = {}


def run_of(scenario: Scenario, backend: str) -> Run:
    """Each (scenario, backend) is observed once per session and shared by its checks."""
    require_kernel()
    key = (scenario.name, backend)
    if key not in _RUNS:
        try:
            _RUNS[key] = observe(scenario, backend)
        except Exception as err:  # remembered, so one broken run fails its checks fast
            _RUNS[key] = err
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
    outcome = run_of(scenario, backend).outcomes[check_name]
    assert not expect.problems(check, scenario.shape, outcome), "; ".join(
        expect.problems(check, scenario.shape, outcome)
    )


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
    outcome = run_of(scenario, BASELINE).outcomes[check_name]
    assert expect.problems(check, scenario.shape, outcome), f"passes without rules: {outcome}"


@pytest.mark.parametrize("backend", list(BACKENDS))
@pytest.mark.parametrize("scenario_name", [s.name for s in SCENARIOS])
def test_scenario_is_fast(scenario_name: str, backend: str) -> None:
    """Build, load, probe and teardown stay within seconds: rejects, not drops, and no waits."""
    seconds = run_of(BY_NAME[scenario_name], backend).seconds
    assert seconds < 5.0, f"{scenario_name} on {backend} took {seconds:.2f} s"

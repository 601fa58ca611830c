"""netc's rules for libvirt's XML are equivalent to libvirt's own, proven by the verifier.

Every corpus case on both backends; each deliberate difference is named here with its reason,
and where it changes a verdict the verifier's counterexamples must show exactly it, no more.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

import pytest

from netc.pipeline import compile_sources, emit
from netc.libvirt import import_sources, read_xml
from libvirt_replay import CASES, Case, case_named, commands, iptables_texts, nft_script
from netc.libvirt.records import LvNetwork

HERE = Path(__file__).parent
CORPUS = HERE / "corpus"
CONFORMANCE = HERE.parent.parent / "libvirt" / "CONFORMANCE.md"


def _parity():
    """netc.parity, or skip — except under CI, where a missing verifier is a failure."""
    try:
        import netc.parity  # noqa: F401
        import libvirt_conformance as conformance
    except ImportError as err:
        if os.environ.get("CI"):
            pytest.fail(f"netc.parity must be importable under CI: {err}")
        pytest.skip(f"netc.parity (the verifier) is not importable yet: {err}")
    return netc.parity, conformance


def _lv(case: Case) -> LvNetwork:
    return read_xml((CORPUS / case.xml).read_text(), case.xml)[0]


def _serves_dhcp4(net: LvNetwork) -> bool:
    return any(ip.gateway.version == 4 and (ip.ranges or ip.hosts) for ip in net.ips)


# -- equivalence per case and backend ---------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_nftables_backend_equivalent(case: Case) -> None:
    parity, conformance = _parity()
    libvirt, netc = conformance.rulesets(CORPUS, case)["nftables"]
    result = parity.verify(libvirt, netc)
    assert result.equivalent, parity.format_result(result)
    # Declared, libvirt only: `counter` on every rule (iptables counts implicitly; netc's nft
    # has no counters) and, in the generation that had it, the DHCP `udp checksum set 0` rule
    # (netc emits no checksum fix-up: no verdict effect, and newer libvirt uses tc for it).
    expected = {("counter", "A")}
    if "checksum" in (CORPUS / case.nftables).read_text():
        expected.add(("udp checksum set 0", "A"))
    assert {(d.kind, d.only_in) for d in result.declared} == expected


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_iptables_backend_equivalent(case: Case) -> None:
    parity, conformance = _parity()
    libvirt, netc = conformance.rulesets(CORPUS, case)["iptables"]
    result = parity.verify(libvirt, netc)
    assert result.equivalent, parity.format_result(result)
    # Declared, libvirt only: mangle `CHECKSUM --checksum-fill` for DHCP replies, which libvirt
    # adds when an IPv4 <ip> serves DHCP. netc omits it (no verdict effect; libvirt adds it
    # ignoring errors since not every iptables has the target; newer libvirt uses tc).
    expected = {("CHECKSUM --checksum-fill", "A")} if _serves_dhcp4(_lv(case)) else set()
    assert {(d.kind, d.only_in) for d in result.declared} == expected


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_both_sides_meet_the_networks_spec(case: Case) -> None:
    """Agreeing is not enough: libvirt's and netc's rulesets both pass the verifier's
    behavioural spec of the network (what `netc verify --spec` checks)."""
    parity, conformance = _parity()
    from netc.parity.spec import check_spec, format_spec_failures

    spec = conformance._spec(CORPUS, case)
    for backend, sides in conformance.rulesets(CORPUS, case).items():
        for side in sides:
            failures = check_spec(side, spec)
            assert not failures, f"{backend}: {format_spec_failures(failures)}"


# -- host services: invisible under ACCEPT policies, exact under DROP -----------------------


def _libvirt_host_accepts(net: LvNetwork) -> set[str]:
    """libvirt's iptables host rules (reference §2.3): unconditional DHCP/DNS, TFTP, IPv6."""
    keys = {
        f"ipv4 {path} {proto}/{port}"
        for path, port in (("input", 67), ("output", 68), ("input", 53), ("output", 53))
        for proto in ("tcp", "udp")
    }
    v4 = [ip for ip in net.ips if ip.gateway.version == 4]
    first = next((ip for ip in v4 if ip.ranges or ip.hosts or ip.tftp), None)
    if first is not None and first.tftp is not None:
        keys |= {"ipv4 input udp/69", "ipv4 output udp/69"}
    if any(ip.gateway.version == 6 for ip in net.ips):
        keys |= {f"ipv6 {p} {proto}/53" for p in ("input", "output") for proto in ("tcp", "udp")}
        keys |= {"ipv6 input udp/547", "ipv6 output udp/546"}
    return keys


def _netc_host_accepts(net: LvNetwork) -> set[str]:
    """netc's policy: per family in use, only what the network serves."""
    keys: set[str] = set()
    for version, fam, (dhcp_in, dhcp_out) in ((4, "ipv4", (67, 68)), (6, "ipv6", (547, 546))):
        ips = [ip for ip in net.ips if ip.gateway.version == version]
        if not ips:
            continue
        if any(ip.ranges or ip.hosts for ip in ips):
            keys |= {f"{fam} input udp/{dhcp_in}", f"{fam} output udp/{dhcp_out}"}
        if net.dns:
            keys |= {f"{fam} input tcp/53", f"{fam} input udp/53"}
        if any(ip.tftp for ip in ips):
            keys.add(f"{fam} input udp/69")
    return keys


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_host_services_differ_exactly_as_declared_under_a_drop_policy(case: Case) -> None:
    """Deliberate difference: netc accepts guest↔host DHCP/DNS/TFTP only where the network
    serves them, on both backends; libvirt's iptables backend accepts DHCP and DNS over tcp and
    udp, in and out, always. With ACCEPT policies nobody can tell (the tests above); with a host
    firewall's DROP policy on INPUT/OUTPUT the verifier must find exactly these ports, each
    accepted by libvirt and dropped by netc, and nothing else."""
    _, conformance = _parity()
    found, result = conformance.host_only(CORPUS, case)
    net = _lv(case)
    assert not _netc_host_accepts(net) - _libvirt_host_accepts(net)
    assert found.netc_only == ()
    assert set(found.libvirt_only) == _libvirt_host_accepts(net) - _netc_host_accepts(net)
    for ce in result.counterexamples:
        assert ce.packet.path.value in ("input", "output")
        assert ce.a.outcome.verdict == "accept" and ce.b.outcome.verdict == "drop"
        bridge = ce.packet.iif if ce.packet.path.value == "input" else ce.packet.oif
        assert bridge == "virbr0"


FOREIGN_NFT_DROP = """table inet hostfw {
\tchain input { type filter hook input priority 10; policy drop; }
\tchain output { type filter hook output priority 10; policy drop; }
}
"""


@pytest.mark.parametrize("case", [case_named("nat-default"), case_named("nat-ipv6")])
def test_on_nft_a_foreign_drop_wins_on_both_sides(case: Case) -> None:
    """nft: an accept ends only its own table's evaluation, so a host firewall's drop table
    drops guest DHCP/DNS under libvirt and netc alike: no difference, unlike iptables."""
    parity, conformance = _parity()
    libvirt, netc = conformance.rulesets(CORPUS, case)["nftables"]
    foreign = parity.parse_nft(FOREIGN_NFT_DROP, "hostfw.nft")
    result = parity.verify(libvirt.merged(foreign), netc.merged(foreign))
    assert result.equivalent, parity.format_result(result)


# -- beyond the corpus: network order, opt-in stateful inbound ---------------------------------


def _second_network(text: str) -> str:
    """route-default renamed onto its own bridge and subnet, as a second libvirt network."""
    return (
        text.replace("virbr0", "virbr1")
        .replace("192.168.122.", "192.168.123.")
        .replace("<name>default</name>", "<name>routed</name>")
    )


@pytest.mark.parametrize("routed_first", [False, True], ids=["nat-first", "routed-first"])
def test_two_networks_in_either_start_order(routed_first: bool) -> None:
    """Deliberate difference in structure, none in behaviour: libvirt puts all networks into
    shared chains, the last started first; netc dispatches per bridge. Both start orders of a
    NAT and a routed network are equivalent to netc's one ruleset."""
    parity, _ = _parity()
    nat, route = case_named("nat-default"), case_named("route-default")

    def cmds(backend: str, case: Case) -> list[list[str]]:
        path = case.nftables if backend == "nft" else case.iptables
        text = (CORPUS / path).read_text()
        return commands(_second_network(text) if case is route else text)

    order = [route, nat] if routed_first else [nat, route]
    nft = commands((CORPUS / "base.nftables").read_text())
    ipt = commands((CORPUS / "base.iptables").read_text())
    for case in order:
        nft += cmds("nft", case)
        ipt += cmds("ipt", case)
    libvirt_ipt = iptables_texts(ipt)
    sources = [
        ("default.xml", (CORPUS / nat.xml).read_text()),
        ("routed.xml", _second_network((CORPUS / route.xml).read_text())),
    ]
    compiled = compile_sources(sources)
    a = parity.parse_nft(nft_script(nft), "libvirt.nft")
    b = parity.parse_nft(emit(compiled, "nft"), "netc.nft")
    result = parity.verify(a, b)
    assert result.equivalent, parity.format_result(result)
    v4, v6 = (parity.Family.IPV4, parity.Family.IPV6)
    a = parity.parse_iptables(libvirt_ipt[_ir(4)], v4, "lv4").merged(
        parity.parse_iptables(libvirt_ipt[_ir(6)], v6, "lv6")
    )
    b = parity.parse_iptables(emit(compiled, "iptables"), v4, "n4").merged(
        parity.parse_iptables(emit(compiled, "ip6tables"), v6, "n6")
    )
    result = parity.verify(a, b)
    assert result.equivalent, parity.format_result(result)


def _ir(version: int):
    from netc.ir.model import Family

    return Family.IPV4 if version == 4 else Family.IPV6


@pytest.mark.parametrize("backend", ["nftables", "iptables"])
def test_opt_in_stateful_inbound_differs_exactly_on_new_inbound_connections(backend: str) -> None:
    """Deliberate (opt-in) difference: libvirt's routed inbound is stateless and so is netc's
    default (the corpus cases above); `inbound stateful` lets only replies in. The verifier's
    counterexamples must all be new (non-reply) forwarded packets into the routed subnet that
    libvirt accepts and netc rejects."""
    parity, conformance = _parity()
    case = case_named("route-default")
    text = import_sources([("route-default.xml", (CORPUS / case.xml).read_text())]).text
    assert "inbound stateless" in text
    compiled = compile_sources([("stateful.net", text.replace("stateless", "stateful"))])
    libvirt, _ = conformance.rulesets(CORPUS, case)[backend]
    if backend == "nftables":
        netc = parity.parse_nft(emit(compiled, "nft"), "netc.nft")
    else:
        netc = parity.parse_iptables(emit(compiled, "iptables"), parity.Family.IPV4, "n4").merged(
            parity.parse_iptables(emit(compiled, "ip6tables"), parity.Family.IPV6, "n6")
        )
    result = parity.verify(libvirt, netc, max_counterexamples=1000)
    assert not result.equivalent and result.counterexamples
    subnet = ipaddress.ip_network("192.168.122.0/24")
    for ce in result.counterexamples:
        p = ce.packet
        assert p.path.value == "forward" and p.oif == "virbr0" and p.iif != "virbr0"
        assert ipaddress.ip_address(p.daddr) in subnet
        assert p.ct not in ("established", "related")
        assert ce.a.outcome.verdict == "accept" and ce.b.outcome.verdict == "reject"


# -- the table in the README -------------------------------------------------------------------


def test_conformance_table_is_up_to_date() -> None:
    """Regenerate with: python tools/libvirt_conformance.py --write libvirt/CONFORMANCE.md"""
    _, conformance = _parity()
    assert CONFORMANCE.read_text() == conformance.table(CORPUS), (
        "libvirt/CONFORMANCE.md is stale; run "
        "python tools/libvirt_conformance.py --write libvirt/CONFORMANCE.md"
    )

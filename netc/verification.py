"""Checking compiled output: both backends' texts proven equivalent, and held to the spec.

The verifier (`netc.parity`) reads emitted text only and knows nothing of netc's IR; this layer
is the one place that translates a compiled program into parity's terms: the rulesets (netc's
own emitted texts, parsed by parity's parsers) and the behaviour spec (`SpecNetwork`, read from
the IR). `netc verify`, `netc compile --verify` and the libvirt conformance tool call it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from netc.collector import collector_paused
from netc.ir.model import Family as IrFamily
from netc.ir.model import FilterAction, Network
from netc.parity import format_result, verify
from netc.parity.ipt_parse import parse_iptables
from netc.parity.model import Family, Ruleset
from netc.parity.nft_parse import parse_nft
from netc.parity.spec import (
    SpecFilter,
    SpecForward,
    SpecInboundFilter,
    SpecNetwork,
    SpecService,
    check_spec,
    format_spec_failures,
)

if TYPE_CHECKING:
    from netc.pipeline import Compiled

# IANA protocol numbers, as parity's packets carry them
_PROTOCOLS = {"tcp": 6, "udp": 17}


def verify_compiled(compiled: Compiled) -> tuple[int, str]:
    """Prove a compiled program's nft and iptables texts equivalent and check its spec.

    Returns (exit status, report); `netc compile --verify` uses this to refuse unproven output.
    """
    with collector_paused():
        return check(
            compiled_rulesets(compiled),
            spec_from_networks(compiled.program.networks),
            br_netfilter=True,
            examples=3,
            verbose=False,
        )


def check(
    sides: Sequence[Ruleset],
    networks: Sequence[SpecNetwork],
    br_netfilter: bool,
    examples: int,
    verbose: bool,
) -> tuple[int, str]:
    """Parity of two sides (when two are given) and each side against the spec."""
    status = 0
    out: list[str] = []
    if len(sides) == 2:
        result = verify(sides[0], sides[1], br_netfilter=br_netfilter, max_counterexamples=examples)
        out.append(format_result(result, verbose=verbose))
        if not result.equivalent:
            status = 1
    if networks:
        for name, rs in zip("AB", sides):
            failures = check_spec(rs, networks, br_netfilter=br_netfilter)
            if failures:
                status = 1
                out.append(f"spec of {len(networks)} network(s) FAILS on {name}={rs.label}:")
                out.append(format_spec_failures(failures))
            else:
                out.append(f"spec of {len(networks)} network(s) holds on {name}={rs.label}")
    return status, "\n".join(out) + "\n"


def compiled_rulesets(compiled: Compiled) -> list[Ruleset]:
    """The nft text and the iptables + ip6tables texts, parsed by parity's own parsers."""
    from netc.pipeline import emit  # `netc verify A B` of two files never loads the compiler

    nft = parse_nft(emit(compiled, "nft"), "<nft>")
    v4 = parse_iptables(emit(compiled, "iptables"), Family.IPV4, "<iptables>")
    v6 = parse_iptables(emit(compiled, "ip6tables"), Family.IPV6, "<ip6tables>")
    return [nft, v4.merged(v6)]


def spec_of_files(paths: Sequence[str]) -> list[SpecNetwork]:
    """The spec of the networks in `.net` or libvirt XML files."""
    from netc.pipeline import compile_files

    return spec_from_networks(compile_files(paths).program.networks)


def spec_from_networks(networks: Sequence[Network]) -> list[SpecNetwork]:
    """Translate netc's networks into parity's description of what each must do."""
    out = []
    for net in networks:
        fwd = net.forward
        subs4 = tuple(str(s.gateway) for s in net.subnets_of(IrFamily.IPV4))
        subs6 = tuple(str(s.gateway) for s in net.subnets_of(IrFamily.IPV6))
        ports = (fwd.nat_ports.first, fwd.nat_ports.last) if fwd.nat_ports else None
        out.append(
            SpecNetwork(
                name=net.name,
                bridge=net.bridge,
                mode=fwd.mode.value,
                subnets4=subs4,
                subnets6=subs6,
                forward_dev=fwd.dev,
                nat_ports=ports,
                ipv6_masquerade=fwd.ipv6_nat,
                dhcp=any(s.serves_dhcp for s in net.subnets_of(IrFamily.IPV4)),
                dhcp6=any(s.serves_dhcp for s in net.subnets_of(IrFamily.IPV6)),
                dns=net.dns,
                tftp=any(s.tftp_root for s in net.subnets),
                stateful_inbound=fwd.stateful_inbound,
                **_policy_spec(net),
            )
        )
    return out


def _policy_spec(net: Network) -> dict[str, Any]:
    """Port forwards, host services, filters and isolation as parity's SpecNetwork fields."""
    forwards = tuple(
        SpecForward(
            _PROTOCOLS[f.proto.value],
            (f.host_ports.first, f.host_ports.last),
            str(f.target),
            (f.target_ports.first, f.target_ports.last),
            None if f.host_address is None else str(f.host_address),
            f.in_dev,
        )
        for f in net.port_forwards
    )
    services = None
    if net.services is not None:
        services = tuple(
            SpecService(
                _PROTOCOLS[s.proto.value],
                (s.ports.first, s.ports.last),
                tuple(fam.value for fam in s.families),
            )
            for s in net.services.services
        )
    filters = tuple(
        SpecFilter(
            f.action is FilterAction.ALLOW,
            str(f.destination),
            None if f.proto is None else _PROTOCOLS[f.proto.value],
            None if f.ports is None else (f.ports.first, f.ports.last),
        )
        for f in net.filters
    )
    inbound = tuple(
        SpecInboundFilter(
            f.action is FilterAction.ALLOW,
            str(f.source),
            None if f.guests is None else str(f.guests),
            None if f.proto is None else _PROTOCOLS[f.proto.value],
            None if f.ports is None else (f.ports.first, f.ports.last),
        )
        for f in net.inbound_filters
    )
    return {
        "port_forwards": forwards,
        "services": services,
        "filters": filters,
        "isolate_guests": net.isolate_guests,
        "inbound_filters": inbound,
    }

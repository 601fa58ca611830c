"""Many networks: the hook-by-hook decision stays linear and loses nothing.

`verify` decides each hook on its own and re-decides only suspect regions over whole paths
(parity/hookwise.py). These tests pin what that must not change: a mutation in the last of many
networks is still caught, a rule coupling one network's interface with another's subnet is
decided exactly, a difference hidden by an earlier hook is not reported, and the counts agree
with the whole-path method ("paths") and the full product.
"""

from __future__ import annotations

import re
import sys
from ipaddress import IPv4Address, IPv6Address, ip_network
from pathlib import Path as FilePath

import pytest
from helpers import golden_cases, golden_pair, golden_text, ipt_side, mutate, nft
from test_parity_equivalence import MUTANTS, mutant_pair

from netc.parity import Family, ParityError, Path, evaluate, verify
from netc.parity.classes import build_domain
from netc.parity.hookwise import check_domain
from netc.parity.symbolic import SymbolicEngine

# N dual-stack networks, every fifth routed or isolated: the verifier benchmark's generator
sys.path.insert(0, str(FilePath(__file__).resolve().parents[2] / "bench"))
from verify_bench import many_networks  # noqa: E402

N = 12  # networks in the generated host; the last one is n11 on virbr11, 10.0.11.0/24


def texts(n: int) -> dict[str, str]:
    from netc.pipeline import compile_sources, emit

    compiled = compile_sources([("many.net", many_networks(n))])
    return {t: emit(compiled, t) for t in ("nft", "iptables", "ip6tables")}


TEXTS = texts(N)


def sides(nft_text: str | None = None, v4: str | None = None, v6: str | None = None):
    a = nft(nft_text or TEXTS["nft"], "many.nft")
    b = ipt_side(v4 or TEXTS["iptables"], v6 or TEXTS["ip6tables"], "many")
    return a, b


def same_as_whole_paths(a, b, br_netfilter: bool = True):
    fast = verify(a, b, br_netfilter=br_netfilter)
    slow = verify(a, b, br_netfilter=br_netfilter, method="paths")
    assert fast.equivalent == slow.equivalent
    assert fast.classes == slow.classes
    assert fast.differing_classes == slow.differing_classes
    for cx in fast.counterexamples:
        assert evaluate(a, cx.packet, br_netfilter).outcome == cx.a.outcome
        assert evaluate(b, cx.packet, br_netfilter).outcome == cx.b.outcome
        assert cx.a.outcome != cx.b.outcome
    return fast


def test_many_networks_are_equivalent():
    result = same_as_whole_paths(*sides())
    assert result.equivalent


def test_regions_grow_linearly_with_networks():
    """Quadrupling the networks must not multiply the compared regions by 16 (was N^2)."""
    small = verify(*sides(*(texts(6)[t] for t in ("nft", "iptables", "ip6tables"))))
    large = verify(*sides(*(texts(24)[t] for t in ("nft", "iptables", "ip6tables"))))
    assert small.equivalent and large.equivalent
    assert large.regions < 5 * small.regions, (small.regions, large.regions)


LAST = N - 1


@pytest.mark.parametrize(
    "side, old, new",
    [
        # forward filter of the last network: a narrower source subnet (nft)
        ("nft", f"ip saddr 10.0.{LAST}.0/24 accept", f"ip saddr 10.0.{LAST}.0/25 accept"),
        # NAT of the last network: the tcp port range dropped (iptables)
        (
            "v4",
            f"-s 10.0.{LAST}.0/24 ! -d 10.0.{LAST}.0/24 -p tcp -j MASQUERADE --to-ports 1024-65535",
            f"-s 10.0.{LAST}.0/24 ! -d 10.0.{LAST}.0/24 -p tcp -j MASQUERADE",
        ),
        # IPv6 forward rule of the last network's bridge swapped to the wrong direction
        (
            "v6",
            f"-A NETC_FWO -s 2001:db8:{LAST:x}::/64 -i virbr{LAST} -j ACCEPT",
            f"-A NETC_FWO -s 2001:db8:{LAST:x}::/64 -o virbr{LAST} -j ACCEPT",
        ),
    ],
    ids=["nft-forward", "iptables-nat", "ip6tables-forward"],
)
def test_mutation_in_the_last_network_is_caught(side, old, new):
    t = dict(TEXTS)
    key = {"nft": "nft", "v4": "iptables", "v6": "ip6tables"}[side]
    t[key] = mutate(t[key], old, new)
    a, b = sides(t["nft"], t["iptables"], t["ip6tables"])
    result = same_as_whole_paths(a, b)
    assert not result.equivalent
    for cx in result.counterexamples:  # each names the last network: its bridge or subnet
        p = cx.packet
        subnets = (ip_network(f"10.0.{LAST}.0/24"), ip_network(f"2001:db8:{LAST:x}::/64"))
        addrs = [_addr(p.family, p.saddr), _addr(p.family, p.daddr)]
        assert f"virbr{LAST}" in (p.iif, p.oif) or any(x in net for x in addrs for net in subnets)


def _addr(family: Family, value: int):
    return IPv4Address(value) if family is Family.IPV4 else IPv6Address(value)


# A rule that couples two networks: an interface of network 2 with the subnet of network 7.
CROSS_NFT = '\t\toifname vmap { "virbr0" : jump fwd_in_n0'
CROSS_V4 = "-A NETC_FWX -i virbr1 -o virbr1 -j ACCEPT\n"


def crossed(nft_rule: str, ipt_rule: str):
    nft_text = mutate(TEXTS["nft"], CROSS_NFT, f"\t\t{nft_rule}\n{CROSS_NFT}")
    v4 = mutate(TEXTS["iptables"], CROSS_V4, f"{ipt_rule}\n{CROSS_V4}")
    return sides(nft_text, v4)


def test_rule_coupling_two_networks_is_decided_exactly():
    a, b = crossed(
        'iifname "virbr2" ip daddr 10.0.7.0/24 accept',
        "-A NETC_FWX -i virbr2 -d 10.0.7.0/24 -j ACCEPT",
    )
    assert same_as_whole_paths(a, b).equivalent


def test_rule_coupling_two_networks_differently_is_caught():
    a, b = crossed(
        'iifname "virbr2" ip daddr 10.0.7.0/24 accept',
        "-A NETC_FWX -i virbr3 -d 10.0.7.0/24 -j ACCEPT",
    )
    result = same_as_whole_paths(a, b)
    assert not result.equivalent
    for cx in result.counterexamples:
        assert cx.packet.iif in ("virbr2", "virbr3")
        assert 0x0A000700 <= cx.packet.daddr <= 0x0A0007FF  # 10.0.7.0/24


def test_difference_hidden_by_an_earlier_hook_is_not_reported():
    """Both sides drop virbr2 spoofing 10.0.7.0/24 in prerouting; only one side would accept it
    in forward. Deciding forward alone sees a difference; no packet reaches it."""
    nft_text = TEXTS["nft"].replace(
        "table inet netc {\n",
        "table inet netc {\n\tchain spoof {\n\t\ttype filter hook prerouting priority -300;"
        ' policy accept;\n\t\tiifname "virbr2" ip saddr 10.0.7.0/24 drop\n\t}\n',
    )
    v4 = mutate(
        TEXTS["iptables"],
        "-A NETC_FWO -i virbr2 ",
        "-A NETC_FWO -s 10.0.7.0/24 -i virbr2 -j ACCEPT\n-A NETC_FWO -i virbr2 ",
    )
    v4 += "*mangle\n-I PREROUTING 1 -s 10.0.7.0/24 -i virbr2 -j DROP\nCOMMIT\n"
    a, b = sides(nft_text, v4)
    assert same_as_whole_paths(a, b).equivalent
    # forward alone does differ: the suspect region was re-decided over whole paths, and cleared
    domain = build_domain((a, b), Path.FORWARD, Family.IPV4)
    hooks = check_domain(SymbolicEngine(a, domain), SymbolicEngine(b, domain), domain, True)
    assert hooks.suspects
    # and without the prerouting drop on one side, the same forward rule is a real difference
    b2 = ipt_side(
        v4.replace("-I PREROUTING 1 -s 10.0.7.0/24 -i virbr2 -j DROP\n", ""),
        TEXTS["ip6tables"],
        "many2",
    )
    assert not same_as_whole_paths(a, b2).equivalent


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_golden_mutants_agree_with_whole_paths(name):
    same_as_whole_paths(*mutant_pair(name))


@pytest.mark.parametrize("br_netfilter", [True, False], ids=["br_nf", "no_br_nf"])
@pytest.mark.parametrize("case", golden_cases())
def test_goldens_agree_with_whole_paths(case, br_netfilter):
    same_as_whole_paths(*golden_pair(case), br_netfilter=br_netfilter)


def test_ipv6_difference_in_many_networks_names_the_family():
    t = dict(TEXTS)
    t["ip6tables"] = mutate(
        t["ip6tables"],
        f"-A NETC_FWI -d 2001:db8:{LAST:x}::/64 -o virbr{LAST} -j ACCEPT\n",
        "",
    )
    result = same_as_whole_paths(*sides(t["nft"], t["iptables"], t["ip6tables"]))
    assert not result.equivalent
    assert result.counterexamples[0].packet.family is Family.IPV6


def test_a_bug_in_every_network_stops_counting_after_a_budget(monkeypatch):
    """The verdict is certain after the first real difference; re-checking every suspect region
    of a bug in all N networks would cost N^2, so the count becomes a lower bound."""
    from netc.parity import equivalence, format_result

    v4 = TEXTS["iptables"].replace(
        "-p tcp -j MASQUERADE --to-ports 1024-65535", "-p tcp -j MASQUERADE"
    )
    a, b = sides(None, v4)
    exact = verify(a, b)
    assert not exact.equivalent and exact.unchecked_regions == 0
    monkeypatch.setattr(equivalence, "RECHECK_BUDGET", 10)
    bounded = verify(a, b)
    assert not bounded.equivalent and bounded.unchecked_regions > 0
    assert 0 < bounded.differing_classes < exact.differing_classes
    assert "at least" in format_result(bounded)
    for cx in bounded.counterexamples:
        assert evaluate(a, cx.packet).outcome != evaluate(b, cx.packet).outcome


@pytest.mark.parametrize("case", ["many"] + golden_cases())
def test_indexed_concrete_evaluation_equals_the_rule_by_rule_scan(case):
    """The concrete evaluator skips rules by index (parity/concrete_index.py) unless it counts
    rules examined; both ways must give the same outcome and trace on every class sampled."""
    import random

    from netc.parity.dispatch import bits
    from netc.parity.equivalence import domains, simplest_packet
    from netc.parity.symbolic import initial_cubes

    rng = random.Random(7)
    a, b = sides() if case == "many" else golden_pair(case)
    for domain in domains(a, b):
        for c0 in initial_cubes(domain, True):
            for _ in range(60):
                cube = tuple(1 << rng.choice(list(bits(m))) for m in c0)
                p = simplest_packet(domain, cube)
                for rs in (a, b):
                    fast, scan = evaluate(rs, p), evaluate(rs, p, rules_seen=[0])
                    assert (fast.outcome, fast.trace) == (scan.outcome, scan.trace), p


def _flip(m: re.Match) -> str:
    return "-j DROP" if m.group(1) == "ACCEPT" else "-j ACCEPT"


def _random_mutant(rng, texts: list[str]) -> list[str] | None:
    """Delete, flip or swap one rule line of one side (seeded)."""
    k = rng.randrange(3)
    lines = texts[k].splitlines(keepends=True)
    if k:
        rules = [i for i, line in enumerate(lines) if line.startswith("-A ")]
    else:
        rules = [
            i
            for i, line in enumerate(lines)
            if line.startswith("\t\t") and not line.strip().startswith(("type", "}"))
        ]
    if not rules:
        return None
    i, j = rng.choice(rules), rng.choice(rules)
    op = rng.randrange(3)
    if op == 0:
        lines[i] = ""
    elif op == 1 and k:  # flip a verdict: accept to drop, reject to accept
        lines[i] = re.sub(r"-j (ACCEPT|REJECT.*)$", _flip, lines[i].rstrip("\n")) + "\n"
    else:
        lines[i], lines[j] = lines[j], lines[i]
    out = list(texts)
    out[k] = "".join(lines)
    return out


@pytest.mark.parametrize("case", ["many"] + golden_cases())
def test_random_mutants_agree_with_whole_paths(case):
    import random

    rng = random.Random(case)
    if case == "many":
        base = [TEXTS["nft"], TEXTS["iptables"], TEXTS["ip6tables"]]
    else:
        base = [golden_text(case, f"setup.{t}") for t in ("nft", "iptables", "ip6tables")]
    for _ in range(3):
        texts = _random_mutant(rng, base)
        if texts is None:
            continue
        try:
            a, b = nft(texts[0], "m.nft"), ipt_side(texts[1], texts[2], "m")
            for br_netfilter in (True, False):
                same_as_whole_paths(a, b, br_netfilter)
        except ParityError:
            continue  # a swap can move a rule before its chain's declaration

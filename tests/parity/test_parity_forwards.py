"""Many networks with port forwards: lookups after DNAT are narrowed by the rewritten value.

After a DNAT the forward and postrouting rules test the new destination. The dispatch index
files each rule under the classes it can match, and a query holds the class of the rewritten
value in place of the field (`SymbolicEngine.view`), so a flow DNATed to one network's guest
only meets that network's rules. These tests pin that the narrowing loses nothing: verdicts and
counts agree with the whole-path method, and a mutation in the last network is caught.
"""

from __future__ import annotations

import random

import pytest
from helpers import ipt_side, mutate, nft
from test_parity_scale import _random_mutant

from netc.parity import Family, ParityError, Path, verify
from netc.parity.classes import build_domain
from netc.parity.model import Field
from netc.parity.symbolic import SymbolicEngine, initial_cubes

N = 6  # networks, each exposing PER ports of its guest 10.0.K.10 port 80
PER = 3
LAST = N - 1


def _source(n_networks: int = N, ports=lambda n, i: 80) -> str:
    out = []
    for n in range(n_networks):
        lines = [f"network n{n} {{", f"  bridge br{n}", f"  ip 10.0.{n}.1/24", "  forward nat"]
        lines += [
            f"  expose tcp {1000 + n * PER + i} to 10.0.{n}.10 port {ports(n, i)}"
            for i in range(PER)
        ]
        out.append("\n".join(lines + ["}", ""]))
    return "\n".join(out)


def _texts(source: str | None = None) -> dict[str, str]:
    from netc.pipeline import compile_sources, emit

    compiled = compile_sources([("forwards.net", source or _source())])
    return {t: emit(compiled, t) for t in ("nft", "iptables", "ip6tables")}


TEXTS = _texts()


def _sides(texts: dict[str, str]):
    return nft(texts["nft"], "f.nft"), ipt_side(texts["iptables"], texts["ip6tables"], "f")


def _same_as_whole_paths(a, b):
    fast = verify(a, b)
    slow = verify(a, b, method="paths")
    assert (fast.equivalent, fast.classes, fast.differing_classes) == (
        slow.equivalent,
        slow.classes,
        slow.differing_classes,
    )
    return fast


def test_forwards_are_equivalent():
    assert _same_as_whole_paths(*_sides(TEXTS)).equivalent


@pytest.mark.parametrize(
    "key, old, new",
    [
        # the last guest's forward accept on the other port (iptables)
        (
            "iptables",
            f"-A NETC_FWX -d 10.0.{LAST}.10/32 -o br{LAST} -p tcp -m tcp --dport 80 -m conntrack"
            " --ctstate DNAT -j ACCEPT\n",
            f"-A NETC_FWX -d 10.0.{LAST}.10/32 -o br{LAST} -p tcp -m tcp --dport 81 -m conntrack"
            " --ctstate DNAT -j ACCEPT\n",
        ),
        # the last forward's DNAT target (from outside) moved to another guest (nft)
        (
            "nft",
            f"nfproto ipv4 fib daddr type local tcp dport {1000 + N * PER - 1} dnat ip to 10.0.{LAST}.10:80",
            f"nfproto ipv4 fib daddr type local tcp dport {1000 + N * PER - 1} dnat ip to 10.0.{LAST}.11:80",
        ),
    ],
    ids=["forward-accept", "dnat-target"],
)
def test_a_mutation_in_the_last_forward_is_caught(key, old, new):
    texts = dict(TEXTS)
    if key == "iptables":  # every expose repeats the accept: change them all
        assert old in texts[key]
        texts[key] = texts[key].replace(old, new)
    else:
        texts[key] = mutate(texts[key], old, new)
    result = _same_as_whole_paths(*_sides(texts))
    assert not result.equivalent


def test_regions_grow_linearly_with_forwarding_networks():
    """Each network's DNAT is a state of its own after prerouting; states that differ only in
    the guest address are decided in one run (`hookwise.fold`), not one run per network, so
    quadrupling the networks must not multiply the compared regions by 16."""
    small = verify(*_sides(_texts(_source(6))))
    large = verify(*_sides(_texts(_source(24))))
    assert small.equivalent and large.equivalent
    assert large.regions < 5 * small.regions, (small.regions, large.regions)


def test_guests_on_different_ports_agree_with_whole_paths():
    """Rewrites that differ in two fields (guest and port) fold only where one field differs."""
    texts = _texts(_source(ports=lambda n, i: 80 + i))
    assert _same_as_whole_paths(*_sides(texts)).equivalent
    old = f"tcp dport {1000 + N * PER - 1} dnat ip to 10.0.{LAST}.10:{80 + PER - 1}"
    new = f"tcp dport {1000 + N * PER - 1} dnat ip to 10.0.{LAST}.10:{80 + PER}"
    texts["nft"] = texts["nft"].replace(old, new)  # both the outside and the host's own
    assert not _same_as_whole_paths(*_sides(texts)).equivalent


def test_a_dnat_flow_looks_up_only_the_rules_of_its_new_destination():
    a, b = _sides(TEXTS)
    domain = build_domain((a, b), Path.FORWARD, Family.IPV4)
    engine = SymbolicEngine(b, domain)
    table = next(t for t in b.tables if t.name == "iptables filter")
    chain = table.chains["NETC_FWX"]
    index = engine.chain_index_of(chain)
    cube = initial_cubes(domain, True)[0]
    guest = int.from_bytes(bytes([10, 0, LAST, 10]), "big")
    view = engine.view(cube, {Field.DADDR: guest, Field.DPORT: 80})
    found = [chain.rules[p] for p in index.lookup(view)]
    tests_guest = [r for r in chain.rules if f"10.0.{LAST}.10" in r.text]
    assert tests_guest and all(r in found for r in tests_guest)
    assert len(found) < len(chain.rules) - PER  # other guests' accepts are not even looked at
    assert engine.view(cube, {}) is cube


def test_random_mutants_of_forwards_agree_with_whole_paths():
    rng = random.Random(11)
    base = [TEXTS["nft"], TEXTS["iptables"], TEXTS["ip6tables"]]
    done = 0
    while done < 12:
        texts = _random_mutant(rng, base)
        if texts is None:
            continue
        try:
            a = nft(texts[0], "m.nft")
            b = ipt_side(texts[1], texts[2], "m")
            _same_as_whole_paths(a, b)
        except ParityError:
            continue  # a swap can move a NAT rule into a filter chain: refused, not decided
        done += 1

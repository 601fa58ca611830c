"""nft chain names are injective: two networks can never share a chain, whatever their names.

Networks `x` and `local_x`, each with a port forward, once both made the chain `dnat_local_x`
(prefixes `dnat_` and `dnat_local_`): nft took the merged chain, a forward was lost and the two
backends differed. A name is PREFIX + network (+ "_N" for NAT chains); with unique network names
that is injective exactly when no prefix begins another, which the first test proves.
"""

from __future__ import annotations

import re
from itertools import permutations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netc.emitters.nft import CHAIN_PREFIXES
from netc.pipeline import compile_sources, emit
from netc.verification import verify_compiled

BASE_CHAINS = ("forward", "input", "output", "postrouting", "prerouting", "nat_output")


def test_prefixes_are_prefix_free() -> None:
    for a, b in permutations(CHAIN_PREFIXES, 2):
        assert not b.startswith(a), f"{a!r} begins {b!r}: two networks could share a chain"


def test_no_network_chain_is_a_base_chain() -> None:
    """A base chain name is no prefix + network name: network names start with a letter, and
    NAT chains end in "_N" (`nat_output` would be network `output`'s chain only as `nat_output_0`).
    """
    nat_chain = re.compile(r"nat_[A-Za-z][A-Za-z0-9_-]*_[0-9]+\Z")
    for base in BASE_CHAINS:
        for prefix in CHAIN_PREFIXES:
            rest = base.removeprefix(prefix)
            if prefix == "nat_":
                assert not nat_chain.match(base), base
            else:
                assert rest == base or not rest[:1].isalpha(), (prefix, base)


def _network(name: str, index: int) -> str:
    return f"""
network {name} {{
    bridge br{index}
    forward nat
    ip 192.168.{index}.1/24 {{
        dhcp 192.168.{index}.10 - 192.168.{index}.20
    }}
    ip 192.168.{100 + index}.1/24
    expose tcp {2000 + index} to 192.168.{index}.5 port 22
    allow tcp 443 to 198.51.100.0/24
    deny to 203.0.113.0/24
    deny from 192.0.2.0/24
    services {{ ssh }}
}}
"""


def _chains(text: str) -> list[str]:
    return [line.split()[1] for line in text.splitlines() if line.startswith("\tchain ")]


def test_x_and_local_x_keep_their_own_forwards() -> None:
    compiled = compile_sources([("clash.net", _network("x", 1) + _network("local_x", 2))])
    chains = _chains(emit(compiled, "nft"))
    assert len(chains) == len(set(chains))
    assert {"dnat_x", "dnat_local_x", "local_dnat_x", "local_dnat_local_x"} <= set(chains)
    status, report = verify_compiled(compiled)
    assert status == 0, report


FRAGMENTS = ["x", "local_", "in_", "out_", "_0", "_1", "nat_", "dnat_", "fwd_", "host_", "a", "-"]
names = st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=4).map("".join)
adversarial = st.lists(
    names.map(lambda n: n if n[0].isalpha() else "n" + n), min_size=2, max_size=5, unique=True
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(adversarial)
def test_adversarial_names_compile_to_distinct_chains_and_verify(names: list[str]) -> None:
    source = "".join(_network(name, i + 1) for i, name in enumerate(names))
    compiled = compile_sources([("names.net", source)])
    chains = _chains(emit(compiled, "nft"))
    assert len(chains) == len(set(chains)), chains
    status, report = verify_compiled(compiled)
    assert status == 0, report

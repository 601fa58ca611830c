"""`netc verify`: the nft and iptables goldens of the cases beyond libvirt are equivalent,
packet class by packet class, with and without br_netfilter.

Skipped until the verifier (`netc.parity`) is on this branch.
"""

from __future__ import annotations

from pathlib import Path

import pytest

parity = pytest.importorskip(
    "netc.parity", reason="the verifier (netc.parity) is not on this branch"
)

GOLDEN = Path(__file__).resolve().parents[2] / "golden"
CASES = ("port-forward", "services", "filter", "isolate-guests")


@pytest.mark.parametrize(("case", "br_netfilter"), [(c, b) for b in (True, False) for c in CASES])
def test_backends_equivalent(case: str, br_netfilter: bool) -> None:
    nft = parity.load_ruleset([GOLDEN / case / "setup.nft"])
    ipt = parity.load_ruleset([GOLDEN / case / "setup.iptables", GOLDEN / case / "setup.ip6tables"])
    result = parity.verify(nft, ipt, br_netfilter=br_netfilter)
    assert result.equivalent, parity.format_result(result)

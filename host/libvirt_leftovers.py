"""libvirt's live rules for netc's bridges, in either of libvirt's backends, in one wording.

After `netc apply` (not `migrate`) on a bridge libvirt ran, libvirt's rules for it are still
live: its nft rules in `ip/ip6 libvirt_network` (libvirt_nft.py) or its iptables rules in the
LIBVIRT_* chains (libvirt_chains.py). They accept, reject and masquerade the same guests'
traffic besides netc's rules. `netc status` counts them as drift, `netc doctor` names them and
`netc apply` notes them, all with the same sentence and the same fix (`netc migrate`); each
backend module only says where the rules are and how migrate removes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from netc.ir.model import Network

from . import libvirt_chains, libvirt_nft
from .leftovers import Leftovers
from .run import Host


def find(host: Host, networks: Sequence[Network]) -> list[Leftovers]:
    """libvirt's live rules for these networks, per backend (nft first, then iptables)."""
    if not networks:
        return []
    found = (libvirt_nft.leftovers(host, networks), libvirt_chains.leftovers(host, networks))
    return [item for item in found if item is not None]

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
from dataclasses import dataclass

from netc.ir.model import Network

from .run import Host


@dataclass(frozen=True, slots=True)
class Leftovers:
    """libvirt's rules for netc's bridges in one of libvirt's backends."""

    holder: str  # where they are: "nft table(s) ip libvirt_network", "iptables chain(s) ..."
    rules: int
    bridges: tuple[str, ...]  # netc's bridges the rules name (none: matched by subnet only)
    example: str  # one rule, as the backend's own listing prints it
    removal: str  # how `netc migrate` removes them, for doctor's fix

    def text(self) -> str:
        """Why the rules matter (status, doctor, apply)."""
        on = f" for {', '.join(self.bridges)}" if self.bridges else ""
        return (
            f"libvirt's {self.holder} still hold {self.rules} rule(s){on} "
            f"(e.g. `{self.example}`): they accept, reject and masquerade these guests' traffic "
            "besides netc's rules, so the guests do not get what the .net file says"
        )

    def with_fix(self, command: str) -> str:
        """The one-line form status and apply print: why, then the command that fixes it."""
        return f"{self.text()}; `{command}` removes them"

    def fix(self, command: str) -> str:
        """The fix doctor prints: the command, how it works, and what else to do."""
        return (
            f"`{command}` removes them ({self.removal}); stop or undefine the libvirt network "
            "too, or its next start puts them back"
        )


def find(host: Host, networks: Sequence[Network]) -> list[Leftovers]:
    """libvirt's live rules for these networks, per backend (nft first, then iptables)."""
    if not networks:
        return []
    # Imported here: both modules build Leftovers records, so they import this one.
    from . import libvirt_chains, libvirt_nft

    found = (libvirt_nft.leftovers(host, networks), libvirt_chains.leftovers(host, networks))
    return [item for item in found if item is not None]

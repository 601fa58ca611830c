"""One record for libvirt's live rules in either of its backends (see libvirt_leftovers.py).

A module of its own so that each backend module (libvirt_nft.py, libvirt_chains.py) can build
the record and libvirt_leftovers.py can ask both, with no import circle between them.
"""

from __future__ import annotations

from dataclasses import dataclass


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

"""Backends: each prints intents as the text its loader reads. Targets are data."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from .base import Emitter, Slot, header, slot

if TYPE_CHECKING:
    from .iptables import IptablesEmitter
    from .nft import NftEmitter


def _nft() -> Emitter:
    from .nft import NftEmitter

    return NftEmitter()


def _iptables(family_name: str) -> Emitter:
    from netc.ir.model import Family

    from .iptables import IptablesEmitter

    return IptablesEmitter(Family[family_name])


class _Targets(Mapping[str, Emitter]):
    """Target name -> emitter, each made (and its module imported) when first looked up.

    A run prints one target, so `netc compile -t nft` does not import the iptables printer,
    nor `-t iptables` the nft one: on an install without byte-code, that is source compiled
    at every start for nothing.
    """

    _MAKE = {
        "nft": _nft,
        "iptables": lambda: _iptables("IPV4"),
        "ip6tables": lambda: _iptables("IPV6"),
    }

    def __init__(self) -> None:
        self._made: dict[str, Emitter] = {}

    def __getitem__(self, target: str) -> Emitter:
        emitter = self._made.get(target)
        if emitter is None:
            emitter = self._made[target] = self._MAKE[target]()
        return emitter

    def __iter__(self) -> Iterator[str]:
        return iter(self._MAKE)

    def __len__(self) -> int:
        return len(self._MAKE)


TARGETS: Mapping[str, Emitter] = _Targets()


def __getattr__(name: str) -> type:
    """`IptablesEmitter` and `NftEmitter`, imported on first use (see `_Targets`)."""
    if name == "IptablesEmitter":
        from .iptables import IptablesEmitter

        return IptablesEmitter
    if name == "NftEmitter":
        from .nft import NftEmitter

        return NftEmitter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["TARGETS", "Emitter", "IptablesEmitter", "NftEmitter", "Slot", "header", "slot"]

"""Backends: each prints intents as the text its loader reads. Targets are data."""

from netc.ir.model import Family

from .base import Emitter, Slot, header, slot
from .iptables import IptablesEmitter
from .nft import NftEmitter

TARGETS: dict[str, Emitter] = {
    "nft": NftEmitter(),
    "iptables": IptablesEmitter(Family.IPV4),
    "ip6tables": IptablesEmitter(Family.IPV6),
}

__all__ = ["TARGETS", "Emitter", "IptablesEmitter", "NftEmitter", "Slot", "header", "slot"]

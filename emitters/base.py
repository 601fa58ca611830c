"""The one face every backend shows: setup text and teardown text for a list of intents.

A target is chosen as data (`emitters.TARGETS`). Emitters decide nothing about semantics; they
group intents into their backend's chains (keeping the intents' order within each group) and
print them.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Protocol

from netc.ir.intents import (
    Direction,
    ForwardAllowIn,
    ForwardAllowOut,
    ForwardCross,
    ForwardReject,
    HostAccept,
    HostPath,
    Intent,
    NatExclude,
    NatTranslate,
)
from netc.ir.intents import (  # beyond libvirt (issue 8)
    Dnat,
    ForwardAllowDnat,
    ForwardCrossEstablished,
    ForwardFilter,
    ForwardFilterIn,
    ForwardIsolate,
    HostAcceptEstablished,
    HostAcceptIcmp,
    HostAllow,
    HostReject,
    NatHairpin,
    NatHook,
)


class Slot(enum.Enum):
    """Which kind of chain an intent belongs in; both backends keep one chain (set) per slot."""

    CROSS = "cross"  # forward, in and out on the same bridge
    TO_GUESTS = "to_guests"  # forward, out on the bridge
    FROM_GUESTS = "from_guests"  # forward, in on the bridge
    HOST_IN = "host_in"  # input, in on the bridge
    HOST_OUT = "host_out"  # output, out on the bridge
    SOURCE_NAT = "source_nat"  # nat postrouting, from a guest subnet
    # Beyond libvirt (issue 8).
    DNAT_ACCEPT = "dnat_accept"  # forward, out on the bridge, before CROSS and TO_GUESTS
    DNAT_PRE = "dnat_pre"  # nat prerouting: connections arriving at the host
    DNAT_OUT = "dnat_out"  # nat output: connections the host opens


# Intent types whose slot does not depend on their fields: looked up by type, which is much
# cheaper than running the match below for each of the tens of thousands of intents.
SLOT_OF_TYPE: dict[type, Slot] = {
    ForwardCross: Slot.CROSS,
    ForwardAllowIn: Slot.TO_GUESTS,
    ForwardAllowOut: Slot.FROM_GUESTS,
    NatExclude: Slot.SOURCE_NAT,
    NatTranslate: Slot.SOURCE_NAT,
    ForwardAllowDnat: Slot.DNAT_ACCEPT,
    ForwardCrossEstablished: Slot.CROSS,
    ForwardIsolate: Slot.CROSS,
    ForwardFilter: Slot.FROM_GUESTS,
    ForwardFilterIn: Slot.DNAT_ACCEPT,
    HostAcceptEstablished: Slot.HOST_IN,
    HostAcceptIcmp: Slot.HOST_IN,
    HostAllow: Slot.HOST_IN,
    HostReject: Slot.HOST_IN,
    NatHairpin: Slot.SOURCE_NAT,
}


def slot(intent: Intent) -> Slot:
    kind = SLOT_OF_TYPE.get(type(intent))
    if kind is not None:
        return kind
    match intent:
        case ForwardCross():
            return Slot.CROSS
        case ForwardAllowIn():
            return Slot.TO_GUESTS
        case ForwardAllowOut():
            return Slot.FROM_GUESTS
        case ForwardReject(direction=Direction.TO_GUESTS):
            return Slot.TO_GUESTS
        case ForwardReject():
            return Slot.FROM_GUESTS
        case HostAccept(path=HostPath.GUEST_TO_HOST):
            return Slot.HOST_IN
        case HostAccept():
            return Slot.HOST_OUT
        case NatExclude() | NatTranslate():
            return Slot.SOURCE_NAT
        case ForwardAllowDnat():
            return Slot.DNAT_ACCEPT
        case ForwardCrossEstablished() | ForwardIsolate():
            return Slot.CROSS
        case ForwardFilter():
            return Slot.FROM_GUESTS
        case ForwardFilterIn():
            return Slot.DNAT_ACCEPT
        case HostAcceptEstablished() | HostAcceptIcmp() | HostAllow() | HostReject():
            return Slot.HOST_IN
        case NatHairpin():
            return Slot.SOURCE_NAT
        case Dnat(hook=NatHook.PREROUTING):
            return Slot.DNAT_PRE
        case Dnat():
            return Slot.DNAT_OUT
    raise TypeError(f"no slot for {intent!r}")


class Texts:
    """`str()` of the ipaddress objects in intents, each printed once per emitted ruleset.

    A subnet's prefix is one object shared by the five to ten intents of its subnet, and printing
    an ipaddress object costs microseconds (IPv6 above all), so the emitters look the text up by
    the object's identity. Each entry keeps its object alive, so no id is reused meanwhile.
    """

    __slots__ = ("_seen",)

    def __init__(self) -> None:
        self._seen: dict[int, tuple[object, str]] = {}

    def __call__(self, value: object) -> str:
        hit = self._seen.get(id(value))
        if hit is None:
            hit = self._seen[id(value)] = (value, str(value))
        return hit[1]


class Emitter(Protocol):
    name: str
    loader: str  # the command that loads this text, for the header and the README

    def setup(self, intents: Sequence[Intent], jumps: bool = True) -> str:
        """The text that loads `intents`.

        `jumps=False` leaves out what hooks netc's own chains into chains shared with others
        (iptables' built-in chains), for a reload over rules already in place. A target whose
        rules live entirely in objects netc owns and replaces whole (nft's table) prints the
        same text either way.
        """
        ...

    def teardown(self) -> str: ...


def header(emitter: Emitter, sources: Sequence[str], remove: bool) -> str:
    what = "Removes what netc created" if remove else "Generated by netc"
    origin = f" from {', '.join(_printable(s) for s in sources)}" if sources else ""
    return f"# {what}{origin}. Load with: {emitter.loader}\n"


def _printable(name: str) -> str:
    """A file name fit for a comment line: a newline in it would end the comment and put the
    rest of the name into the script as commands."""
    return "".join(c if c.isprintable() and c.isascii() else "?" for c in name)

"""What netc reads out of one libvirt network XML: only the firewall-relevant parts, located.

These records mirror libvirt's own structure (one `<ip>` element = one `LvIp`), not netc's model;
`tosource` turns them into `.net` text and the ordinary compiler does the rest. Every record
keeps the span of the XML element it came from, so compiler errors can point back into the XML.
"""

from __future__ import annotations

from dataclasses import dataclass

from netc.ir.model import IPAddress, IPInterface, Mode
from netc.ir.span import Span


@dataclass(frozen=True, slots=True)
class LvRange:
    """`<range start end>` or `<address start [end]>`: an inclusive address range."""

    first: IPAddress
    last: IPAddress
    span: Span


@dataclass(frozen=True, slots=True)
class LvPorts:
    """`<nat><port start end/>`."""

    first: int
    last: int
    span: Span


@dataclass(frozen=True, slots=True)
class LvForward:
    """`<forward>` for the modes libvirt firewalls (nat, route) and `open` (no rules)."""

    mode: Mode
    dev: str | None
    addresses: tuple[LvRange, ...]
    ports: LvPorts | None
    ipv6_nat: bool
    span: Span


@dataclass(frozen=True, slots=True)
class LvHost:
    """`<dhcp><host ip [mac] [name]/>`."""

    address: IPAddress
    mac: str | None
    name: str | None
    span: Span


@dataclass(frozen=True, slots=True)
class LvBootp:
    file: str
    server: IPAddress | None
    span: Span


@dataclass(frozen=True, slots=True)
class LvTftp:
    root: str
    span: Span


@dataclass(frozen=True, slots=True)
class LvIp:
    """One `<ip>` element: the host's address on the bridge, its prefix, and what it serves."""

    gateway: IPInterface
    ranges: tuple[LvRange, ...]
    hosts: tuple[LvHost, ...]
    tftp: LvTftp | None
    bootp: LvBootp | None
    span: Span


@dataclass(frozen=True, slots=True)
class LvNetwork:
    """One libvirt `<network>`; `forward is None` means no `<forward>` element (isolated).

    `isolate_guests` is `<port isolated='yes'/>` (a child of `<network>`), kept with its span.
    """

    name: str
    name_span: Span
    bridge: str
    bridge_span: Span
    forward: LvForward | None
    ips: tuple[LvIp, ...]
    dns: bool
    dns_span: Span | None
    ipv6: bool
    span: Span
    isolate_guests: bool = False
    port_span: Span | None = None

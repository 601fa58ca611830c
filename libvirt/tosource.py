"""`LvNetwork` → formatted `.net` text, with a map from each generated line to its XML element.

`netc compile net.xml` compiles exactly this text, so `netc import` followed by `netc compile` is
the same compilation by construction. The line map lets compiler errors found in the generated
text (a DHCP range outside its subnet, a bad interface name) be reported at the XML line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from netc.diagnostics import Diagnostic, NetcError, shown
from netc.ir.model import Mode
from netc.ir.span import Span

from .records import LvForward, LvIp, LvNetwork, LvRange

INDENT = "    "
_WORD = re.compile(r'[^\s{}#;"]+\Z')
# The grammar's keywords (grammar/netc.lark); a name equal to one must be quoted.
KEYWORDS = frozenset(
    "network bridge forward nat route open isolated dev address ports ipv6 inbound stateful "
    "stateless ip dhcp host mac name tftp bootp server on off dns "
    "expose to port via tcp udp services allow deny isolate guests from".split()  # port forwards, services, filters, isolation
)


@dataclass(frozen=True, slots=True)
class Generated:
    """`.net` text and, for each of its lines (index 0 = line 1), the XML span it came from."""

    text: str
    origins: tuple[Span, ...]

    def origin(self, line: int) -> Span | None:
        return self.origins[line - 1] if 1 <= line <= len(self.origins) else None


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.origins: list[Span] = []

    def line(self, depth: int, text: str, origin: Span) -> None:
        self.lines.append(f"{INDENT * depth}{text}" if text else "")
        self.origins.append(origin)

    def result(self) -> Generated:
        return Generated("\n".join(self.lines) + "\n", tuple(self.origins))


def quoted(value: str, origin: Span, what: str) -> str:
    """A name or path as a grammar token: bare when it is a plain word, else "quoted"."""
    if _WORD.match(value) and value not in KEYWORDS:
        return value
    if '"' in value or "\n" in value:
        raise NetcError(Diagnostic(f"{what} {value!r} cannot be written in a .net file", origin))
    return f'"{value}"'


def _range(rng: LvRange) -> str:
    return f"{rng.first} - {rng.last}"


def generate(networks: list[tuple[str, LvNetwork]]) -> Generated:
    """Format (source file, network) pairs as one `.net` source, networks in the given order."""
    out = _Writer()
    for index, (source, net) in enumerate(networks):
        if index:
            out.line(0, "", net.span)
        # shown(): a newline in a file name would end the comment and make the rest source
        out.line(
            0, f"# Imported by netc from {shown(source, 200)} (libvirt network XML).", net.span
        )
        _network(out, net)
    return out.result()


def _network(out: _Writer, net: LvNetwork) -> None:
    out.line(0, f"network {quoted(net.name, net.name_span, 'network name')} {{", net.name_span)
    out.line(1, f"bridge {quoted(net.bridge, net.bridge_span, 'bridge name')}", net.bridge_span)
    _forward(out, net.forward, net.span)
    for ip in net.ips:
        _ip(out, ip)
    if not net.dns:
        out.line(1, "dns off", net.dns_span or net.span)
    if net.ipv6:
        out.line(1, "ipv6 on", net.span)
    if net.isolate_guests:
        out.line(1, "isolate guests  # <port isolated='yes'/>", net.port_span or net.span)
    out.line(0, "}", net.span)


def _forward(out: _Writer, fwd: LvForward | None, network_span: Span) -> None:
    if fwd is None:
        out.line(1, "forward isolated  # no <forward> element", network_span)
        return
    options: list[tuple[str, Span]] = []
    if fwd.dev is not None:
        options.append((f"dev {quoted(fwd.dev, fwd.span, 'forward dev')}", fwd.span))
    for rng in fwd.addresses:
        options.append((f"address {_range(rng)}", rng.span))
    if fwd.ports is not None:
        options.append((f"ports {fwd.ports.first} - {fwd.ports.last}", fwd.ports.span))
    if fwd.ipv6_nat:
        options.append(("ipv6 nat", fwd.span))
    if fwd.mode is Mode.ROUTE:
        # libvirt's routed inbound is stateless; said explicitly so it survives a default change.
        options.append(("inbound stateless", fwd.span))
    if not options:
        out.line(1, f"forward {fwd.mode.value}", fwd.span)
        return
    out.line(1, f"forward {fwd.mode.value} {{", fwd.span)
    for text, origin in options:
        out.line(2, text, origin)
    out.line(1, "}", fwd.span)


def _ip(out: _Writer, ip: LvIp) -> None:
    body: list[tuple[str, Span]] = []
    if ip.tftp is not None:
        body.append((f"tftp {quoted(ip.tftp.root, ip.tftp.span, 'tftp root')}", ip.tftp.span))
    for rng in ip.ranges:
        body.append((f"dhcp {_range(rng)}", rng.span))
    for host in ip.hosts:
        text = f"host {host.address}"
        if host.mac is not None:
            text += f" mac {quoted(host.mac, host.span, 'MAC address')}"
        if host.name is not None:
            text += f" name {quoted(host.name, host.span, 'host name')}"
        body.append((text, host.span))
    if ip.bootp is not None:
        text = f"bootp {quoted(ip.bootp.file, ip.bootp.span, 'bootp file')}"
        if ip.bootp.server is not None:
            text += f" server {ip.bootp.server}"
        body.append((text, ip.bootp.span))
    if not body:
        out.line(1, f"ip {ip.gateway}", ip.span)
        return
    out.line(1, f"ip {ip.gateway} {{", ip.span)
    for text, origin in body:
        out.line(2, text, origin)
    out.line(1, "}", ip.span)

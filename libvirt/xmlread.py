"""Element tree of a libvirt network XML → `LvNetwork`, following libvirt's own reading rules.

What is honoured is what changes libvirt's firewall (see the libvirt reference notes, shared/reference/libvirt-firewall.md
§1-2): the forward mode and `dev`, `<nat>` address/port/ipv6, every `<ip>` of both families with
its DHCP ranges and hosts, TFTP and BOOTP, `<dns enable>`, `<network ipv6>`, the bridge name and
`<port isolated='yes'/>` (guests may not reach each other: netc's `isolate guests`).
Everything else is reported once per element kind as a note and otherwise ignored. libvirt's own
defaults are applied where it applies them (no `mode` = nat; an IPv4 `<ip>` without prefix or
netmask gets its classful prefix; an IPv6 one /64).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from functools import partial
from typing import NoReturn, TypeVar

from netc.compiler import names
from netc.diagnostics import Diagnostic, NetcError, did_you_mean, shown
from netc.ir.model import IPAddress, IPInterface, Mode, zone_id_problem

from .records import LvBootp, LvForward, LvHost, LvIp, LvNetwork, LvPorts, LvRange, LvTftp
from .xmltree import Element

T = TypeVar("T")

# libvirt's forward modes (virNetworkForwardType) and what netc makes of them.
FIREWALLED_MODES = {"nat": Mode.NAT, "route": Mode.ROUTE, "open": Mode.OPEN}
UNFIREWALLED_MODES = ("bridge", "private", "vepa", "passthrough", "hostdev")

# Elements libvirt knows that do not change its firewall, with why (shown once per kind).
IGNORED = {
    "uuid": "identifies the network",
    "title": "is descriptive",
    "description": "is descriptive",
    "metadata": "is application data",
    "mac": "sets the bridge's MAC address",
    "domain": "configures dnsmasq's DNS domain",
    "route": "adds static routes (libvirt adds no firewall rules for them)",
    "mtu": "sets the bridge MTU",
    "bandwidth": "configures traffic shaping (tc)",
    "portgroup": "groups guest port settings",
    "virtualport": "configures Open vSwitch / 802.1Qbh ports",
    "vlan": "tags guest ports",
    "dnsmasq:options": "passes options to dnsmasq",
}
DNS_CHILDREN = ("host", "forwarder", "srv", "txt")
BRIDGE_IGNORED_ATTRS = ("stp", "delay", "macTableManager")


class _Invalid(Exception):
    """A value could not be read; its diagnostic is recorded."""


class Reader:
    """Reads one `<network>` element; collects every problem and note instead of stopping."""

    def __init__(self) -> None:
        self.problems: list[Diagnostic] = []
        self.notes: list[Diagnostic] = []
        self._noted: set[str] = set()

    # -- reporting -------------------------------------------------------------------------------

    def fail(self, element: Element, message: str, hint: str | None = None) -> NoReturn:
        self.problems.append(Diagnostic(message, element.span, hint))
        raise _Invalid

    def note(self, key: str, element: Element, message: str, detail: bool = False) -> None:
        """Record a note once per kind; a `detail` (no firewall meaning) is shown only with -v."""
        if key not in self._noted:
            self._noted.add(key)
            self.notes.append(Diagnostic(message, element.span, detail=detail))

    def ignore(self, element: Element, why: str) -> None:
        self.note(
            element.tag,
            element,
            f"<{shown(element.tag)}> {why}; it does not affect the firewall, ignored",
            detail=True,
        )

    def attempt(self, read: Callable[[], T]) -> T | None:
        try:
            return read()
        except _Invalid:
            return None

    # -- values ----------------------------------------------------------------------------------

    def required(self, element: Element, attr: str) -> str:
        value = element.get(attr)
        if value is None or not value.strip():
            self.fail(element, f"<{shown(element.tag)}> needs a '{attr}' attribute")
        return value.strip()

    def address(self, element: Element, attr: str, value: str | None = None) -> IPAddress:
        text = self.required(element, attr) if value is None else value
        zoned = zone_id_problem(text)
        if zoned:
            self.fail(element, f"{attr}={zoned[0]}", zoned[1])
        try:
            return ipaddress.ip_address(text)
        except ValueError:
            self.fail(element, f"{attr}='{shown(text)}' is not an IPv4 or IPv6 address")

    def yes_no(self, element: Element, attr: str, default: bool) -> bool:
        value = element.get(attr)
        if value is None:
            return default
        if value not in ("yes", "no"):
            self.fail(element, f"{attr}='{shown(value)}' must be 'yes' or 'no'")
        return value == "yes"

    def port(self, element: Element, attr: str) -> int:
        text = self.required(element, attr)
        if not (text.isascii() and text.isdecimal()) or int(text[:6]) > 65535:
            self.fail(element, f"{attr}='{shown(text)}' is not a port number (0-65535)")
        return int(text)

    # -- structure -------------------------------------------------------------------------------

    def network(self, root: Element) -> LvNetwork:
        if root.tag != "network":
            self.fail(
                root,
                f"expected a libvirt <network> element, found <{shown(root.tag)}>",
                "netc reads libvirt network XML, e.g. /etc/libvirt/qemu/networks/default.xml",
            )
        name_el = self.single(root, "name")
        bridge_el = self.single(root, "bridge")
        forward_el = self.single(root, "forward")
        dns_el = self.single(root, "dns")
        port_el = self.single(root, "port")
        if name_el is None:
            self.fail(root, "<network> has no <name>")
        name = name_el.text.strip()
        if not name:
            self.fail(name_el, "<name> is empty")
        name = self.netc_name(name, name_el)
        forward = self.attempt(lambda: self.forward(forward_el)) if forward_el is not None else None
        if forward_el is not None and forward_el.get("mode") in UNFIREWALLED_MODES:
            raise _Invalid  # said all there is to say (such networks often have no bridge)
        bridge_name = bridge_el.get("name") if bridge_el is not None else None
        if bridge_el is None or not bridge_name:
            self.fail(
                bridge_el if bridge_el is not None else root,
                f"network '{shown(name)}' has no <bridge name=...>",
                "libvirt picks a virbrN name when the network is defined; "
                "use the XML libvirt saved (virsh net-dumpxml) or add <bridge name='virbr0'/>",
            )
        self.bridge_extras(bridge_el)
        ipv6 = bool(self.attempt(lambda: self.yes_no(root, "ipv6", False)))
        ips = [self.attempt(partial(self.ip, ip)) for ip in root.all("ip")]
        dns = True
        if dns_el is not None:
            dns = bool(self.attempt(lambda: self.yes_no(dns_el, "enable", True)))
            for child in dns_el.children:
                if child.tag in DNS_CHILDREN:
                    self.note(
                        f"dns/{child.tag}",
                        child,
                        f"<dns><{shown(child.tag)}> configures dnsmasq; "
                        "it does not affect the firewall, ignored",
                        detail=True,
                    )
        for child in root.children:
            if child.tag in ("name", "bridge", "forward", "ip", "dns", "port"):
                continue
            if child.tag in IGNORED:
                self.ignore(child, IGNORED[child.tag])
            else:
                self.note(
                    child.tag,
                    child,
                    f"<{shown(child.tag)}> is not an element netc knows in libvirt network XML; ignored",
                )
        isolate = port_el is not None and bool(
            self.attempt(lambda: self.isolated(port_el, forward))
        )
        if self.problems:
            raise _Invalid
        return LvNetwork(
            name,
            name_el.span,
            bridge_name.strip(),
            bridge_el.span,
            forward,
            tuple(ip for ip in ips if ip is not None),  # none is None: problems raised above
            dns,
            dns_el.span if dns_el is not None else None,
            ipv6,
            root.span,
            isolate,
            port_el.span if port_el is not None else None,
        )

    def isolated(self, element: Element, forward: LvForward | None) -> bool:
        """`<port isolated='yes'/>`: libvirt sets the `isolated` flag on every guest's bridge port
        (guests reach the host and the outside, not each other): netc's `isolate guests`."""
        isolated = self.yes_no(element, "isolated", False)
        if isolated and forward is not None and forward.mode is Mode.OPEN:
            self.note(
                "port open",
                element,
                "<port isolated='yes'/> on a forward mode 'open' network: netc's "
                "'isolate guests' needs firewall rules, which 'open' does not get; not imported "
                "(libvirt still sets the ports' isolated flag itself)",
            )
            return False
        return isolated

    def netc_name(self, name: str, element: Element) -> str:
        """libvirt allows almost any network name; netc names become chain names, so a name
        netc cannot take is spelled with '-' for each other character (and a note says so)."""
        if names.network_problem(name) is None:
            return name
        spelled = re.sub(r"[^A-Za-z0-9_-]", "-", name)
        if not spelled[:1].isalpha():
            spelled = "net-" + spelled
        spelled = spelled[: names.MAX_NETWORK_NAME]
        if names.network_problem(spelled) is not None:  # pragma: no cover - cannot happen
            self.fail(element, names.network_problem(name) or "bad network name")
        self.note(
            "name",
            element,
            f"network name '{shown(name)}' is not a netc name (letters, digits, '_', '-'); "
            f"it is imported as '{spelled}'",
        )
        return spelled

    def single(self, parent: Element, tag: str) -> Element | None:
        """The first `<tag>` child; libvirt reads only the first, so a second one is a note."""
        found = parent.all(tag)
        for extra in found[1:]:
            self.note(
                f"second {tag}",
                extra,
                f"a second <{tag}> in <{parent.tag}> is ignored (libvirt reads only the first)",
            )
        return found[0] if found else None

    def bridge_extras(self, bridge: Element) -> None:
        if zone := bridge.get("zone"):
            self.note(
                "bridge zone",
                bridge,
                f"<bridge zone='{shown(zone)}'> puts the bridge in a firewalld zone; "
                "netc does not manage firewalld zones, ignored",
            )
        for attr in BRIDGE_IGNORED_ATTRS:
            if bridge.get(attr) is not None:
                self.note(
                    f"bridge {attr}",
                    bridge,
                    f"<bridge {attr}=...> does not affect the firewall; ignored",
                    detail=True,
                )

    def forward(self, element: Element) -> LvForward:
        mode_text = element.get("mode") or "nat"
        if mode_text in UNFIREWALLED_MODES:
            self.fail(
                element,
                f"forward mode '{shown(mode_text)}': libvirt adds no firewall rules for it, "
                "so netc has nothing to do",
                "in this mode guests attach to a host bridge or device directly and the host does "
                "not route for them; their traffic is filtered by the host's own firewall, if any",
            )
        if mode_text not in FIREWALLED_MODES:
            known = [*FIREWALLED_MODES, *UNFIREWALLED_MODES]
            self.fail(
                element,
                f"unknown forward mode '{shown(mode_text)}'",
                did_you_mean(mode_text, known) or f"libvirt's modes are: {', '.join(known)}",
            )
        mode = FIREWALLED_MODES[mode_text]
        dev = self.forward_dev(element)
        nat_el = self.single(element, "nat")
        addresses: tuple[LvRange, ...] = ()
        ports = None
        ipv6_nat = False
        if nat_el is not None:
            if mode is not Mode.NAT:
                self.fail(
                    nat_el, f"<nat> only applies to forward mode 'nat', not '{shown(mode_text)}'"
                )
            ipv6_nat = self.yes_no(nat_el, "ipv6", False)
            addresses = self.nat_addresses(nat_el)
            ports = self.nat_ports(nat_el)
        return LvForward(mode, dev, addresses, ports, ipv6_nat, element.span)

    def forward_dev(self, element: Element) -> str | None:
        """`dev=` or the first `<interface dev>` (libvirt's virNetworkDefForwardIf(def, 0))."""
        dev = element.get("dev")
        interfaces = element.all("interface")
        if interfaces:
            first = self.required(interfaces[0], "dev")
            if dev is not None and dev != first:
                self.fail(
                    interfaces[0],
                    f"<interface dev='{shown(first)}'> does not match <forward dev='{shown(dev)}'>",
                    "libvirt requires the first <interface> to name the forward dev",
                )
            if len(interfaces) > 1:
                self.fail(
                    interfaces[1],
                    "more than one <interface> in a nat/route/open forward",
                    "libvirt forwards through at most one device in these modes",
                )
            dev = first
        return dev

    def nat_addresses(self, nat: Element) -> tuple[LvRange, ...]:
        found = nat.all("address")
        if len(found) > 1:
            self.fail(found[1], "only one <address> is allowed in <nat>")
        if not found:
            return ()
        el = found[0]
        first = self.address(el, "start")
        last = self.address(el, "end") if el.get("end") is not None else first
        for value in (first, last):
            if value.version != 4:
                self.fail(el, f"<nat><address> {value} is not IPv4 (libvirt NATs to IPv4 only)")
        if int(last) < int(first):  # both IPv4, checked above
            self.fail(el, f"<nat><address> range {first} - {last} is reversed")
        return (LvRange(first, last, el.span),)

    def nat_ports(self, nat: Element) -> LvPorts | None:
        found = nat.all("port")
        if len(found) > 1:
            self.fail(found[1], "only one <port> is allowed in <nat>")
        if not found:
            return None
        el = found[0]
        first, last = self.port(el, "start"), self.port(el, "end")
        if first == 0 and last == 0:
            return None  # libvirt: both unset means the default 1024-65535
        if not first < last:
            self.fail(
                el,
                f"<port start='{first}' end='{last}'>: libvirt requires start < end",
                "libvirt refuses to start a network with this range",
            )
        return LvPorts(first, last, el.span)

    def ip(self, element: Element) -> LvIp:
        gateway = self.gateway(element)
        ranges: list[LvRange] = []
        hosts: list[LvHost] = []
        bootp = None
        dhcp = self.single(element, "dhcp")
        if dhcp is not None:
            for child in dhcp.children:
                if child.tag == "range":
                    first = self.address(child, "start")
                    last = self.address(child, "end")
                    ranges.append(LvRange(first, last, child.span))
                elif child.tag == "host":
                    if child.get("ip") is None:
                        self.note(
                            "host without ip",
                            child,
                            "<dhcp><host> without ip= only names a guest; it does not affect "
                            "the firewall, ignored",
                            detail=True,
                        )
                        continue
                    hosts.append(
                        LvHost(
                            self.address(child, "ip"),
                            child.get("mac"),
                            child.get("name"),
                            child.span,
                        )
                    )
                elif child.tag == "bootp":
                    server = child.get("server")
                    bootp = LvBootp(
                        self.required(child, "file"),
                        self.address(child, "server", server) if server else None,
                        child.span,
                    )
        tftp_el = self.single(element, "tftp")
        tftp = LvTftp(self.required(tftp_el, "root"), tftp_el.span) if tftp_el else None
        return LvIp(gateway, tuple(ranges), tuple(hosts), tftp, bootp, element.span)

    def gateway(self, element: Element) -> IPInterface:
        address = self.address(element, "address")
        family = element.get("family")
        if family not in (None, "ipv4", "ipv6"):
            self.fail(element, f"family='{shown(family)}' must be 'ipv4' or 'ipv6'")
        if family is not None and family != f"ipv{address.version}":
            self.fail(element, f"address {address} is not {shown(family)}")
        prefix, netmask = element.get("prefix"), element.get("netmask")
        if prefix is not None and netmask is not None:
            self.fail(element, "<ip> has both prefix and netmask; give one")
        if netmask is not None:
            if address.version != 4:
                self.fail(element, "netmask is for IPv4; give an IPv6 address a prefix")
            try:
                length = ipaddress.IPv4Network(f"0.0.0.0/{netmask}").prefixlen
            except ValueError:
                self.fail(element, f"netmask='{shown(netmask)}' is not a valid IPv4 netmask")
        elif prefix is not None:
            limit = 32 if address.version == 4 else 128
            if not (prefix.isascii() and prefix.isdecimal()) or int(prefix[:4]) > limit:
                self.fail(element, f"prefix='{shown(prefix)}' is not a prefix length (0-{limit})")
            length = int(prefix)
        else:
            length = _default_prefix(address)
            self.note(
                f"default prefix {address.version}",
                element,
                f"<ip address='{address}'> has no prefix or netmask; "
                f"libvirt's default /{length} is used",
            )
        return ipaddress.ip_interface(f"{address}/{length}")


def _default_prefix(address: IPAddress) -> int:
    """libvirt's virSocketAddrGetIPPrefix fallback: classful for IPv4, /64 for IPv6."""
    if address.version == 6:
        return 64
    first = int(address) >> 24
    if first < 128:
        return 8
    if first < 192:
        return 16
    if first < 224:
        return 24
    return 0


def read_network(root: Element) -> tuple[LvNetwork, list[Diagnostic]]:
    """Read one network; returns it with the notes, or raises NetcError with every problem."""
    reader = Reader()
    try:
        network = reader.network(root)
    except _Invalid:
        raise NetcError(reader.problems) from None
    notes = sorted(reader.notes, key=lambda d: (d.span.line, d.span.column) if d.span else (0, 0))
    return network, notes

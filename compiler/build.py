"""Syntax tree → network model, reading and checking every value on the way.

All problems found are collected and raised together, so one run shows every independent
mistake in a file.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

from netc.diagnostics import Diagnostic, NetcError, did_you_mean, shown
from netc.ir.model import (
    zone_id_problem,
    DEFAULT_NAT_PORTS,
    AddressRange,
    DhcpHost,
    Family,
    Forward,
    IPAddress,
    IPInterface,
    Mode,
    Network,
    PortRange,
    Subnet,
)
from netc.ir.span import Span

from . import names
from .parse import Token, Tree

if TYPE_CHECKING:
    from . import build_policy

_MAC = re.compile(r"[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}\Z")

# Shorter prefixes than these are not a guest network but a mistake (0.0.0.0/0 would make
# 'forward route' accept everything).
_WIDEST_PREFIX = {4: 8, 6: 16}


def _special(ip: IPAddress) -> str | None:
    """Why an address cannot be a host's address on a bridge, or None."""
    if ip.is_unspecified:
        return "the unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.version == 4 and (ip in _THIS_NETWORK or ip in _RESERVED_V4):
        return "a reserved address"
    return None


_FAMILY = {Family.IPV4: "IPv4", Family.IPV6: "IPv6"}
_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")
_RESERVED_V4 = ipaddress.ip_network("240.0.0.0/4")


def _ip_address(text: str) -> IPAddress:
    """`ipaddress.ip_address`, without first failing to read an IPv6 address as IPv4: that
    costs an exception per address. Text with a ':' is never IPv4, so the answer is the same;
    anything IPv6 refuses still goes through `ip_address` for its usual error."""
    if ":" in text:
        try:
            return ipaddress.IPv6Address(text)
        except ValueError:
            pass
    return ipaddress.ip_address(text)


def _interface(ip: IPAddress, text: str, prefix: int) -> IPInterface:
    """`ip_interface(f"{ip}/{prefix}")` without printing and re-parsing the address (the most
    expensive step of building a subnet, IPv6 above all). An IPv6 scope (`%eth0`) is kept only
    by the text form, so such an address still takes the long way."""
    if "%" in text:
        return ipaddress.ip_interface(f"{ip}/{prefix}")
    if ip.version == 4:
        return ipaddress.IPv4Interface((int(ip), prefix))
    return ipaddress.IPv6Interface((int(ip), prefix))


# Network statements `Builder.network` reads itself; any other one is read by `build_policy`.
_CORE_STATEMENTS = frozenset({"bridge", "forward", "ip_block", "dns", "ipv6_flag"})


class _Invalid(Exception):
    """A value could not be read; the diagnostic has been recorded already."""


class Builder:
    def __init__(self, filename: str):
        self.filename = filename
        self.problems: list[Diagnostic] = []

    # -- helpers -------------------------------------------------------------------------------

    def span(self, node: Tree | Token) -> Span:
        if isinstance(node, Token):
            line, column, end_line, end_column = _token_position(node)
            return Span(self.filename, line, column, end_line, end_column)
        meta = node.meta  # Lark's Meta has these once the node has a positioned child
        return Span(self.filename, meta.line, meta.column, meta.end_line, meta.end_column)

    def error(self, node: Tree | Token | Span, message: str, hint: str | None = None) -> None:
        span = node if isinstance(node, Span) else self.span(node)
        self.problems.append(Diagnostic(message, span, hint))

    def fail(self, node: Tree | Token | Span, message: str, hint: str | None = None) -> NoReturn:
        self.error(node, message, hint)
        raise _Invalid

    def text(self, token: Token) -> str:
        value = str(token)
        if token.type == "STRING":
            value = value[1:-1]
        return value

    def checked(self, token: Token, problem: Callable[[str], str | None]) -> str:
        value = self.text(token)
        issue = problem(value)
        if issue:
            self.fail(token, issue)
        return value

    def address(self, token: Token) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
        zoned = zone_id_problem(str(token))
        if zoned:
            return self.fail(token, *zoned)
        try:
            return _ip_address(str(token))
        except ValueError:
            hint = None
            if "/" in str(token):
                hint = "a single address has no prefix length here"
            return self.fail(token, f"'{shown(str(token))}' is not an IPv4 or IPv6 address", hint)

    def addresses(self, *tokens: Token) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        """Read several addresses, reporting every bad one before giving up."""
        values, bad = [], False
        for token in tokens:
            try:
                values.append(self.address(token))
            except _Invalid:
                bad = True
        if bad:
            raise _Invalid
        return values

    def range_tokens(self, node: Tree) -> tuple[Token, Token]:
        tokens = node.children
        if len(tokens) == 2:
            return tokens[0], tokens[1]
        word = tokens[0]
        if str(word).count("-") != 1:
            self.fail(
                word, f"'{shown(str(word))}' is not a range", "write a range as 'FIRST - LAST'"
            )
        first, last = str(word).split("-")
        left = Token("WORD", first, line=word.line, column=word.column)
        left.end_line, left.end_column = word.line, word.column + len(first)
        right = Token("WORD", last, line=word.line, column=word.column + len(first) + 1)
        right.end_line, right.end_column = word.end_line, word.end_column
        return left, right

    def address_range(self, node: Tree) -> AddressRange:
        a, b = self.range_tokens(node)
        first, last = self.addresses(a, b)
        if first.version != last.version:
            self.fail(node, f"range {first} - {last} mixes IPv4 and IPv6")
        if int(first) > int(last):  # same family, checked above
            self.fail(node, f"range {first} - {last} is reversed", f"write {last} - {first}")
        return AddressRange(first, last)

    def port(self, token: Token) -> int:
        text = str(token)
        # isdecimal, not isdigit: '²' is a digit that int() refuses; ASCII only: no '١٠٢٤'.
        number = int(text) if text.isascii() and text.isdecimal() and len(text) <= 10 else 0
        if not 1 <= number <= 65535:
            self.fail(token, f"'{shown(text)}' is not a port number (1-65535)")
        return number

    def port_range(self, node: Tree) -> PortRange:
        a, b = self.range_tokens(node)
        ports, bad = [], False
        for token in (a, b):
            try:
                ports.append(self.port(token))
            except _Invalid:
                bad = True
        if bad:
            raise _Invalid
        first, last = ports
        if first > last:
            self.fail(node, f"port range {first}-{last} is reversed", f"write {last} - {first}")
        return PortRange(first, last)

    def once(self, seen: dict[str, Tree], key: str, node: Tree, where: str) -> bool:
        if key in seen:
            first = seen[key].meta.line
            self.error(node, f"'{key}' given twice in {where}", f"the first is on line {first}")
            return False
        seen[key] = node
        return True

    # -- structure -----------------------------------------------------------------------------

    def networks(self, tree: Tree) -> list[Network]:
        built = []
        for node in tree.children:
            try:
                built.append(self.network(node))
            except _Invalid:
                pass
        return built

    def network(self, node: Tree) -> Network:
        name_token, *stmts = node.children
        if isinstance(name_token, Tree):  # a keyword used as a network name
            name_token = name_token.children[0]
        name = self.text(name_token)
        if issue := names.network_problem(name):
            self.error(name_token, issue)
        seen: dict[str, Tree] = {}
        bridge: str | None = None
        forward: Forward | None = None
        subnets: list[Subnet] = []
        dns, ipv6_guests = True, False
        ok = True
        for stmt in stmts:
            if stmt.data not in _CORE_STATEMENTS:
                continue  # read by `policy` below (a file may hold thousands of `allow`s)
            try:
                if stmt.data == "bridge" and self.once(seen, "bridge", stmt, f"network '{name}'"):
                    bridge = self.checked(stmt.children[0], names.interface_problem)
                elif stmt.data == "forward" and self.once(
                    seen, "forward", stmt, f"network '{name}'"
                ):
                    forward = self.forward(stmt)
                elif stmt.data == "ip_block":
                    subnets.append(self.subnet(stmt))
                elif stmt.data == "dns" and self.once(seen, "dns", stmt, f"network '{name}'"):
                    dns = self.switch(stmt)
                elif stmt.data == "ipv6_flag" and self.once(
                    seen, "ipv6", stmt, f"network '{name}'"
                ):
                    ipv6_guests = self.switch(stmt)
            except _Invalid:
                ok = False
        if bridge is None and "bridge" not in seen:
            self.error(
                name_token,
                f"network '{name}' has no bridge",
                "add a line 'bridge virbr0' naming the bridge the guests attach to",
            )
            raise _Invalid
        if not ok or bridge is None:
            raise _Invalid
        if forward is None:  # libvirt: a network without <forward> is isolated
            forward = Forward(
                Mode.ISOLATED, None, (), DEFAULT_NAT_PORTS, False, False, self.span(name_token)
            )
        self.check_forward_fits(forward, subnets, name)
        policy = self.policy(stmts, name, forward, subnets)
        if policy is None:  # nothing beyond libvirt: the Network defaults say the same
            return Network(name, bridge, forward, tuple(subnets), dns, ipv6_guests, self.span(node))
        return Network(
            name,
            bridge,
            forward,
            tuple(subnets),
            dns,
            ipv6_guests,
            self.span(node),
            port_forwards=policy.port_forwards,
            services=policy.services,
            filters=policy.filters,
            isolate_guests=policy.isolate_guests,
            inbound_filters=policy.inbound_filters,
        )

    def switch(self, stmt: Tree) -> bool:
        return str(stmt.children[0].children[0]) == "on"

    def forward(self, stmt: Tree) -> Forward:
        mode_token = stmt.children[0].children[0]
        mode = Mode(str(mode_token))
        dev = None
        addresses: list[AddressRange] = []
        ports = DEFAULT_NAT_PORTS
        ipv6_nat = stateful = False
        seen: dict[str, Tree] = {}
        bad = False
        body = stmt.children[1].children if len(stmt.children) > 1 else []
        nat_only = {"nat_address": "address", "nat_ports": "ports", "ipv6_nat": "ipv6 nat"}
        for opt in body:
            try:
                if opt.data in nat_only and mode is not Mode.NAT:
                    self.fail(
                        opt,
                        f"'{nat_only[opt.data]}' only applies to 'forward nat', not '{mode.value}'",
                    )
                if opt.data == "inbound" and mode is not Mode.ROUTE:
                    self.fail(opt, f"'inbound' only applies to 'forward route', not '{mode.value}'")
                if opt.data == "forward_dev":
                    if mode in (Mode.OPEN, Mode.ISOLATED):
                        self.fail(opt, f"'dev' does not apply to 'forward {mode.value}'")
                    if self.once(seen, "dev", opt, "'forward'"):
                        dev = self.checked(opt.children[0], names.interface_problem)
                elif opt.data == "nat_address":
                    rng = self.address_range(opt.children[0])
                    if any(r.family is rng.family for r in addresses):
                        self.fail(
                            opt,
                            f"a second {_FAMILY[rng.family]} NAT address range",
                            "give one range per address family",
                        )
                    addresses.append(rng)
                elif opt.data == "nat_ports" and self.once(seen, "ports", opt, "'forward'"):
                    ports = self.port_range(opt.children[0])
                elif opt.data == "ipv6_nat" and self.once(seen, "ipv6 nat", opt, "'forward'"):
                    ipv6_nat = True
                elif opt.data == "inbound" and self.once(seen, "inbound", opt, "'forward'"):
                    stateful = str(opt.children[0].children[0]) == "stateful"
            except _Invalid:
                bad = True
        if bad:
            raise _Invalid
        return Forward(mode, dev, tuple(addresses), ports, ipv6_nat, stateful, self.span(stmt))

    def gateway(self, token: Token) -> IPInterface | None:
        """The host's address and prefix on the bridge; None (with every problem recorded) if
        it is unusable. Checked in full so that one run shows all that is wrong with it."""
        value = str(token)
        text = shown(value)
        if "/" not in value:
            self.error(
                token,
                f"'{text}' needs a prefix length",
                f"write the gateway as {text}/24 (or /64 for IPv6)",
            )
            return None
        address, prefix = value.split("/", 1)
        zoned = zone_id_problem(address)
        if zoned:
            self.error(token, *zoned)
            return None
        try:
            ip = _ip_address(address)
        except ValueError:
            self.error(token, f"'{shown(address)}' is not an IPv4 or IPv6 address")
            return None
        bits = ip.max_prefixlen
        if not (prefix.isascii() and prefix.isdecimal() and int(prefix[:4] or "999") <= bits):
            self.error(
                token,
                f"'/{shown(prefix)}' is not a prefix length for IPv{ip.version} (0-{bits})",
            )
            return None
        gateway = _interface(ip, address, int(prefix))
        net = gateway.network
        problems: list[tuple[str, str | None]] = []
        if net.prefixlen > bits - 2:
            problems.append(
                (
                    f"prefix /{net.prefixlen} leaves no room for guests",
                    "use a shorter prefix such as /24 or /64",
                )
            )
        if net.prefixlen < _WIDEST_PREFIX[ip.version]:
            problems.append(
                (
                    f"prefix /{net.prefixlen} is too wide for a guest network: {net} would "
                    "cover much of the internet",
                    f"guest networks are at most /{_WIDEST_PREFIX[ip.version]}, "
                    "typically /24 or /64",
                )
            )
        if kind := _special(ip):
            problems.append((f"{ip} is {kind}, not a usable gateway address", None))
        elif ip == net.network_address and net.prefixlen < bits - 1:
            problems.append(
                (
                    f"{ip} is the network address of {net}",
                    "the gateway is the host's own address, e.g. the first usable one",
                )
            )
        elif ip.version == 4 and ip == net.broadcast_address and net.prefixlen < 31:
            problems.append((f"{ip} is the broadcast address of {net}", None))
        for message, hint in problems:
            self.error(token, message, hint)
        return None if problems else gateway

    def subnet(self, stmt: Tree) -> Subnet:
        token = stmt.children[0]
        value = shown(str(token))
        gateway = self.gateway(token)
        ranges: list[AddressRange] = []
        hosts: list[DhcpHost] = []
        tftp = bootp = None
        server = None
        seen: dict[str, Tree] = {}
        host_seen: dict[object, DhcpHost] = {}
        bad = gateway is None
        body = stmt.children[1].children if len(stmt.children) > 1 else []
        for opt in body:
            try:
                if opt.data in ("tftp", "bootp") and gateway is not None and gateway.version == 6:
                    self.fail(
                        opt, f"'{opt.data}' is IPv4 only (libvirt serves TFTP and BOOTP over IPv4)"
                    )
                if opt.data == "dhcp_range":
                    ranges.append(self.dhcp_range(opt, gateway))
                elif opt.data == "dhcp_host":
                    host = self.dhcp_host(opt, gateway)
                    self.host_once(host, host_seen)
                    hosts.append(host)
                elif opt.data == "tftp" and self.once(seen, "tftp", opt, f"ip {value}"):
                    tftp = self.checked(opt.children[0], names.path_problem)
                elif opt.data == "bootp" and self.once(seen, "bootp", opt, f"ip {value}"):
                    bootp = self.checked(opt.children[0], names.path_problem)
                    if len(opt.children) > 1:
                        server_token = opt.children[1].children[0]
                        server = self.address(server_token)
                        if server.version != 4:
                            self.fail(server_token, f"the BOOTP server {server} is not IPv4")
            except _Invalid:
                bad = True
        if bad or gateway is None:
            raise _Invalid
        return Subnet(gateway, tuple(ranges), tuple(hosts), tftp, bootp, server, self.span(stmt))

    def host_once(self, host: DhcpHost, seen: dict[object, DhcpHost]) -> None:
        """One DHCP reservation per address, MAC and name within a subnet (dnsmasq would
        silently pick one)."""
        keys: list[tuple[str, object]] = [("address", host.address)]
        if host.mac:
            keys.append(("MAC", host.mac.lower()))
        if host.name:
            keys.append(("name", host.name.lower()))
        for kind, key in keys:
            if (kind, key) in seen:
                first = seen[(kind, key)].span
                self.fail(
                    host.span,
                    f"DHCP host {kind} {key} is given twice",
                    f"the first is at line {first.line}, column {first.column}",
                )
            seen[(kind, key)] = host

    def dhcp_range(self, opt: Tree, gateway: IPInterface | None) -> AddressRange:
        rng = self.address_range(opt.children[0])
        if gateway is None:  # the subnet is unusable; the range itself was still read
            return rng
        net = gateway.network
        shown_range = f"{rng.first} - {rng.last}"
        if rng.first.version != gateway.version:
            self.fail(
                opt,
                f"DHCP range {shown_range} is IPv{rng.first.version} but its subnet {net} "
                f"is IPv{gateway.version}",
            )
        if rng.first not in net or rng.last not in net:
            self.fail(opt, f"DHCP range {shown_range} is not inside {net}")
        if gateway.version == 4 and (
            rng.first == net.network_address or rng.last == net.broadcast_address
        ):
            self.fail(
                opt,
                f"DHCP range {shown_range} includes the network or broadcast address of {net}",
            )
        if int(rng.first) <= int(gateway.ip) <= int(rng.last):  # one family: all inside net
            self.fail(
                opt,
                f"DHCP range {shown_range} includes the gateway {gateway.ip}",
                "guests would be offered the host's own address; start the range after it",
            )
        return rng

    def dhcp_host(self, opt: Tree, gateway: IPInterface | None) -> DhcpHost:
        token, *extras = opt.children
        bad = False
        address = None
        try:
            address = self.address(token)
            if gateway is not None:
                net = gateway.network
                if address.version != gateway.version or address not in net:
                    self.fail(token, f"DHCP host address {address} is not inside {net}")
                if address == gateway.ip:
                    self.fail(token, f"DHCP host address {address} is the gateway's own address")
                if address.version == 4 and address in (
                    net.network_address,
                    net.broadcast_address,
                ):
                    self.fail(
                        token, f"DHCP host address {address} is the network or broadcast address"
                    )
        except _Invalid:
            bad = True
        mac = name = None
        seen: dict[str, Tree] = {}
        for extra in extras:
            try:
                if extra.data == "host_mac" and self.once(seen, "mac", extra, "'host'"):
                    mac = str(extra.children[0])
                    if not _MAC.match(mac):
                        self.fail(
                            extra.children[0],
                            f"'{shown(mac)}' is not a MAC address (like 52:54:00:12:34:56)",
                        )
                    if address is not None and address.version == 6:
                        self.fail(
                            extra,
                            "an IPv6 DHCP host is identified by 'name', not 'mac'",
                            "libvirt rejects MAC addresses in IPv6 host entries",
                        )
                elif extra.data == "host_name" and self.once(seen, "name", extra, "'host'"):
                    name = self.checked(extra.children[0], names.hostname_problem)
            except _Invalid:
                bad = True
        if bad or address is None:
            raise _Invalid
        if address.version == 6 and name is None:
            self.fail(opt, f"IPv6 DHCP host {address} needs a 'name'")
        if address.version == 4 and mac is None and name is None:
            self.fail(opt, f"DHCP host {address} needs a 'mac' or a 'name' to match the guest")
        return DhcpHost(address, mac, name, self.span(opt))

    def check_forward_fits(self, forward: Forward, subnets: list[Subnet], name: str) -> None:
        for rng in forward.nat_addresses:
            if forward.mode is Mode.NAT and rng.family is Family.IPV6 and not forward.ipv6_nat:
                self.error(
                    forward.span,
                    f"network '{name}' has an IPv6 NAT address but no 'ipv6 nat'",
                    "add 'ipv6 nat' to the forward block",
                )
        if forward.ipv6_nat and Family.IPV6 not in {s.family for s in subnets}:
            self.error(
                forward.span,
                f"'ipv6 nat' on network '{name}', which has no IPv6 subnet",
                "add an 'ip 2001:db8::1/64' block, or drop 'ipv6 nat'",
            )
        self.check_subnets(subnets, name)

    def check_subnets(self, subnets: list[Subnet], name: str) -> None:
        """libvirt serves DHCP (and TFTP) on one subnet per family only; it rejects more."""
        if len(subnets) < 2:  # nothing can be second (the common case: checked cheaply)
            return
        families = [(s, s.family) for s in subnets]
        for family in Family:
            mine = [s for s, of in families if of is family]
            for what, has in (
                ("DHCP", lambda s: s.serves_dhcp),
                ("TFTP", lambda s: s.tftp_root is not None),
            ):
                serving = [s for s in mine if has(s)]
                for extra in serving[1:]:
                    self.error(
                        extra.span,
                        f"network '{name}' serves {what} on a second {_FAMILY[family]} subnet",
                        f"libvirt serves {what} on one {_FAMILY[family]} subnet per network; "
                        f"the first is on line {serving[0].span.line}",
                    )

    # -- statements libvirt lacks: expose, services, allow/deny, isolate guests -------------

    def policy(
        self, stmts: list[Tree], name: str, forward: Forward, subnets: list[Subnet]
    ) -> build_policy.Policy | None:
        """Read the policy statements once the subnets are known (a forward target needs them).

        None when the network has none: most networks, so `build_policy` is imported only for
        files that use it (it is not on `netc compile`'s start-up path otherwise).
        """
        if all(stmt.data in _CORE_STATEMENTS for stmt in stmts):
            return None
        from . import build_policy

        into = build_policy.empty_policy()
        seen: dict[str, Tree] = {}
        ok = True
        statements, read = build_policy.STATEMENTS, build_policy.build_policy
        for stmt in stmts:
            if stmt.data in statements:
                try:
                    read(self, stmt, name, forward, subnets, seen, into)
                except _Invalid:
                    ok = False
        if not ok:
            raise _Invalid
        return build_policy.policy_of(into)


def hint_for_mode(word: str) -> str | None:
    return did_you_mean(word, [m.value for m in Mode])


def build(tree: Tree, filename: str) -> tuple[list[Network], list[Diagnostic]]:
    """Build the networks of one file; returns them with every problem found."""
    builder = Builder(filename)
    networks = builder.networks(tree)
    return networks, builder.problems


def _token_position(token: Token) -> tuple[int, int, int, int]:
    """A lexed token's line, column, end line and end column (the lexer always sets them)."""
    line, column, end_line, end_column = (
        token.line,
        token.column,
        token.end_line,
        token.end_column,
    )
    assert line is not None and column is not None and end_line is not None
    assert end_column is not None
    return line, column, end_line, end_column

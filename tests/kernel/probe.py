"""A tiny stdlib TCP/UDP probe, run inside a namespace with `ip netns exec NS python3 probe.py`.

Why its own program: the firewall's effect is only visible from the other side. The server logs
the peer address and port it saw (what proves masquerading and port remapping), and the client
reports whether it got through; "blocked" means the client failed *and* the server saw nothing.

    probe.py serve --log FILE tcp/8080 udp/53 icmp ...
        Listens on every spec, on 0.0.0.0 and :: (v6only), prints "ready" once bound. Each
        connection or datagram carries a token; the server appends one JSON line
        {"token", "proto", "port", "peer", "sport"} to FILE, then answers with the same line.
        `icmp` opens raw ICMP and ICMPv6 sockets and logs every echo request carrying a token
        (port 0, sport = the echo identifier); the kernel itself sends the echo reply.
        `tftp/69` answers the way a TFTP server does, from a new port, and waits there for the
        client's ack ("ack TOKEN"), answered with "acked"; the client's result is "ok" only
        once that second exchange went through too.
    probe.py client [--timeout S] tcp|udp|tftp/HOST/PORT[/SPORT] icmp/HOST ...
        Runs the probes in order, printing one JSON line each:
        {"spec", "token", "result": "ok"|"refused"|"timeout"|"unreachable"|"error: ...",
         "seen": {...} or null, "by": ADDR or null, "ms": duration}. A broadcast HOST
        (255.255.255.255) or multicast HOST (ff02::1:2%eth0) is sent unconnected; a server
        listening on udp/547 joins ff02::1:2 (DHCPv6). `icmp/HOST` sends one echo request (raw
        socket, needs root) and waits for its reply or an ICMP error about it. "by" is the
        address an ICMP error (or the echo reply) came from: it tells a far end's port unreachable,
        brought back through NAT, from the host's own reject.
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import json
import os
import select
import selectors
import socket
import struct
import sys
import time

# Linux values; Python's socket module lacks IP_PKTINFO.
IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)
IP_RECVERR = getattr(socket, "IP_RECVERR", 11)
IPV6_RECVERR = getattr(socket, "IPV6_RECVERR", 25)


class Refused(ConnectionRefusedError):
    """A refusal (ICMP port unreachable or RST) with the address the ICMP error came from."""

    def __init__(self, by: str | None) -> None:
        super().__init__(errno.ECONNREFUSED, os.strerror(errno.ECONNREFUSED))
        self.by = by


def _parse_spec(spec: str) -> tuple[str, str, int, int | None]:
    parts = spec.split("/")
    if parts[0] == "icmp" and len(parts) == 2:
        return "icmp", parts[1], 0, None
    if parts[0] not in ("tcp", "udp", "tftp") or len(parts) not in (3, 4):
        raise SystemExit(f"bad probe spec {spec!r}: want tcp|udp|tftp/HOST/PORT[/SPORT], icmp/HOST")
    sport = int(parts[3]) if len(parts) == 4 else None
    return parts[0], parts[1], int(parts[2]), sport


def _record(log, token: str, proto: str, port: int, peer: tuple) -> bytes:
    host = peer[0]
    if host.startswith("::ffff:"):
        host = host[len("::ffff:") :]
    line = json.dumps(
        {"token": token, "proto": proto, "port": port, "peer": host, "sport": peer[1]}
    )
    log.write(line + "\n")
    log.flush()
    return (line + "\n").encode()


def _want_pktinfo(sock: socket.socket, family: int) -> None:
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
    else:
        sock.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)


def _reply_from(ancdata: list) -> list:
    """Ancillary data that makes a UDP reply leave from the address the request was sent to.

    A wildcard-bound server would otherwise pick its source by route (the wan's uplink address
    instead of the "internet server" on lo), and conntrack would not see the reply as a reply.
    """
    for level, kind, data in ancdata:
        if level == socket.IPPROTO_IP and kind == IP_PKTINFO:
            _, spec_dst, _ = struct.unpack("i4s4s", data[:12])  # local address to answer from
            return [(level, kind, struct.pack("i4s4s", 0, spec_dst, bytes(4)))]
        if level == socket.IPPROTO_IPV6 and kind == socket.IPV6_PKTINFO:
            if data[0] == 0xFF:  # sent to a multicast group: answer from the interface's own
                return [(level, kind, bytes(16) + data[16:20])]
            return [(level, kind, data[:16] + struct.pack("I", 0))]
    return []


# DHCPv6 clients solicit All_DHCP_Relay_Agents_and_Servers from their link-local address
DHCPV6_GROUP = "ff02::1:2"


def _join_dhcpv6(sock: socket.socket) -> None:
    """Join the DHCPv6 servers' group on every interface, as a DHCPv6 server does."""
    group = socket.inet_pton(socket.AF_INET6, DHCPV6_GROUP)
    for index, name in socket.if_nameindex():
        if name != "lo":
            mreq = group + struct.pack("@I", index)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)


ICMP_ECHO = {socket.AF_INET: (8, 0), socket.AF_INET6: (128, 129)}  # (request, reply) types
# ICMP error types whose body quotes the offending packet: v4 unreachable, time exceeded,
# parameter problem; v6 unreachable, too big, time exceeded, parameter problem
ICMP_ERRORS = {socket.AF_INET: (3, 11, 12), socket.AF_INET6: (1, 2, 3, 4)}
PORT_UNREACHABLE = {socket.AF_INET: 3, socket.AF_INET6: 4}


def _icmp_socket(family: int) -> socket.socket:
    proto = socket.IPPROTO_ICMPV6 if family == socket.AF_INET6 else socket.IPPROTO_ICMP
    return socket.socket(family, socket.SOCK_RAW, proto)


def _icmp_body(family: int, data: bytes) -> bytes:
    """The ICMP message of a raw datagram (IPv4 raw sockets include the IP header)."""
    return data[(data[0] & 0x0F) * 4 :] if family == socket.AF_INET else data


def _serve_icmp(log, sock: socket.socket) -> None:
    data, peer = sock.recvfrom(2048)
    body = _icmp_body(sock.family, data)
    if len(body) < 8 or body[0] != ICMP_ECHO[sock.family][0]:
        return
    ident = struct.unpack("!H", body[4:6])[0]
    token = body[8:].decode(errors="replace").strip()
    if token:
        _record(log, token, "icmp", 0, (peer[0], ident))


def _local_addr(ancdata: list) -> str | None:
    """The local address a datagram was sent to (from its IP(V6)_PKTINFO)."""
    for level, kind, data in ancdata:
        if level == socket.IPPROTO_IP and kind == IP_PKTINFO:
            return socket.inet_ntop(socket.AF_INET, data[4:8])
        if level == socket.IPPROTO_IPV6 and kind == socket.IPV6_PKTINFO:
            return socket.inet_ntop(socket.AF_INET6, data[:16])
    return None


def _serve_tftp(log, sock: socket.socket, port: int) -> None:
    """Answer as a TFTP server does: from a new port, then wait there for the client's ack.

    The answer leaves from an ephemeral port, so the client's ack is not a reply to anything
    the client sent: it reaches the host only as a reply to the server's own first packet
    (conntrack established), which is what a closed host must let in besides port 69.
    """
    data, ancdata, _, peer = sock.recvmsg(512, 256)
    token = data.decode().strip()
    reply = _record(log, token, "tftp", port, peer)
    with socket.socket(sock.family, socket.SOCK_DGRAM) as transfer:
        transfer.bind((_local_addr(ancdata) or "", 0))
        transfer.settimeout(1.0)
        transfer.sendto(reply, peer)
        try:
            ack, _ = transfer.recvfrom(512)
        except OSError:
            return  # the ack never came: the client reports it
        if ack.decode().strip() == f"ack {token}":
            transfer.sendto(b"acked\n", peer)


def serve(log_path: str, specs: list[str]) -> None:
    sel = selectors.DefaultSelector()
    for spec in specs:
        if spec == "icmp":
            for family in (socket.AF_INET, socket.AF_INET6):
                sel.register(_icmp_socket(family), selectors.EVENT_READ, ("icmp", 0))
            continue
        proto, port = spec.split("/")
        kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM  # udp, tftp
        for family, any_addr in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
            sock = socket.socket(family, kind)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            if kind == socket.SOCK_DGRAM:
                _want_pktinfo(sock, family)
            if kind == socket.SOCK_DGRAM and family == socket.AF_INET6 and port == "547":
                _join_dhcpv6(sock)
            sock.bind((any_addr, int(port)))
            if kind == socket.SOCK_STREAM:
                sock.listen(16)
            sel.register(sock, selectors.EVENT_READ, (proto, int(port)))
    with open(log_path, "a", encoding="utf-8") as log:
        print("ready", flush=True)
        while True:
            for key, _ in sel.select():
                proto, port = key.data
                sock = key.fileobj
                try:
                    if proto == "icmp":
                        _serve_icmp(log, sock)
                        continue
                    if proto == "tftp":
                        _serve_tftp(log, sock, port)
                        continue
                    if proto == "udp":
                        data, ancdata, _, peer = sock.recvmsg(512, 256)
                        reply = _record(log, data.decode().strip(), proto, port, peer)
                        sock.sendmsg([reply], _reply_from(ancdata), 0, peer)
                        continue
                    conn, peer = sock.accept()
                    with conn:
                        conn.settimeout(1.0)
                        token = conn.recv(512).decode().strip()
                        conn.sendall(_record(log, token, proto, port, peer))
                except OSError:
                    continue  # one misbehaving peer must not stop the server


def _recverr(sock: socket.socket, family: int) -> None:
    """Queue ICMP errors on the socket too, with the address of whoever sent them."""
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVERR, 1)
    else:
        sock.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)


def _queued_error(sock: socket.socket) -> tuple[int | None, str | None]:
    """The errno and offender address of the first queued ICMP error (None, None if none).

    The cmsg is a struct sock_extended_err (ee_errno, ee_origin, ee_type, ee_code, ee_pad,
    ee_info, ee_data: 16 bytes) followed by the offender's sockaddr (SO_EE_OFFENDER).
    """
    sock.setblocking(False)  # else a socket with a timeout would wait that long for nothing
    try:
        _, ancdata, _, _ = sock.recvmsg(1, 512, socket.MSG_ERRQUEUE)
    except (BlockingIOError, InterruptedError):
        return None, None
    for _, _, data in ancdata:
        code = struct.unpack("I", data[:4])[0]
        offender = data[16:]
        family = struct.unpack("H", offender[:2])[0] if len(offender) >= 2 else 0
        if family == socket.AF_INET:
            return code, socket.inet_ntop(socket.AF_INET, offender[4:8])
        if family == socket.AF_INET6:
            return code, socket.inet_ntop(socket.AF_INET6, offender[8:24])
        return code, None
    return None, None


def _tcp_connect(sock: socket.socket, family: int, addr: tuple, timeout: float) -> None:
    """connect(), but an ICMP error counts even if the kernel could not apply it to the socket.

    Over veth the whole path runs inside the connect() call: the host's reject comes back while
    the socket is still locked, and TCP then keeps the ICMP error only as a "soft" error
    (TcpExtLockDroppedIcmps) and retries the SYN a second later (seen with IPv6). With
    IP(V6)_RECVERR the error is also queued on the socket, where poll() sees it at once.
    """
    _recverr(sock, family)
    sock.setblocking(False)
    code = sock.connect_ex(addr)
    if code not in (0, errno.EINPROGRESS):
        raise OSError(code, os.strerror(code))
    poller = select.poll()
    poller.register(sock, select.POLLOUT | select.POLLERR)
    if not poller.poll(timeout * 1000):
        raise TimeoutError("connect timed out")
    code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    by = None
    if code == 0:
        queued, by = _queued_error(sock)
        code = queued or 0
    if code == errno.ECONNREFUSED:
        raise Refused(by)
    if code != 0:
        raise OSError(code, os.strerror(code))
    sock.settimeout(timeout)


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _echo_error(family: int, body: bytes, ident: int) -> bool:
    """Whether an ICMP error's quoted packet is our echo request (identifier `ident`)."""
    inner = body[8:]
    if family == socket.AF_INET:
        if len(inner) < 20:
            return False
        inner = inner[(inner[0] & 0x0F) * 4 :]
    else:
        inner = inner[40:]  # the quoted IPv6 header (no extension headers on our echo)
    return (
        len(inner) >= 8
        and inner[0] == ICMP_ECHO[family][0]
        and struct.unpack("!H", inner[4:6])[0] == ident
    )


def _icmp_probe(host: str, token: str, timeout: float) -> tuple[str, None, str]:
    """One echo request; "ok" on its reply, else the ICMP error about it (raises on timeout).

    A raw socket sees every ICMP message the namespace receives, so replies and errors are
    matched by identifier and token. NAT rewrites the identifier on the way out and restores
    it on the way back (in the quoted packet of a related error too), so matching still holds.
    """
    family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    request, reply = ICMP_ECHO[family]
    ident = (os.getpid() ^ int(token.rsplit("-", 1)[1][:4], 16)) & 0xFFFF
    payload = token.encode()
    header = struct.pack("!BBHHH", request, 0, 0, ident, 1)
    if family == socket.AF_INET:  # the kernel fills in the ICMPv6 checksum itself
        header = struct.pack("!BBHHH", request, 0, _checksum(header + payload), ident, 1)
    deadline = time.monotonic() + timeout
    with _icmp_socket(family) as sock:
        sock.sendto(header + payload, (host, 0))
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no echo reply")
            sock.settimeout(left)
            data, peer = sock.recvfrom(2048)
            body = _icmp_body(family, data)
            if len(body) < 8:
                continue
            if body[0] == reply and struct.unpack("!H", body[4:6])[0] == ident:
                if body[8:] == payload:
                    return "ok", None, peer[0]
                continue
            if body[0] in ICMP_ERRORS[family] and _echo_error(family, body, ident):
                if body[0] == ICMP_ERRORS[family][0] and body[1] == PORT_UNREACHABLE[family]:
                    raise Refused(peer[0])
                err = OSError(errno.EHOSTUNREACH, f"icmp type {body[0]} code {body[1]}")
                err.by = peer[0]
                raise err


def _tftp_probe(host: str, port: int, token: str, timeout: float) -> tuple[str, dict, None]:
    """A TFTP-like exchange: request to `port`, answer from another port, ack sent there."""
    family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        _recverr(sock, family)
        try:
            sock.sendto(token.encode() + b"\n", (host, port))
            reply, server = sock.recvfrom(512)
            if server[1] == port:
                return "error: answered from the request's port", json.loads(reply.decode()), None
            sock.connect(server)
            sock.send(f"ack {token}\n".encode())
            acked = sock.recv(512)
        except ConnectionRefusedError:
            raise Refused(_queued_error(sock)[1]) from None
    if acked.strip() != b"acked":
        return f"error: ack answered {acked!r}", json.loads(reply.decode()), None
    return "ok", json.loads(reply.decode()), None


def _probe(proto: str, host: str, port: int, sport: int | None, token: str, timeout: float):
    if proto == "icmp":
        return _icmp_probe(host, token, timeout)
    if proto == "tftp":
        return _tftp_probe(host, port, token, timeout)
    family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    # sent unconnected: the answer comes from another address than the one asked
    broadcast = host == "255.255.255.255" or ipaddress.ip_address(host).is_multicast
    with socket.socket(family, kind) as sock:
        sock.settimeout(timeout)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if broadcast and family == socket.AF_INET:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        if sport is not None:
            sock.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", sport))
        if broadcast:
            sock.sendto(token.encode(), (host, port))
            reply, _ = sock.recvfrom(512)
        elif kind == socket.SOCK_STREAM:
            _tcp_connect(sock, family, (host, port), timeout)
            sock.sendall(token.encode() + b"\n")
            reply = sock.recv(512)
        else:
            _recverr(sock, family)
            sock.connect((host, port))
            sock.sendall(token.encode() + b"\n")
            try:
                reply = sock.recv(512)
            except ConnectionRefusedError:
                raise Refused(_queued_error(sock)[1]) from None
            except TimeoutError:
                raise
            except OSError as err:
                err.by = _queued_error(sock)[1]
                raise
    if not reply:
        return "error: empty reply", None, None
    return "ok", json.loads(reply.decode()), None


def client(specs: list[str], timeout: float) -> None:
    for n, spec in enumerate(specs):
        proto, host, port, sport = _parse_spec(spec)
        token = f"{os.getpid()}-{n}-{os.urandom(4).hex()}"
        seen = by = None
        started = time.monotonic()
        try:
            result, seen, by = _probe(proto, host, port, sport, token, timeout)
        except ConnectionRefusedError as err:
            result, by = "refused", getattr(err, "by", None)
        except (socket.timeout, TimeoutError):
            result = "timeout"
        except OSError as err:
            unreachable = (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EACCES, errno.EPERM)
            result = "unreachable" if err.errno in unreachable else f"error: {err}"
            by = getattr(err, "by", None)
        ms = round((time.monotonic() - started) * 1000)
        line = {"spec": spec, "token": token, "result": result, "seen": seen, "by": by, "ms": ms}
        print(json.dumps(line))
        sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    srv = sub.add_parser("serve")
    srv.add_argument("--log", required=True)
    srv.add_argument("specs", nargs="+")
    cli = sub.add_parser("client")
    cli.add_argument("--timeout", type=float, default=1.0)
    cli.add_argument("specs", nargs="+")
    args = parser.parse_args()
    if args.cmd == "serve":
        serve(args.log, args.specs)
    else:
        client(args.specs, min(args.timeout, 1.5))


if __name__ == "__main__":
    main()

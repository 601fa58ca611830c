"""A tiny stdlib TCP/UDP probe, run inside a namespace with `ip netns exec NS python3 probe.py`.

Why its own program: the firewall's effect is only visible from the other side. The server logs
the peer address and port it saw (what proves masquerading and port remapping), and the client
reports whether it got through; "blocked" means the client failed *and* the server saw nothing.

    probe.py serve --log FILE tcp/8080 udp/53 ...
        Listens on every spec, on 0.0.0.0 and :: (v6only), prints "ready" once bound. Each
        connection or datagram carries a token; the server appends one JSON line
        {"token", "proto", "port", "peer", "sport"} to FILE, then answers with the same line.
    probe.py client [--timeout S] tcp/HOST/PORT[/SPORT] udp/HOST/PORT[/SPORT] ...
        Runs the probes in order, printing one JSON line each:
        {"spec", "token", "result": "ok"|"refused"|"timeout"|"unreachable"|"error: ...",
         "seen": {...} or null, "ms": duration}. A broadcast HOST (255.255.255.255) is sent unconnected.
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


def _parse_spec(spec: str) -> tuple[str, str, int, int | None]:
    parts = spec.split("/")
    if parts[0] not in ("tcp", "udp") or len(parts) not in (3, 4):
        raise SystemExit(f"bad probe spec {spec!r}: want tcp|udp/HOST/PORT[/SPORT]")
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
            return [(level, kind, data[:16] + struct.pack("I", 0))]
    return []


def serve(log_path: str, specs: list[str]) -> None:
    sel = selectors.DefaultSelector()
    for spec in specs:
        proto, port = spec.split("/")
        kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
        for family, any_addr in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
            sock = socket.socket(family, kind)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            if kind == socket.SOCK_DGRAM:
                _want_pktinfo(sock, family)
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


def _tcp_connect(sock: socket.socket, family: int, addr: tuple, timeout: float) -> None:
    """connect(), but an ICMP error counts even if the kernel could not apply it to the socket.

    Over veth the whole path runs inside the connect() call: the host's reject comes back while
    the socket is still locked, and TCP then keeps the ICMP error only as a "soft" error
    (TcpExtLockDroppedIcmps) and retries the SYN a second later (seen with IPv6). With
    IP(V6)_RECVERR the error is also queued on the socket, where poll() sees it at once.
    """
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVERR, 1)
    else:
        sock.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
    sock.setblocking(False)
    code = sock.connect_ex(addr)
    if code not in (0, errno.EINPROGRESS):
        raise OSError(code, os.strerror(code))
    poller = select.poll()
    poller.register(sock, select.POLLOUT | select.POLLERR)
    if not poller.poll(timeout * 1000):
        raise TimeoutError("connect timed out")
    code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    if code == 0:
        try:
            _, ancdata, _, _ = sock.recvmsg(1, 512, socket.MSG_ERRQUEUE)
        except BlockingIOError:
            ancdata = []
        for _, _, data in ancdata:  # struct sock_extended_err starts with ee_errno
            code = struct.unpack("I", data[:4])[0]
    if code == errno.ECONNREFUSED:
        raise ConnectionRefusedError(code, os.strerror(code))
    if code != 0:
        raise OSError(code, os.strerror(code))
    sock.settimeout(timeout)


def _probe(proto: str, host: str, port: int, sport: int | None, token: str, timeout: float):
    family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    broadcast = host == "255.255.255.255"
    with socket.socket(family, kind) as sock:
        sock.settimeout(timeout)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if broadcast:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        if sport is not None:
            sock.bind(("::" if family == socket.AF_INET6 else "0.0.0.0", sport))
        if broadcast:
            sock.sendto(token.encode(), (host, port))
            reply, _ = sock.recvfrom(512)
        else:
            if kind == socket.SOCK_STREAM:
                _tcp_connect(sock, family, (host, port), timeout)
            else:
                sock.connect((host, port))
            sock.sendall(token.encode() + b"\n")
            reply = sock.recv(512)
    if not reply:
        return "error: empty reply", None
    return "ok", json.loads(reply.decode())


def client(specs: list[str], timeout: float) -> None:
    for n, spec in enumerate(specs):
        proto, host, port, sport = _parse_spec(spec)
        token = f"{os.getpid()}-{n}-{os.urandom(4).hex()}"
        seen = None
        started = time.monotonic()
        try:
            result, seen = _probe(proto, host, port, sport, token, timeout)
        except ConnectionRefusedError:
            result = "refused"
        except (socket.timeout, TimeoutError):
            result = "timeout"
        except OSError as err:
            unreachable = (errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EACCES, errno.EPERM)
            result = "unreachable" if err.errno in unreachable else f"error: {err}"
        ms = round((time.monotonic() - started) * 1000)
        print(json.dumps({"spec": spec, "token": token, "result": result, "seen": seen, "ms": ms}))
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

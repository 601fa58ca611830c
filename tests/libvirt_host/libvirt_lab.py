"""A real libvirtd in network namespaces: the host, a guest on its network's bridge, the wan.

Why a real daemon: netc's take-over of a libvirt network (adopt, release, migrate) is about what
libvirt does next (`net-destroy`/`net-start`, a daemon restart), and only libvirt itself shows
that. Each lab has its own names and directory, so labs never meet:

- namespace `host`: libvirtd in a private mount namespace whose /etc/libvirt, /run/libvirt,
  /var/lib/libvirt, /var/log/libvirt and /var/cache/libvirt are bind mounts of the lab's
  directory (the machine's own are never read or written), the networks' bridges, libvirt's
  dnsmasq, and `wan0` 203.0.113.1/24 towards the wan;
- namespace `guest`: `eth0`, whose peer is a port of the network's bridge; it takes a DHCP lease
  from libvirt's dnsmasq with `busybox udhcpc` and a script that only sets address and route;
- namespace `wan`: 203.0.113.2/24, routed to the guests' subnets through the host (so a refused
  wan → guest connection is the firewall's doing, not a missing route).

The kernel here has no `act_csum`: libvirt's nftables backend adds a `tc` u32 `csum` filter (DHCP
checksums, not netfilter) and fails to start a network without it, so inside the private mount
namespace only, `tc` is a wrapper that skips that one command.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field

from kernel_support import nsrun, unique_name

LIBVIRT_DIRS = {  # mount point inside the daemon's mount namespace -> the lab's sub-directory
    "/etc/libvirt": "etc",
    "/run/libvirt": "run",
    "/var/lib/libvirt": "varlib",
    "/var/log/libvirt": "log",
    "/var/cache/libvirt": "cache",
}
WAN_HOST, WAN = "203.0.113.1", "203.0.113.2"

_START = """#!/bin/sh
set -e
mount --make-rprivate /
{mounts}
printf '#!/bin/sh\\ncase "$*" in *"action csum"*) exit 0;; esac\\nexec {root}/tc.real "$@"\\n' \\
  > {root}/tc.wrap
cp "$(command -v tc)" {root}/tc.real
chmod +x {root}/tc.wrap
mount --bind {root}/tc.wrap "$(command -v tc)"
exec libvirtd --pid-file {root}/libvirtd.pid > {root}/libvirtd.out 2>&1
"""

_UDHCPC = """#!/bin/sh
case "$1" in
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    [ -n "$router" ] && ip route replace default via "$router"
    echo "LEASE $ip/$mask $router" ;;
esac
exit 0
"""


def unavailable() -> str | None:
    """Why a lab cannot run here (None when it can): libvirtd, virsh, dnsmasq, busybox."""
    for tool, package in (
        ("libvirtd", "libvirt-daemon (>= 10.4, bookworm-backports)"),
        ("virsh", "libvirt-clients"),
        ("dnsmasq", "dnsmasq-base"),
        ("busybox", "busybox"),
        ("unshare", "util-linux"),
    ):
        if shutil.which(tool) is None:
            return f"needs '{tool}' (Debian package {package})"
    return None


@dataclass
class Lab:
    """One running lab; `up()` builds it, `down()` removes every trace (also of a half-built one)."""

    root: str  # the lab's directory (a test's tmp_path)
    backend: str  # libvirt's firewall_backend: "nftables" | "iptables"
    host: str = field(default_factory=lambda: unique_name("lvh"))
    guest: str = field(default_factory=lambda: unique_name("lvg"))
    wan: str = field(default_factory=lambda: unique_name("lvw"))
    daemon: subprocess.Popen | None = None
    guest_port: str = "lvgp"  # the guest's veth peer, a port of the bridge (in `host`)

    @property
    def socket(self) -> str:
        return os.path.join(self.root, "run", "libvirt-sock")

    @property
    def uri(self) -> str:
        """What `virsh -c` and `netc adopt --connect` take to reach this daemon."""
        return f"network:///system?socket={self.socket}"

    def path(self, *parts: str) -> str:
        return os.path.join(self.root, *parts)

    # -- building and removing -------------------------------------------------------------

    def up(self) -> Lab:
        for sub in LIBVIRT_DIRS.values():
            os.makedirs(self.path(sub), exist_ok=True)
        os.makedirs(self.path("etc", "qemu", "networks", "autostart"), exist_ok=True)
        with open(self.path("etc", "network.conf"), "w", encoding="ascii") as handle:
            handle.write(f'firewall_backend = "{self.backend}"\n')
        mounts = "\n".join(
            f"mkdir -p {target}; mount --bind {self.path(sub)} {target}"
            for target, sub in LIBVIRT_DIRS.items()
        )
        with open(self.path("start.sh"), "w", encoding="ascii") as handle:
            handle.write(_START.format(mounts=mounts, root=self.root))
        with open(self.path("udhcpc.sh"), "w", encoding="ascii") as handle:
            handle.write(_UDHCPC)
        os.chmod(self.path("udhcpc.sh"), 0o755)
        for ns in (self.host, self.guest, self.wan):
            subprocess.run(["ip", "netns", "add", ns], check=True)
            nsrun(ns, "ip", "link", "set", "lo", "up")
        subprocess.run(
            ["ip", "-n", self.host, "link", "add", "wan0", "type", "veth", "peer", "wan0",
             "netns", self.wan],
            check=True,
        )  # fmt: skip
        nsrun(self.host, "ip", "addr", "add", f"{WAN_HOST}/24", "dev", "wan0")
        nsrun(self.host, "ip", "link", "set", "wan0", "up")
        nsrun(self.wan, "ip", "addr", "add", f"{WAN}/24", "dev", "wan0")
        nsrun(self.wan, "ip", "link", "set", "wan0", "up")
        nsrun(self.wan, "ip", "route", "add", "192.168.0.0/16", "via", WAN_HOST)
        subprocess.run(
            ["ip", "-n", self.guest, "link", "add", "eth0", "type", "veth", "peer",
             self.guest_port, "netns", self.host],
            check=True,
        )  # fmt: skip
        nsrun(self.guest, "ip", "link", "set", "eth0", "up")
        self.start_daemon()
        return self

    def start_daemon(self) -> None:
        """Start libvirtd (it exec()s through `ip netns exec` and `unshare`: same pid)."""
        try:
            os.unlink(self.socket)
        except FileNotFoundError:
            pass
        self.daemon = subprocess.Popen(
            ["ip", "netns", "exec", self.host, "unshare", "-m", "sh", self.path("start.sh")],
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.daemon.poll() is not None:
                raise RuntimeError(f"libvirtd exited: {self.log()}")
            if os.path.exists(self.socket) and self.virsh("version", check=False)[0] == 0:
                return
            time.sleep(0.1)
        raise RuntimeError(f"libvirtd did not come up: {self.log()}")

    def stop_daemon(self) -> None:
        """Stop libvirtd as `systemctl stop` would: its networks, dnsmasq and rules stay."""
        if self.daemon is None:
            return
        self.daemon.terminate()
        try:
            self.daemon.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.daemon.kill()
            self.daemon.wait()
        self.daemon = None

    def restart_daemon(self) -> None:
        """As `systemctl restart virtnetworkd` (or libvirtd) would."""
        self.stop_daemon()
        self.start_daemon()

    def reboot(self, before_libvirt=None) -> None:
        """A host reboot, simulated: the daemon, dnsmasq, the bridges, every rule and libvirt's
        runtime state (/run is a tmpfs) go; `before_libvirt()` runs where boot units would,
        then libvirtd starts and autostarts its networks. The guest's port is plugged again."""
        self.stop_daemon()
        pids = subprocess.run(["ip", "netns", "pids", self.host], capture_output=True, text=True)
        for pid in pids.stdout.split():
            os.kill(int(pid), signal.SIGKILL)
        for line in nsrun(self.host, "ip", "-br", "link", "show", "type", "bridge").splitlines():
            nsrun(self.host, "ip", "link", "del", line.split()[0])
        nsrun(self.host, "nft", "flush", "ruleset")
        shutil.rmtree(self.path("run"))
        os.makedirs(self.path("run"))
        if before_libvirt is not None:
            before_libvirt()
        self.start_daemon()

    def down(self) -> None:
        """Stop the daemon, its dnsmasq and every process in the namespaces; delete them."""
        self.stop_daemon()
        for ns in (self.host, self.guest, self.wan):
            pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True)
            for pid in pids.stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for ns in (self.host, self.guest, self.wan):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)

    def log(self) -> str:
        try:
            with open(self.path("libvirtd.out"), encoding="utf-8", errors="replace") as handle:
                return handle.read()[-2000:]
        except FileNotFoundError:
            return "(no log)"

    # -- libvirt ---------------------------------------------------------------------------

    def virsh(self, *args: str, check: bool = True) -> tuple[int, str, str]:
        proc = subprocess.run(
            ["virsh", "-q", "-c", self.uri, *args], capture_output=True, text=True, timeout=60
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"virsh {' '.join(args)}: {proc.stderr.strip()}\n{self.log()}")
        return proc.returncode, proc.stdout, proc.stderr

    def define(self, xml: str, start: bool = True, autostart: bool = False) -> str:
        """Define (and start) a network from XML text; returns its name."""
        name = re.search(r"<name>([^<]+)</name>", xml).group(1)
        path = self.path(f"define-{name}.xml")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(xml)
        self.virsh("net-define", path)
        if autostart:
            self.virsh("net-autostart", name)
        if start:
            self.virsh("net-start", name)
        return name

    def bridge(self, network: str) -> str:
        return self.virsh("net-info", network)[1].split("Bridge:")[1].split()[0]

    def plug(self, network: str) -> None:
        """Attach the guest's port to the network's bridge, as libvirt re-plugs a VM's tap."""
        nsrun(self.host, "ip", "link", "set", self.guest_port, "master", self.bridge(network))
        nsrun(self.host, "ip", "link", "set", self.guest_port, "up")
        self._wait_forwarding()

    def _wait_forwarding(self) -> None:
        """With STP on, a new port learns for 2 x forward delay (at least 2 s each) first."""
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            out = nsrun(self.host, "bridge", "link", "show", "dev", self.guest_port)
            if "state forwarding" in out:
                return
            time.sleep(0.2)
        raise AssertionError(f"bridge port {self.guest_port} never forwards: {out}")

    def restart_network(self, network: str) -> None:
        """`virsh net-destroy` + `net-start`: a new bridge, so the guest's port is plugged again."""
        self.virsh("net-destroy", network)
        self.virsh("net-start", network)
        self.plug(network)

    # -- the guest -------------------------------------------------------------------------

    def lease(self) -> str:
        """Take a DHCP lease from libvirt's dnsmasq; returns the guest's address."""
        out = nsrun(
            self.guest,
            "busybox", "udhcpc", "-i", "eth0", "-q", "-n", "-f", "-t", "5", "-T", "1",
            "-s", self.path("udhcpc.sh"),
        )  # fmt: skip
        found = re.search(r"LEASE (\S+)/", out)
        if found is None:
            raise AssertionError(f"no DHCP lease from libvirt's dnsmasq: {out}")
        return found.group(1)

    def resolve(self, name: str, server: str) -> str:
        """Ask libvirt's dnsmasq (at the gateway) for a name, from the guest."""
        return nsrun(self.guest, "busybox", "nslookup", name, server, check=False)

    # -- whose rules -----------------------------------------------------------------------

    def nft_ruleset(self) -> str:
        return nsrun(self.host, "nft", "list", "ruleset")

    def iptables_rules(self) -> str:
        """Both families' iptables-save, without its comment lines (they carry the time)."""
        text = nsrun(self.host, "iptables-save") + nsrun(self.host, "ip6tables-save")
        return "".join(l for l in text.splitlines(True) if not l.startswith("#"))

    def libvirt_holds(self, bridge: str) -> bool:
        """Whether libvirt has live rules naming this bridge (either of its backends)."""
        nft = self.nft_ruleset()
        tables = re.findall(r"table ip6? libvirt_network \{.*?\n\}", nft, re.S)
        in_nft = any(re.search(rf'"{re.escape(bridge)}"', t) for t in tables)
        libvirt_ipt = [
            line
            for line in self.iptables_rules().splitlines()
            if "LIBVIRT_" in line and line.startswith("-A LIBVIRT_")
        ]
        in_ipt = any(re.search(rf"-[io] {re.escape(bridge)}( |$)", l) for l in libvirt_ipt)
        return in_nft or in_ipt

    def rules(self) -> str:
        """The nft ruleset and both iptables families, counters left out (to compare)."""
        text = self.nft_ruleset() + self.iptables_rules()
        return re.sub(r"counter packets \d+ bytes \d+|\[\d+:\d+\]", "counter", text)

    def netc_holds(self, bridge: str) -> bool:
        """Whether netc has live rules naming this bridge (`inet netc` or the NETC_* chains)."""
        found = re.search(r"table inet netc \{.*?\n\}", self.nft_ruleset(), re.S)
        in_nft = found is not None and f'"{bridge}"' in found.group(0)
        netc_ipt = [l for l in self.iptables_rules().splitlines() if l.startswith("-A NETC_")]
        in_ipt = any(re.search(rf"-[io] {re.escape(bridge)}( |$)", l) for l in netc_ipt)
        return in_nft or in_ipt

    def holders(self, bridge: str) -> set[str]:
        """Who holds rules for the bridge: {"libvirt"}, {"netc"}, both or none."""
        return {
            who
            for who, holds in (("libvirt", self.libvirt_holds), ("netc", self.netc_holds))
            if holds(bridge)
        }


class _Roles:
    """The lab's namespaces by role, as kernel/probing.py's Servers expects of a topology."""

    def __init__(self, lab: Lab):
        self.names = {"host": lab.host, "guest": lab.guest, "wan": lab.wan}

    def popen(self, role: str, *argv: str, **kwargs) -> subprocess.Popen:
        return subprocess.Popen(["ip", "netns", "exec", self.names[role], *argv], **kwargs)


def guest_works(lab: Lab, gateway: str, dns_name: str) -> list[str]:
    """Lease, guest → wan masqueraded, wan → guest refused, host → guest ssh, DNS at the gateway.

    Returns what failed (empty: the guest works), so a test can say at which step.
    """
    from kernel.probing import servers

    problems = []
    try:
        address = lab.lease()
    except AssertionError as err:
        return [str(err)]
    with servers(_Roles(lab), {"wan": ["tcp/8080"], "guest": ["tcp/22"]}) as running:
        seen = running.probe(
            {
                "guest": [f"tcp/{WAN}/8080"],
                "wan": [f"tcp/{address}/22"],
                "host": [f"tcp/{address}/22"],
            }
        )
    out = seen[("guest", f"tcp/{WAN}/8080")]
    if not out.ok or out.peer != WAN_HOST:
        problems.append(f"guest -> wan not masqueraded to {WAN_HOST}: {out}")
    inbound = seen[("wan", f"tcp/{address}/22")]
    if not inbound.blocked:
        problems.append(f"wan -> guest not refused: {inbound}")
    ssh = seen[("host", f"tcp/{address}/22")]
    if not ssh.ok:
        problems.append(f"host -> guest ssh port: {ssh}")
    answer = lab.resolve(dns_name, gateway)
    if f"Name:\t{dns_name}" not in answer:
        problems.append(f"DNS at {gateway}: {answer.strip()}")
    return problems

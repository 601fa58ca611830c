"""`netc restore`: a simulated boot and firewall restarts, on nft, iptables-nft and iptables-legacy.

A reboot or `systemctl restart nftables` leaves netc's state and takes its rules (a reboot also
its bridges and the forwarding sysctls). Here that is done by hand inside the namespaces of the
shared guest/host/wan topology: `nft flush ruleset` (what nftables.service's start, reload and
stop do; it empties iptables-nft's tables too), or for iptables-legacy the `-F`/`-X` of every
loaded table that iptables.service and firewalld's iptables backend do. Then `netc restore` must bring
netc's rules back from the state alone, `netc status` must say in sync, and the guest must work.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil
import subprocess

import pytest

from dhcp_guest import UDHCPC_SCRIPT, Guest
from host_support import DEFAULT_NET, IPTABLES_TOOLS, kill_dnsmasq, snapshot
from kernel_support import delete_namespace, nsrun, require_kernel, unique_name

pytestmark = pytest.mark.kernel

topology_mod = pytest.importorskip("kernel.topology", reason="needs tests/kernel/topology.py")
probing = pytest.importorskip("kernel.probing", reason="needs tests/kernel/probing.py")

FORWARDING = ("net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding")


def backend_of(flavour: str) -> str:
    return "nftables" if flavour == "nft" else "iptables"


@pytest.fixture
def topo():
    require_kernel()
    with topology_mod.topology(topology_mod.Shape(), tag="rst") as built:
        yield built


@pytest.fixture
def cli(isolated_config, capsys):
    """`netc ARGS --netns NS` in-process; returns (exit code, stdout, stderr)."""
    from netc.cli import main

    def run(ns: str, *args: str) -> tuple[int, str, str]:
        code = main([*args, "--netns", ns])
        out = capsys.readouterr()
        return code, out.out, out.err

    return run


def wipe(ns: str, flavour: str) -> None:
    """What a firewall restart does to every table: nft's flush, or iptables' -F and -X."""
    if flavour == "iptables-legacy":
        for tool in IPTABLES_TOOLS:
            saved = nsrun(ns, f"{tool}-legacy-save").splitlines()
            for table in (line[1:] for line in saved if line.startswith("*")):
                nsrun(ns, f"{tool}-legacy", "-w", "5", "-t", table, "-F")
                nsrun(ns, f"{tool}-legacy", "-w", "5", "-t", table, "-X")
    else:
        nsrun(ns, "nft", "flush", "ruleset")


def load_tables(ns: str, flavour: str) -> None:
    """iptables-legacy's tables, once touched, stay (empty) in a namespace: touch them first,
    as on a host where something listed them at boot, so `before` and after `down` compare."""
    if flavour == "iptables-legacy":
        for tool in IPTABLES_TOOLS:
            for table in ("filter", "nat"):
                nsrun(ns, f"{tool}-legacy", "-w", "5", "-t", table, "-L", "-n")


def netc_copies(ns: str, flavour: str) -> int:
    """How many copies of netc's rules are live: tables named netc, or jumps into NETC_FWO."""
    if flavour == "nft":
        return nsrun(ns, "nft", "list", "tables").splitlines().count("table inet netc")
    suffix = "-legacy" if flavour == "iptables-legacy" else "-nft"
    return nsrun(ns, f"iptables{suffix}-save").count("-A FORWARD -j NETC_FWO")


def rules_and_links(ns: str) -> str:
    """The snapshot without operational states (carrier comes and goes with probe traffic)."""
    return re.sub(r" state [A-Z]+ ", " state * ", snapshot(ns))


def guest_works(topo) -> None:
    """The default network as libvirt runs it: guest → outside masqueraded, no way in."""
    wan, guest = topo.addr("wan"), topo.addr("guest")
    with probing.servers(topo, {"wan": ["tcp/8080"], "guest": ["tcp/22"]}) as srv:
        got = srv.probe(
            {"guest": [f"tcp/{wan}/8080"], "wan": [f"tcp/{guest}/22"], "host": [f"tcp/{guest}/22"]}
        )
    out = got[("guest", f"tcp/{wan}/8080")]
    assert out.ok and out.peer == "203.0.113.1", str(out)
    assert got[("wan", f"tcp/{guest}/22")].blocked
    assert got[("host", f"tcp/{guest}/22")].ok


def guest_exposed(topo) -> None:
    """Without netc's rules: the outside reaches the guest, whose traffic leaves unmasqueraded."""
    wan, guest = topo.addr("wan"), topo.addr("guest")
    with probing.servers(topo, {"wan": ["tcp/8080"], "guest": ["tcp/22"]}) as srv:
        got = srv.probe({"guest": [f"tcp/{wan}/8080"], "wan": [f"tcp/{guest}/22"]})
    assert got[("guest", f"tcp/{wan}/8080")].peer == guest
    assert got[("wan", f"tcp/{guest}/22")].ok


def in_sync(cli, ns: str) -> None:
    code, out, err = cli(ns, "status")
    assert code == 0 and "in sync" in out, out + err


def test_flush_then_restore_brings_rules_back_once(topo, cli, flavour):
    """libvirt's bridge (the topology's virbr0): restore loads the rules, touches no link."""
    host = topo.ns("host")
    load_tables(host, flavour)
    before = rules_and_links(host)
    code, out, err = cli(host, "apply", DEFAULT_NET, "--backend", backend_of(flavour))
    assert code == 0, err
    guest_works(topo)
    applied = rules_and_links(host)

    wipe(host, flavour)
    guest_exposed(topo)
    code, out, _ = cli(host, "status")
    assert code == 1 and "drift: netc's rules are missing" in out
    assert "run `netc restore` (loads the applied rules again, changes nothing else)" in out
    assert "netc apply" not in out  # the files are unchanged: restore is the whole fix
    code, out, err = cli(host, "restore")
    assert code == 0, err
    assert f"rules: loaded into {backend_of(flavour)} from netc's state (default)\n" in out
    assert "bridge" not in out  # the bridge is there, and is not netc's to touch
    in_sync(cli, host)
    guest_works(topo)
    assert rules_and_links(host) == applied

    code, out, err = cli(host, "restore")
    assert code == 0 and "rules: already in" in out, err
    assert netc_copies(host, flavour) == 1

    # Part of netc's rules gone (a chain flushed by hand): the whole set loads again, once.
    if flavour == "nft":
        nsrun(host, "nft", "flush", "chain", "inet", "netc", "forward")
    else:
        nsrun(host, "iptables", "-w", "5", "-F", "NETC_FWO")
    code, out, _ = cli(host, "status")
    assert code == 1 and "rules differ from what netc loaded; run `netc restore`" in out
    code, out, err = cli(host, "restore")
    assert code == 0 and "rules: loaded into" in out, err
    assert netc_copies(host, flavour) == 1
    assert rules_and_links(host) == applied
    in_sync(cli, host)

    assert cli(host, "down")[0] == 0
    assert rules_and_links(host) == before


def test_restore_without_state_says_so_and_changes_nothing(netc):
    before = snapshot(netc.ns)
    result = netc("restore")
    assert result.code == 0, result.err
    assert result.out.startswith("nothing to restore: netc has applied nothing here (no state at ")
    assert snapshot(netc.ns) == before
    assert not os.path.exists(os.environ["NETC_STATE_DIR"])  # not even a lock file


def test_restore_with_a_broken_state_is_a_clear_error(netc):
    state_dir = os.environ["NETC_STATE_DIR"]
    os.makedirs(state_dir)
    with open(os.path.join(state_dir, f"state@{netc.ns}.json"), "w") as handle:
        handle.write("{not json")
    before = snapshot(netc.ns)
    result = netc("restore")
    assert result.code == 2 and result.out == ""
    assert "cannot read netc's state" in result.err and "Traceback" not in result.err
    assert snapshot(netc.ns) == before


def test_restore_in_a_missing_namespace_is_a_clear_error(isolated_config, capsys):
    from netc.cli import main

    require_kernel()
    code = main(["restore", "--netns", "netc-no-such-namespace"])
    err = capsys.readouterr().err
    assert code == 2 and "network namespace 'netc-no-such-namespace' does not exist" in err


@pytest.fixture
def vm(topo, tmp_path):
    """A guest of the topology's host taking its address by DHCP (busybox udhcpc), as a VM
    does; plugged into the bridge by `attach`, unplugged (the VM stops) by `detach`."""
    name = unique_name("gst")
    subprocess.run(["ip", "netns", "add", name], check=True)
    script = tmp_path / "udhcpc.sh"
    script.write_text(UDHCPC_SCRIPT)
    script.chmod(0o755)
    yield Guest(name, topo.ns("host"), script)
    delete_namespace(name)


def leased(vm: Guest) -> None:
    """netc's dnsmasq answers: a VM started on virbr0 leases an address of the network's range
    (and stops again).

    A bridge with no MAC set takes the lowest of its ports' MACs, so the VM's port would move
    the bridge's MAC while the host's ARP (dnsmasq's ping before an offer) tells the other
    guests, whose caches then miss when it moves back. libvirt gives a VM's tap a MAC starting
    with fe: for exactly this reason; the VM's port here gets one too."""
    vm.attach("virbr0")
    nsrun(vm.host_ns, "ip", "link", "set", "gp0", "address", "fe:54:00:00:00:01")
    try:
        address = ipaddress.ip_address(vm.lease())
    finally:
        vm.detach()
    assert address in ipaddress.ip_network("192.168.122.0/24") and int(address) & 0xFF >= 2


def attach_guests(topo, bridge: str = "virbr0") -> None:
    """Plug the guests' host-side ports into the bridge, as qemu/libvirt do when guests start."""
    for port in ("vnet0", "vnet1"):
        topo.run("host", "ip", "link", "set", port, "master", bridge)


def test_users_day_netc_bridge_survives_reboot_and_nftables_restart(topo, cli, flavour, vm):
    """A network netc brought up alone (its own bridge): start, reboot, firewall restart, down.

    The reboot takes the rules, the bridge netc created, its dnsmasq and the forwarding netc
    turned on. The boot unit runs `netc restore --bridges`: the rules, the bridge with netc's
    address, its DHCP/DNS server and the forwarding come back; plain `netc restore` (the
    reload unit's) loads the rules only.
    """
    host = topo.ns("host")
    topo.run("host", "ip", "link", "del", "virbr0")  # no libvirt here: netc makes the bridge
    topo.run("host", "sysctl", "-qw", *(f"{key}=0" for key in FORWARDING))
    load_tables(host, flavour)
    before = rules_and_links(host)

    # Start.
    code, out, err = cli(host, "apply", DEFAULT_NET, "--backend", backend_of(flavour))
    assert code == 0 and "bridge virbr0 (created)" in out, err
    assert "network default: dnsmasq: started" in out
    attach_guests(topo)
    guest_works(topo)
    leased(vm)
    in_sync(cli, host)
    state_file = os.path.join(os.environ["NETC_STATE_DIR"], f"state@{host}.json")
    assert json.load(open(state_file))["sysctls"] == {"net.ipv4.ip_forward": "0"}

    # Reboot (simulated): rules, netc's bridge, its dnsmasq and forwarding are gone; the state
    # (and dnsmasq's files beside it) stays.
    wipe(host, flavour)
    topo.run("host", "ip", "link", "del", "virbr0")
    kill_dnsmasq(host)
    topo.run("host", "sysctl", "-qw", "net.ipv4.ip_forward=0")
    code, out, err = cli(host, "restore")  # rules only, as the reload unit does
    assert code == 0, err
    assert "forwarding: net.ipv4.ip_forward = 1 (again)" in out
    assert "bridges not there yet: virbr0" in out
    assert "virbr0" not in topo.run("host", "ip", "link")
    assert "dnsmasq" not in out  # plain restore starts no daemon
    code, out, _ = cli(host, "status")
    assert code == 1 and "network default: bridge virbr0 missing" in out
    assert "`netc restore --bridges` creates it again" in out
    assert "network default: its dnsmasq is not running" in out
    code, out, err = cli(host, "restore", "--bridges")  # the boot unit's command
    assert code == 0, err
    assert "rules: already in" in out
    assert "network default: bridge virbr0 (created again, netc's), 192.168.122.1/24, up" in out
    assert "network default: dnsmasq: started" in out
    attach_guests(topo)  # the guests start again
    in_sync(cli, host)
    guest_works(topo)
    leased(vm)  # DHCP is back too
    again = cli(host, "restore", "--bridges")
    assert again[0] == 0 and "bridge" not in again[1]
    assert "network default: dnsmasq: running" in again[1]  # the same server, kept
    assert netc_copies(host, flavour) == 1

    # `systemctl restart nftables` (or the iptables service): rules only.
    wipe(host, flavour)
    code, out, err = cli(host, "restore")
    assert code == 0 and "rules: loaded into" in out, err
    assert "forwarding" not in out and "bridge" not in out
    in_sync(cli, host)
    guest_works(topo)
    assert netc_copies(host, flavour) == 1

    # Undo: the host is as it was before netc, forwarding off again.
    code, out, err = cli(host, "down")
    assert code == 0 and "bridge virbr0 deleted" in out and "dnsmasq stopped" in out, err
    assert rules_and_links(host) == before
    assert not os.path.exists(state_file)
    code, out, err = cli(host, "restore")
    assert code == 0 and out.startswith("nothing to restore")


def test_restore_loads_the_applied_text_not_the_edited_file(netc, tmp_path):
    """The state keeps what was applied; an edit goes live with `netc apply`, never by restore."""
    path = tmp_path / "n.net"
    path.write_text(open(DEFAULT_NET).read())
    assert netc("apply", str(path)).code == 0
    path.write_text(open(DEFAULT_NET).read().replace("virbr0", "virbr9"))
    nsrun(netc.ns, "nft", "flush", "ruleset")
    result = netc("restore")
    assert result.code == 0, result.err
    table = nsrun(netc.ns, "nft", "list", "table", "inet", "netc")
    assert '"virbr0"' in table and "virbr9" not in table
    status = netc("status")
    assert status.code == 1 and "changed since it was applied" in status.out
    assert "rules differ" not in status.out and "missing" not in status.out
    assert netc("down").code == 0


def test_restore_without_the_backends_tools_changes_nothing(netc, tmp_path, monkeypatch):
    assert netc("apply", DEFAULT_NET, "--backend", "iptables").code == 0
    nsrun(netc.ns, "nft", "flush", "ruleset")
    before = snapshot(netc.ns)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("ip", "nft", "sysctl"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    path = os.environ["PATH"]
    monkeypatch.setenv("PATH", str(bin_dir))
    result = netc("restore")
    monkeypatch.setenv("PATH", path)
    assert result.code == 2 and result.out == ""
    assert "the iptables backend needs 'iptables-restore'" in result.err
    assert snapshot(netc.ns) == before
    assert netc("restore").code == 0 and netc("status").code == 0
    assert netc("down").code == 0


def test_restore_bridges_without_dnsmasq_changes_nothing(netc, monkeypatch):
    """The boot unit's restore needs dnsmasq for a network netc serves: checked first."""
    from netc.host import dnsmasq

    assert netc("apply", DEFAULT_NET).code == 0
    nsrun(netc.ns, "nft", "flush", "ruleset")
    nsrun(netc.ns, "ip", "link", "del", "virbr0")
    kill_dnsmasq(netc.ns)
    before = snapshot(netc.ns)
    which = dnsmasq.which
    monkeypatch.setattr(dnsmasq, "which", lambda binary: None)
    result = netc("restore", "--bridges")
    monkeypatch.setattr(dnsmasq, "which", which)
    assert result.code == 2 and result.out == "", result.out
    assert "dnsmasq is not installed" in result.err and "Traceback" not in result.err
    assert snapshot(netc.ns) == before
    result = netc("restore", "--bridges")
    assert result.code == 0 and "network default: dnsmasq: started" in result.out, result.err
    assert netc("status").code == 0
    assert netc("down").code == 0

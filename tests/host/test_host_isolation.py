"""`isolate guests` through `netc apply`: the bridge ports' `isolated` flag, set and given back.

The flag (IFLA_BRPORT_ISOLATED) is what isolates guests when br_netfilter is off, so apply sets
it on the bridge's current ports, the state records which ports it changed, `down` clears only
those (a port that was isolated before, or a port re-created since, keeps its flag), `status`
and `doctor` report ports attached after the apply, and a second apply flags them.
"""

from __future__ import annotations

import re

import pytest

from host_support import bridge_ports, ip, snapshot, write
from kernel_support import br_netfilter_loaded, nsrun

pytestmark = pytest.mark.kernel

ISOLATING = """network default {
    bridge virbr0
    forward nat
    ip 192.168.122.1/24 { dhcp 192.168.122.2 - 192.168.122.254 }
    isolate guests
}
"""
NOT_ISOLATING = ISOLATING.replace("    isolate guests\n", "")


def flags(ns: str) -> dict[str, str]:
    """Port name -> "on"/"off" for the ports of any bridge."""
    return dict(re.findall(r"^(\S+) master \S+ isolated (on|off)$", bridge_ports(ns), re.M))


def add_port(ns: str, name: str, isolated: bool = False) -> None:
    """A veth whose one end is a port of virbr0 (the other end stays unattached), like a vnetN."""
    ip(ns, "link", "add", name, "type", "veth", "peer", "name", f"{name}p")
    ip(ns, "link", "set", name, "master", "virbr0", "up")
    if isolated:
        ip(ns, "link", "set", name, "type", "bridge_slave", "isolated", "on")


@pytest.fixture
def bridge_with_ports(netc):
    """virbr0 (up, as libvirt leaves it) with vnet0 and vnet1; vnet1 is already isolated."""
    ns = netc.ns
    # No DAD: a link-local address turning from tentative to valid would differ in snapshots.
    nsrun(
        ns, "sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0"
    )
    ip(ns, "link", "add", "virbr0", "type", "bridge")
    ip(ns, "link", "set", "virbr0", "up")
    add_port(ns, "vnet0")
    add_port(ns, "vnet1", isolated=True)
    return ns


def test_apply_flags_ports_and_down_restores_previous_flags(netc, bridge_with_ports, tmp_path):
    ns = bridge_with_ports
    before = snapshot(ns)
    assert flags(ns) == {"vnet0": "off", "vnet1": "on"}
    path = write(tmp_path / "iso.net", ISOLATING)
    applied = netc("apply", path)
    assert applied.code == 0, applied.err
    assert "isolated flag set on the ports of virbr0: vnet0" in applied.out
    assert flags(ns) == {"vnet0": "on", "vnet1": "on"}
    after = snapshot(ns)
    again = netc("apply", path)
    assert again.code == 0 and "rules: unchanged" in again.out
    assert "isolated flag set" not in again.out
    assert snapshot(ns) == after
    assert netc("status").code == 0
    assert netc("doctor").out == ""
    down = netc("down")
    assert down.code == 0, down.err
    assert flags(ns) == {"vnet0": "off", "vnet1": "on"}  # vnet1 was isolated before netc
    assert snapshot(ns) == before


def test_port_attached_later_is_drift_until_apply(netc, bridge_with_ports, tmp_path):
    ns = bridge_with_ports
    before = snapshot(ns)
    path = write(tmp_path / "iso.net", ISOLATING)
    assert netc("apply", path).code == 0
    add_port(ns, "vnet2")  # a guest started by libvirt after the apply
    drifted = netc("status")
    assert drifted.code == 1
    assert "drift: network default isolates guests, but port(s) vnet2 of virbr0" in drifted.out
    assert "run `netc apply` again" in drifted.out
    assert "<port isolated='yes'/>" in drifted.out
    doctor = netc("doctor")
    assert doctor.code == 1 and "vnet2 of virbr0 lack the isolated flag" in doctor.out
    assert "<port isolated='yes'/>" in doctor.out
    repaired = netc("apply", path)
    assert "isolated flag set on the ports of virbr0: vnet2" in repaired.out
    assert flags(ns) == {"vnet0": "on", "vnet1": "on", "vnet2": "on"}
    assert netc("status").code == 0
    assert netc("down").code == 0
    assert flags(ns) == {"vnet0": "off", "vnet1": "on", "vnet2": "off"}
    ip(ns, "link", "del", "vnet2")  # the guest goes
    assert snapshot(ns) == before


def test_edit_dropping_isolate_guests_clears_netc_flags_only(netc, bridge_with_ports, tmp_path):
    ns = bridge_with_ports
    path = write(tmp_path / "iso.net", ISOLATING)
    assert netc("apply", path).code == 0
    write(tmp_path / "iso.net", NOT_ISOLATING)
    edited = netc("apply", path)
    assert edited.code == 0, edited.err
    assert "isolated flag cleared on vnet0" in edited.out
    assert flags(ns) == {"vnet0": "off", "vnet1": "on"}
    assert netc("status").code == 0  # a network that does not isolate has no port drift
    assert netc("down").code == 0


def test_recreated_port_keeps_the_flag_someone_else_set(netc, bridge_with_ports, tmp_path):
    """A guest restarted after apply gets a new vnet0 (new ifindex), flagged by libvirt itself:
    down must not clear it (netc flagged the old vnet0, not this one)."""
    ns = bridge_with_ports
    assert netc("apply", write(tmp_path / "iso.net", ISOLATING)).code == 0
    ip(ns, "link", "del", "vnet0")
    add_port(ns, "vnet0", isolated=True)
    assert netc("status").code == 0
    assert netc("down").code == 0
    assert flags(ns) == {"vnet0": "on", "vnet1": "on"}


def test_bridge_netc_creates_has_no_ports_yet(netc, tmp_path):
    ns = netc.ns
    before = snapshot(ns)
    applied = netc("apply", write(tmp_path / "iso.net", ISOLATING))
    assert applied.code == 0, applied.err
    assert "virbr0 has no ports yet" in applied.out
    assert "re-run `netc apply`, or in libvirt put `<port isolated='yes'/>`" in applied.out
    add_port(ns, "vnet0")
    assert netc("status").code == 1
    assert "vnet0" in netc("apply", write(tmp_path / "iso.net", ISOLATING)).out
    ip(ns, "link", "del", "vnet0")
    assert netc("down").code == 0
    assert snapshot(ns) == before
    assert "virbr0" not in nsrun(ns, "ip", "link")


# -- in the libvirt-like topology: the flag is what isolates when br_netfilter is off ----------


@pytest.fixture
def topo():
    """The shared guest/guest2/host/wan namespaces, with br_netfilter off in the host."""
    from kernel_support import require_kernel

    topology = pytest.importorskip("kernel.topology", reason="needs tests/kernel/topology.py")
    require_kernel()
    with topology.topology(topology.Shape(bridge_nf_call=False), tag="hiso") as built:
        yield built


@pytest.fixture
def cli(isolated_config, capsys):
    from netc.cli import main

    def run(ns: str, *args: str) -> str:
        code = main([*args, "--netns", ns])
        out = capsys.readouterr()
        assert code == 0, out.err
        return out.out

    return run


@pytest.mark.parametrize("backend", ["nftables", "iptables"])
def test_apply_isolates_guests_without_br_netfilter_and_down_restores(topo, cli, backend, tmp_path):
    probing = pytest.importorskip("kernel.probing", reason="needs tests/kernel/probing.py")
    host = topo.ns("host")
    if br_netfilter_loaded():  # else the bridge never calls the IP hooks: the same world
        assert nsrun(host, "sysctl", "-n", "net.bridge.bridge-nf-call-iptables").strip() == "0"
        assert nsrun(host, "sysctl", "-n", "net.bridge.bridge-nf-call-ip6tables").strip() == "0"
    before = re.sub(r" state [A-Z]+ ", " state * ", snapshot(host))
    source = ISOLATING.replace("    isolate", "    ip 2001:db8:ca2:2::1/64\n    isolate")
    out = cli(host, "apply", write(tmp_path / "iso.net", source), "--backend", backend)
    assert "isolated flag set on the ports of virbr0: vnet0, vnet1" in out
    neighbour = {
        "guest": [f"tcp/{topo.addr('guest2')}/22"],
        "guest2": [f"tcp/{topo.addr('guest', 6)}/22"],
    }
    listen = {"guest": ["tcp/22"], "guest2": ["tcp/22"], "host": ["tcp/9090"], "wan": ["tcp/8080"]}
    reachable = [f"tcp/{topo.addr('host')}/9090", f"tcp/{topo.addr('wan')}/8080"]
    with probing.servers(topo, listen) as srv:
        got = srv.probe({**neighbour, "guest": neighbour["guest"] + reachable}, timeout=0.5)
        why = "\n".join(f"  {role}: {outcome}" for (role, _), outcome in got.items())
        for role, specs in neighbour.items():
            assert got[(role, specs[0])].blocked, why
        for spec in reachable:
            assert got[("guest", spec)].ok, why
        cli(host, "down")
        assert flags(host) == {"vnet0": "off", "vnet1": "off"}
        for role in neighbour:  # forget the failed ARP/ND entries (a retry waits up to 1 s)
            topo.run(role, "ip", "neigh", "flush", "all")
        again = srv.probe(neighbour, timeout=1)
        assert all(outcome.ok for outcome in again.values()), again
    assert re.sub(r" state [A-Z]+ ", " state * ", snapshot(host)) == before

"""`netc status` on an `expose` network: a bridge port without hairpin_mode (a guest attached
after `netc apply`) is drift, which the next `netc apply` repairs."""

from __future__ import annotations

from host_support import snapshot
from kernel_support import nsrun
from netc.host import port_isolation

NET = """\
network hp {
    bridge brhp
    forward nat
    dns off
    ip 192.168.81.1/24
    expose tcp 8022 to 192.168.81.10 port 22
}
"""


def _attach(ns: str, port: str) -> None:
    """A guest's host-side port, as qemu/libvirt add it when the guest starts."""
    nsrun(ns, "ip", "link", "add", port, "type", "veth", "peer", "name", port + "p")
    nsrun(ns, "ip", "link", "set", port, "master", "brhp", "up")


def test_a_port_without_hairpin_mode_is_drift_until_apply(netc, tmp_path):
    net = tmp_path / "hp.net"
    net.write_text(NET)
    before = snapshot(netc.ns)
    assert netc("apply", str(net)).code == 0
    assert netc("status").code == 0  # no port yet: nothing lacks the flag

    _attach(netc.ns, "vhp0")  # a guest started after the apply
    drifted = netc("status")
    assert drifted.code == 1, drifted.out
    assert (
        "drift: network hp exposes ports, but port(s) vhp0 of brhp lack hairpin_mode" in drifted.out
    )
    assert "run `netc apply` again" in drifted.out

    applied = netc("apply", str(net))
    assert applied.code == 0 and "hairpin_mode set on the ports of brhp: vhp0" in applied.out
    status = netc("status")
    assert status.code == 0 and "in sync" in status.out, status.out

    # Without `expose`, hairpin_mode is not wanted: a new port is no drift.
    net.write_text(NET.replace("    expose tcp 8022 to 192.168.81.10 port 22\n", ""))
    assert netc("apply", str(net)).code == 0
    assert port_isolation.ports_isolated(netc.ns, "brhp", port_isolation.HAIRPIN) == {"vhp0": False}
    _attach(netc.ns, "vhp1")
    status = netc("status")
    assert status.code == 0 and "hairpin" not in status.out, status.out

    nsrun(netc.ns, "ip", "link", "del", "vhp0")
    nsrun(netc.ns, "ip", "link", "del", "vhp1")
    assert netc("down").code == 0
    assert snapshot(netc.ns) == before

"""A bridge netc creates has a fixed MAC of its own, derived from the network and bridge names.

Without one the kernel gives a bridge the lowest MAC among its ports: a VM with a low MAC
starting or stopping moves the gateway's MAC, and the other guests' ARP entries for it go stale
(DHCP, DNS and routing through the gateway fail until they expire). A MAC set explicitly
(addr_assign_type 3, NET_ADDR_SET) is kept by the kernel whatever the ports do. A bridge netc
did not create keeps its MAC, whoever set it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dhcp_guest import LAB
from host_support import kill_dnsmasq
from kernel_support import nsrun
from netc.host.links import fixed_mac

pytestmark = pytest.mark.kernel

NET_ADDR_RANDOM = "1"
NET_ADDR_SET = "3"
LOW_MAC = "00:00:00:00:00:01"  # below every MAC a guest or the bridge has: the kernel's pick
LAB_MAC = fixed_mac("lab", "brlab")


def mac_of(ns: str, link: str) -> tuple[str, str]:
    """The link's MAC and how the kernel got it (/sys/class/net/LINK/addr_assign_type)."""
    out = nsrun(
        ns, "cat", f"/sys/class/net/{link}/address", f"/sys/class/net/{link}/addr_assign_type"
    )
    address, kind = out.split()
    return address, kind


def lab_file(tmp_path: Path) -> str:
    path = tmp_path / "lab.net"
    path.write_text(LAB)
    return str(path)


def test_fixed_mac_is_unicast_locally_administered_and_per_network() -> None:
    first = int(LAB_MAC.split(":")[0], 16)
    assert first & 0x01 == 0 and first & 0x02 == 0x02  # unicast, locally administered
    assert not LAB_MAC.startswith("52:54:00")  # libvirt's and qemu's guest MACs
    assert fixed_mac("lab", "brlab") == LAB_MAC  # deterministic: the same after every reboot
    others = {
        fixed_mac("lab", "brlab2"),
        fixed_mac("lab2", "brlab"),
        fixed_mac("default", "virbr0"),
    }
    assert LAB_MAC not in others and len(others) == 3
    # Pinned: a change here would move the gateway's MAC of every host on its next boot.
    assert fixed_mac("default", "virbr0") == "02:c9:cd:e6:f7:aa"


def test_a_created_bridge_gets_the_derived_mac_set(netc, tmp_path):
    result = netc("apply", lab_file(tmp_path))
    assert result.code == 0 and "bridge brlab (created)" in result.out, result.err
    assert mac_of(netc.ns, "brlab") == (LAB_MAC, NET_ADDR_SET)


def vm_with_low_mac(ns: str, bridge: str = "brlab") -> None:
    """A VM starts whose port has the lowest MAC there is (its tap, as any port, joins the
    bridge); the port's peer stands for the VM."""
    nsrun(ns, "ip", "link", "add", "lowp", "address", LOW_MAC, "type", "veth", "peer", "lowvm")
    nsrun(ns, "ip", "link", "set", "lowp", "master", bridge, "up")
    nsrun(ns, "ip", "link", "set", "lowvm", "up")


def gateway_answers(guest) -> str:
    """The guest pings the gateway; returns the MAC its ARP cache holds for it."""
    nsrun(guest.ns, "busybox", "ping", "-c", "1", "-W", "2", "192.168.77.1")
    return nsrun(guest.ns, "ip", "neigh", "show", "192.168.77.1", "dev", "g0").split()[2]


def test_users_day_a_vm_with_a_low_mac_comes_and_goes(netc, guest, tmp_path):
    """The gateway keeps its MAC while another VM starts and stops: the guest's cached ARP entry
    stays right and it reaches the gateway every time (without a MAC of its own the bridge took
    the low MAC, the guest learnt it, and lost the gateway when that VM stopped)."""
    result = netc("apply", lab_file(tmp_path))
    assert result.code == 0, result.err

    vm_with_low_mac(netc.ns)  # a VM that sorts first is already running
    assert mac_of(netc.ns, "brlab") == (LAB_MAC, NET_ADDR_SET)
    guest.attach()  # the guest starts: DHCP, then traffic to the gateway
    assert guest.lease().startswith("192.168.77.")
    assert gateway_answers(guest) == LAB_MAC

    nsrun(netc.ns, "ip", "link", "del", "lowp")  # the low VM stops
    assert mac_of(netc.ns, "brlab") == (LAB_MAC, NET_ADDR_SET)
    assert gateway_answers(guest) == LAB_MAC  # its cached entry still reaches the gateway

    vm_with_low_mac(netc.ns)  # and starts again
    assert mac_of(netc.ns, "brlab") == (LAB_MAC, NET_ADDR_SET)
    assert gateway_answers(guest) == LAB_MAC
    assert guest.lease().startswith("192.168.77.")  # DHCP (renewal) still answered

    nsrun(netc.ns, "ip", "link", "del", "lowp")
    guest.detach()
    result = netc("down", lab_file(tmp_path))
    assert result.code == 0 and "bridge brlab deleted" in result.out, result.err


def test_the_same_mac_after_down_and_apply_and_after_a_reboot(netc, tmp_path):
    lab = lab_file(tmp_path)
    assert netc("apply", lab).code == 0
    assert mac_of(netc.ns, "brlab") == (LAB_MAC, NET_ADDR_SET)
    assert netc("down", lab).code == 0
    assert netc("apply", lab).code == 0
    assert mac_of(netc.ns, "brlab") == (LAB_MAC, NET_ADDR_SET)

    # Reboot (simulated): the rules, the bridge and its dnsmasq are gone, the state stays.
    nsrun(netc.ns, "nft", "flush", "ruleset")
    nsrun(netc.ns, "ip", "link", "del", "brlab")
    kill_dnsmasq(netc.ns)
    result = netc("restore", "--bridges")  # the boot unit's command
    assert result.code == 0 and "bridge brlab (created again, netc's)" in result.out, result.err
    assert mac_of(netc.ns, "brlab") == (LAB_MAC, NET_ADDR_SET)
    assert netc("down", lab).code == 0


def test_a_bridge_netc_did_not_create_keeps_its_mac(netc, tmp_path):
    """The admin's (or libvirt's) bridge is used as it is: apply and down leave its MAC, and
    whether the kernel picks it, alone."""
    nsrun(netc.ns, "ip", "link", "add", "brlab", "type", "bridge")
    before = mac_of(netc.ns, "brlab")
    assert before[1] == NET_ADDR_RANDOM
    lab = lab_file(tmp_path)
    result = netc("apply", lab)
    assert result.code == 0 and "bridge brlab (created)" not in result.out, result.err
    assert mac_of(netc.ns, "brlab") == before
    assert netc("apply", lab).code == 0  # a re-apply neither
    assert mac_of(netc.ns, "brlab") == before
    assert netc("down", lab).code == 0
    assert mac_of(netc.ns, "brlab") == before

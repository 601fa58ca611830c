"""The shipped systemd units: installed into a temporary root, checked by `systemd-analyze verify`.

`systemd-analyze verify` only warns (exit 0) about an unknown key or a bad `Type=`, and it looks
up every unit ours name (After=, WantedBy=, ...) on the machine's unit path. So the check runs
with SYSTEMD_UNIT_PATH pointing at a directory of stubs, one per referenced unit and default
dependency, made here: then the result does not depend on what the machine has installed, and
any line systemd prints at all is a failure. The check is shown to catch broken units.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess

import pytest

from netc.cli import main
from netc.host import systemd_units

ANALYZE = shutil.which("systemd-analyze")
DEPENDENCIES = re.compile(
    r"^(After|Before|Wants|Requires|PartOf|ReloadPropagatedFrom|Conflicts|WantedBy)=(.*)$", re.M
)
DEFAULT_DEPENDENCIES = ("sysinit.target", "basic.target", "shutdown.target")


def need_analyze() -> None:
    if ANALYZE is None:
        if os.environ.get("CI"):
            pytest.fail("systemd-analyze is missing (Debian package systemd)")
        pytest.skip("needs systemd-analyze (Debian package systemd)")


@pytest.fixture
def fake_netc(tmp_path):
    """An executable file standing in for the installed netc (its path goes into ExecStart)."""
    path = tmp_path / "bin" / "netc"
    path.parent.mkdir()
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def run(*args: str, capsys) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


# The ordering lines of the units ours are placed among, as Debian 12 and libvirt 11 ship them
# (firewalld's from its upstream unit); every other referenced unit gets an empty stub.
REAL_ORDERING = {
    "basic.target": "Requires=sysinit.target\nAfter=sysinit.target\n",
    "multi-user.target": "Requires=basic.target\nAfter=basic.target\n",
    "network.target": "After=network-pre.target\n",
    "nftables.service": "DefaultDependencies=no\nWants=network-pre.target\n"
    "Before=network-pre.target shutdown.target\nConflicts=shutdown.target\n",
    "firewalld.service": "Before=network-pre.target\nWants=network-pre.target\n"
    "After=dbus.service polkit.service\nConflicts=nftables.service iptables.service\n",
    "systemd-networkd.service": "DefaultDependencies=no\nAfter=network-pre.target\n"
    "Before=network.target multi-user.target shutdown.target\nWants=network.target\n",
    "systemd-modules-load.service": "DefaultDependencies=no\nBefore=sysinit.target\n",
    "libvirtd.service": "After=network.target dbus.service local-fs.target remote-fs.target\n",
    "virtnetworkd.service": "After=network.target dbus.service\n",
}
BOOTS = {
    "nftables": "nftables.service",
    "firewalld": "firewalld.service dbus.service polkit.service",
}


def verify(
    paths: list[str], tmp_path, real: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """`systemd-analyze verify` of unit files against stubs of every unit they reference
    (with `real`, stubs that carry those units' real ordering lines)."""
    need_analyze()
    real = real or {}
    stubs = tmp_path / "stubs"
    stubs.mkdir(exist_ok=True)
    names = {os.path.basename(p) for p in paths}
    for text in [open(p, encoding="utf-8").read() for p in paths] + list(real.values()):
        for _, value in DEPENDENCIES.findall(text):
            names |= set(value.split())
    for name in sorted(names | set(DEFAULT_DEPENDENCIES) | set(real)):
        if any(os.path.basename(p) == name for p in paths):
            continue
        body = "[Unit]\nDescription=stub\n" + real.get(name, "DefaultDependencies=no\n")
        if name.endswith(".service"):
            body += "[Service]\nExecStart=/bin/true\n"
        (stubs / name).write_text(body)
    env = {**os.environ, "SYSTEMD_UNIT_PATH": str(stubs)}
    return subprocess.run(
        [ANALYZE, "verify", "--man=no", *paths], env=env, capture_output=True, text=True
    )


def test_install_writes_both_units_with_the_checked_path(tmp_path, fake_netc, capsys):
    root = tmp_path / "root"
    code, out, err = run(
        "units", "install", "--root", str(root), "--netc", fake_netc, capsys=capsys
    )
    assert code == 0, err
    unit_dir = root / "etc" / "systemd" / "system"
    assert sorted(os.listdir(unit_dir)) == sorted(systemd_units.UNITS)
    boot = (unit_dir / "netc-restore.service").read_text()
    reload_ = (unit_dir / "netc-firewall-reload.service").read_text()
    assert f"ExecStart={fake_netc} restore --bridges\n" in boot
    assert f"ExecStart={fake_netc} restore\n" in reload_
    assert "@NETC@" not in boot + reload_
    assert "Before=network-pre.target libvirtd.service virtnetworkd.service\n" in boot
    assert "ReloadPropagatedFrom=nftables.service firewalld.service\n" in reload_
    assert "WantedBy=nftables.service firewalld.service\n" in reload_
    assert f"wrote {unit_dir}/netc-restore.service\n" in out
    assert (
        f"systemctl --root={root} enable netc-restore.service netc-firewall-reload.service\n" in out
    )
    again = run("units", "install", "--root", str(root), "--netc", fake_netc, capsys=capsys)
    assert again[0] == 0 and f"unchanged: {unit_dir}/netc-restore.service\n" in again[1]


def test_installed_units_pass_systemd_analyze_verify(tmp_path, fake_netc, capsys):
    root = tmp_path / "root"
    assert run("units", "install", "--root", str(root), "--netc", fake_netc, capsys=capsys)[0] == 0
    unit_dir = root / "etc" / "systemd" / "system"
    result = verify([str(unit_dir / name) for name in systemd_units.UNITS], tmp_path)
    assert result.returncode == 0 and result.stderr == "", result.stderr


def boot(tmp_path, unit_dir, firewall: str) -> subprocess.CompletedProcess:
    """Verify a whole boot: a target wanting the firewall, networkd, libvirt and netc's units,
    among stubs with the real units' ordering; an ordering cycle is printed (and fails)."""
    target = tmp_path / f"boot-{firewall}.target"
    wanted = f"multi-user.target systemd-networkd.service libvirtd.service virtnetworkd.service"
    target.write_text(
        f"[Unit]\nDescription=boot\nWants={wanted} {BOOTS[firewall]} {' '.join(systemd_units.UNITS)}\n"
    )
    units = [str(unit_dir / name) for name in systemd_units.UNITS]
    return verify([str(target), *units], tmp_path, REAL_ORDERING)


@pytest.mark.parametrize("firewall", sorted(BOOTS))
def test_boot_ordering_has_no_cycle(tmp_path, fake_netc, capsys, firewall):
    root = tmp_path / "root"
    assert run("units", "install", "--root", str(root), "--netc", fake_netc, capsys=capsys)[0] == 0
    result = boot(tmp_path, root / "etc" / "systemd" / "system", firewall)
    assert result.returncode == 0 and result.stderr == "", result.stderr


def test_boot_ordering_check_catches_a_cycle(tmp_path, fake_netc):
    """netc-restore ordered before sysinit.target but after firewalld (which runs after dbus,
    after basic.target): systemd would break the cycle by dropping a job at boot."""
    unit_dir = tmp_path / "units"
    unit_dir.mkdir()
    for name in systemd_units.UNITS:
        text = systemd_units.render(name, fake_netc)
        if name == "netc-restore.service":
            text = text.replace(
                "Before=network-pre.target", "Before=sysinit.target network-pre.target"
            )
        (unit_dir / name).write_text(text)
    result = boot(tmp_path, unit_dir, "firewalld")
    assert "ordering cycle" in result.stderr


@pytest.mark.parametrize(
    "unit, old, new",
    [
        ("netc-restore.service", "Type=oneshot", "Type=oneshoot"),
        ("netc-firewall-reload.service", "PartOf=", "PartOff="),
        ("netc-restore.service", "[Service]", "[Servic]"),
        ("netc-firewall-reload.service", "ExecStart=/", "ExecStart=netc-not-absolute /"),
    ],
)
def test_verify_catches_a_broken_unit(tmp_path, fake_netc, unit, old, new):
    path = tmp_path / unit
    text = systemd_units.render(unit, fake_netc)
    assert old in text
    path.write_text(text.replace(old, new, 1))
    result = verify([str(path)], tmp_path)
    assert result.returncode != 0 or result.stderr != ""


def test_verify_catches_a_missing_executable(tmp_path, fake_netc):
    path = tmp_path / "netc-restore.service"
    path.write_text(systemd_units.render("netc-restore.service", fake_netc))
    os.unlink(fake_netc)
    result = verify([str(path)], tmp_path)
    assert result.returncode != 0 and "is not executable" in result.stderr


@pytest.mark.parametrize(
    "path, problem",
    [
        ("netc", "is not an absolute path"),
        ("/usr/bin/net c", "is not an absolute path"),
        ("/usr/bin/netc;reboot", "is not an absolute path"),
        ("/usr/bin/%n", "is not an absolute path"),
        ("/usr/bin/$NETC", "is not an absolute path"),
        ("/usr/../bin/netc", "is not an absolute path"),
        ("/nonexistent/netc", "is not an executable file"),
    ],
)
def test_bad_executable_is_refused_and_nothing_written(tmp_path, capsys, path, problem):
    root = tmp_path / "root"
    code, out, err = run("units", "install", "--root", str(root), "--netc", path, capsys=capsys)
    assert code == 2 and out == ""
    assert problem in err and "nothing was written" in err
    assert "Traceback" not in err
    assert not root.exists()


def test_a_directory_is_not_an_executable(tmp_path, capsys):
    code, out, err = run(
        "units", "install", "--root", str(tmp_path / "r"), "--netc", "/usr/bin", capsys=capsys
    )
    assert code == 2 and "is not an executable file" in err


def test_unwritable_root_is_a_clear_error(tmp_path, fake_netc, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory\n")
    code, out, err = run(
        "units", "install", "--root", str(blocker), "--netc", fake_netc, capsys=capsys
    )
    assert code == 2 and out == "" and "cannot write the units" in err


def test_show_prints_the_rendered_units(fake_netc, capsys):
    code, out, err = run("units", "show", "--netc", fake_netc, capsys=capsys)
    assert code == 0, err
    assert out.count("[Unit]") == 2 and f"ExecStart={fake_netc} restore --bridges" in out


def test_units_are_package_data():
    for name in systemd_units.UNITS:
        assert systemd_units.PLACEHOLDER in systemd_units.template(name)

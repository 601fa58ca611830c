"""Talking to libvirt's network driver: read, define, start and stop networks, through `virsh`.

Why virsh and not the libvirt-python binding: virsh is the interface libvirt users already have
(and what they would type to check netc's work); it ships with libvirt itself (libvirt-clients),
so its protocol always matches the daemon's. libvirt-python on PyPI is a source package that
compiles against libvirt's headers (libvirt-dev, pkg-config, a C compiler): a heavy, fragile
dependency for the handful of calls netc makes. One virsh process per call costs a few
milliseconds, nothing next to a network start.

Every call names the connection (`-c URI`, default `qemu:///system`, the same URI virsh takes):
a test points it at a private libvirtd's socket. virsh talks to the daemon over its unix socket,
so it runs wherever netc runs, whatever network namespace the networks live in.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from netc.diagnostics import Diagnostic, NetcError

from .run import require

DEFAULT_URI = "qemu:///system"
# libvirt's own rule for a network name is "no '/'"; netc takes names it can put in a file
# name and a .net file unquoted, which every name libvirt generates or documents satisfies.
NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")
# forward modes netc can firewall (libvirt adds rules for them); the rest hand guests to a
# physical device or leave the firewall to someone else already.
FIREWALLED = ("nat", "route", None)  # None: no <forward>, an isolated network


@dataclass(frozen=True, slots=True)
class NetworkInfo:
    name: str
    active: bool
    autostart: bool
    bridge: str | None


def check_name(name: str) -> str:
    """A libvirt network name netc can use in file names and generated text, or an error."""
    if not NAME.match(name):
        raise NetcError(
            Diagnostic(
                f"'{name}' is not a network name netc can adopt",
                hint="libvirt network names of letters, digits, '_', '.' and '-' "
                "(at most 64, not starting with '.' or '-') are supported",
            )
        )
    return name


class Libvirt:
    """One libvirt connection (`virsh -c URI`)."""

    def __init__(self, uri: str | None = None):
        self.uri = uri or DEFAULT_URI

    def _virsh(self, *args: str) -> str:
        argv = [require("virsh"), "-q", "-c", self.uri, *args]
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        except subprocess.TimeoutExpired:
            raise NetcError(
                Diagnostic(f"`virsh {' '.join(args)}` did not answer within 120 s")
            ) from None
        if proc.returncode != 0:
            message = " ".join(proc.stderr.split()) or "(no message)"
            raise NetcError(
                Diagnostic(
                    f"`virsh -c {self.uri} {' '.join(args)}` failed: {message}",
                    hint="is libvirt's network daemon running, and is the URI (--connect) right?",
                )
            )
        return proc.stdout

    def names(self) -> list[str]:
        """Every defined or running network."""
        return [n for n in self._virsh("net-list", "--all", "--name").split() if n]

    def info(self, name: str) -> NetworkInfo:
        fields = {}
        for line in self._virsh("net-info", name).splitlines():
            key, _, value = line.partition(":")
            fields[key.strip()] = value.strip()
        return NetworkInfo(
            name,
            fields.get("Active") == "yes",
            fields.get("Autostart") == "yes",
            fields.get("Bridge") or None,
        )

    def xml(self, name: str, inactive: bool = False) -> str:
        """The live definition, or with `inactive` the persistent one (what the next start uses)."""
        return self._virsh("net-dumpxml", *(["--inactive"] if inactive else []), name)

    def define(self, xml: str) -> None:
        """Replace a network's persistent definition; a running network keeps its live one."""
        fd, path = tempfile.mkstemp(prefix="netc-net-", suffix=".xml")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(xml)
            self._virsh("net-define", path)
        finally:
            os.unlink(path)

    def start(self, name: str) -> None:
        self._virsh("net-start", name)

    def destroy(self, name: str) -> None:
        self._virsh("net-destroy", name)


DAEMONS = ("libvirtd", "virtnetworkd")


def running_in(netns: str | None) -> bool:
    """Whether libvirt's network daemon runs in this network namespace (None: netc's own).

    Read from /proc (the daemon's name and its network namespace), not by connecting: `netc
    migrate` takes no libvirt URI, and a daemon that runs but refuses us still counts.
    """
    target = f"/run/netns/{netns}" if netns else "/proc/self/ns/net"
    try:
        wanted = os.stat(target).st_ino
    except OSError:
        return False
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/comm", encoding="utf-8") as handle:
                if handle.read().strip() not in DAEMONS:
                    continue
            if os.stat(f"/proc/{pid}/ns/net").st_ino == wanted:
                return True
        except OSError:
            continue  # gone meanwhile, or not ours to look at
    return False


def forward_mode(xml: str) -> str | None:
    """The `<forward mode>` of a network definition (None: no <forward>, an isolated network)."""
    forward = ET.fromstring(xml).find("forward")
    if forward is None:
        return None
    return forward.get("mode", "nat")


def bridge_name(xml: str) -> str | None:
    bridge = ET.fromstring(xml).find("bridge")
    return bridge.get("name") if bridge is not None else None


def as_open(xml: str) -> str:
    """The definition with `<forward mode='open'/>` and everything else as it was.

    In open mode libvirt still creates the bridge, addresses it and runs dnsmasq (DHCP, DNS),
    but adds no firewall rule at all. The <nat> and device children only mean something to
    nat/route modes and go; uuid, mac, bridge, ips, dhcp, dns and port isolation stay.
    """
    root = ET.fromstring(xml)
    forward = root.find("forward")
    if forward is None:
        forward = ET.Element("forward")
        tags = [child.tag for child in root]
        root.insert(tags.index("name") + 1 if "name" in tags else 0, forward)
    for child in list(forward):
        forward.remove(child)
    forward.attrib.clear()
    forward.set("mode", "open")
    forward.tail = forward.tail or "\n  "
    return ET.tostring(root, encoding="unicode") + "\n"

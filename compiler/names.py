"""What a name may look like when it reaches emitted text.

Names end up inside nft scripts (as quoted interface names and inside chain names) and
iptables-restore lines. Rather than escaping, netc accepts only names that cannot change the
meaning of either script: no quotes, spaces, semicolons, braces, newlines, '#', wildcards ('+'
is a wildcard in iptables, '*' in nft) or non-ASCII. Checks return a problem description, or None.
"""

from __future__ import annotations

import re

IFNAMSIZ = 16  # Linux interface names are at most 15 bytes plus the terminating NUL
MAX_NETWORK_NAME = 64

_IFNAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\Z")
_NETWORK = re.compile(r"[A-Za-z][A-Za-z0-9_-]*\Z")


# The kernel refuses these names: "all" and "default" name the per-family sysctl defaults in
# /proc/sys/net/*/conf, and "lo" is the loopback device, never a guest bridge or uplink.
RESERVED_INTERFACES = {"all": "reserved by the kernel", "default": "reserved by the kernel"}
LOOPBACK = "lo"


def interface_problem(name: str) -> str | None:
    if not name:
        return "an interface name cannot be empty"
    if not name.isascii():
        return f"interface name {_quoted(name)} has non-ASCII characters"
    if len(name.encode()) >= IFNAMSIZ:
        return (
            f"interface name {_quoted(name)} is {len(name.encode())} bytes; "
            f"Linux allows at most {IFNAMSIZ - 1}"
        )
    if name in {".", ".."} or not _IFNAME.match(name):
        return (
            f"interface name {_quoted(name)} may only use letters, digits, '_', '.' and '-' "
            "and must not start with '.' or '-'"
        )
    if name in RESERVED_INTERFACES:
        return f"interface name {_quoted(name)} is {RESERVED_INTERFACES[name]}"
    if name == LOOPBACK:
        return "'lo' is the loopback device, not a bridge or uplink"
    return None


def _quoted(text: str) -> str:
    """Python's repr escapes control characters and quotes; enough for a message."""
    return repr(text) if len(text) <= 40 else repr(text[:40])[:-1] + "...'"


def network_problem(name: str) -> str | None:
    """Network names become parts of nft chain names (`fwd_in_NAME`), always behind a prefix, so
    any nft keyword is a fine network name; anything but letters, digits, '_' and '-' is not."""
    if not name.isascii() or not _NETWORK.match(name):
        return (
            f"network name {_quoted(name)} must start with a letter and use only letters, "
            "digits, '_' and '-'"
        )
    if len(name) > MAX_NETWORK_NAME:
        return f"network name {_quoted(name)} is longer than {MAX_NETWORK_NAME} characters"
    return None


_PATH = re.compile(r"[A-Za-z0-9_./+@:=-]+\Z")  # no ",": dnsmasq splits its options on it


def path_problem(path: str) -> str | None:
    if not path.isascii() or not _PATH.match(path):
        return f"{_quoted(path)} may only use letters, digits and _ . / + @ : = -"
    if len(path) > MAX_PATH:
        return f"{_quoted(path)} is longer than {MAX_PATH} characters"
    return None


MAX_PATH = 1024
_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)\Z")


def hostname_problem(name: str) -> str | None:
    """DHCP host names are DNS names (RFC 1123 labels); dnsmasq writes them into its hosts."""
    labels = name.split(".")
    if not name.isascii() or len(name) > 253 or not all(_LABEL.match(label) for label in labels):
        return (
            f"host name {_quoted(name)} must be a DNS name: labels of letters, digits and '-' "
            "separated by '.'"
        )
    return None

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


def interface_problem(name: str) -> str | None:
    if not name:
        return "an interface name cannot be empty"
    if not name.isascii():
        return f"interface name {name!r} has non-ASCII characters"
    if len(name.encode()) >= IFNAMSIZ:
        return f"interface name {name!r} is {len(name)} bytes; Linux allows at most {IFNAMSIZ - 1}"
    if name in {".", ".."} or not _IFNAME.match(name):
        return (
            f"interface name {name!r} may only use letters, digits, '_', '.' and '-' "
            "and must not start with '.' or '-'"
        )
    return None


def network_problem(name: str) -> str | None:
    if not name.isascii() or not _NETWORK.match(name):
        return (
            f"network name {name!r} must start with a letter and use only letters, digits, "
            "'_' and '-'"
        )
    if len(name) > MAX_NETWORK_NAME:
        return f"network name {name!r} is longer than {MAX_NETWORK_NAME} characters"
    return None


_PATH = re.compile(r"[A-Za-z0-9_./+@:,=-]+\Z")


def path_problem(path: str) -> str | None:
    if not path.isascii() or not _PATH.match(path):
        return f"{path!r} may only use letters, digits and _ . / + @ : , = -"
    return None

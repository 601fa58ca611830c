"""Running the firewall binaries and reading sysctls, on the host or inside a network namespace.

Every host operation takes an optional `netns`: tests (and careful admins) point netc at a
scratch namespace, and nothing then touches the machine's own. Binaries run through
`ip netns exec NAME`, which is how an admin would do it by hand; sysctls have no netlink
interface, so inside a namespace they are read and written by `sysctl` run the same way.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass

from netc.diagnostics import Diagnostic, NetcError

_PACKAGE = {
    "nft": "nftables",
    "iptables": "iptables",
    "ip": "iproute2",
    "sysctl": "procps",
}


@dataclass(frozen=True, slots=True)
class Result:
    returncode: int
    stdout: str
    stderr: str


def which(binary: str) -> str | None:
    """The binary's path on $PATH (None when missing); the PATH is read at call time."""
    return shutil.which(binary)


def require(binary: str) -> str:
    path = which(binary)
    if path is None:
        base = binary.split("-")[0].removesuffix("6")
        package = _PACKAGE.get(base, base)
        raise NetcError(
            Diagnostic(
                f"'{binary}' was not found in PATH",
                hint=f"install the '{package}' package, or choose another backend",
            )
        )
    return path


class Host:
    """Where commands run: the machine itself (`netns=None`) or one named network namespace."""

    def __init__(self, netns: str | None = None):
        self.netns = netns

    def __repr__(self) -> str:
        return f"Host(netns={self.netns!r})"

    def run(self, argv: list[str], input: str | None = None) -> Result:
        """Run a command; a missing binary is a NetcError, a failing one is returned."""
        full = [require(argv[0]), *argv[1:]]
        if self.netns is not None:
            full = [require("ip"), "netns", "exec", self.netns, *full]
        proc = subprocess.run(full, input=input, capture_output=True, text=True)
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def check(self, argv: list[str], input: str | None = None, what: str | None = None) -> str:
        """Run a command that must succeed; its stderr becomes the error message."""
        result = self.run(argv, input)
        if result.returncode != 0:
            raise NetcError(
                Diagnostic(
                    f"{what or ' '.join(argv)} failed: {_first_lines(result.stderr)}",
                    hint="nothing was changed by this step" if what else None,
                )
            )
        return result.stdout

    def read_sysctl(self, key: str) -> str | None:
        """The value of a sysctl, or None when the kernel has no such key (module not loaded)."""
        path = "/proc/sys/" + key.replace(".", "/")
        if self.netns is None:
            try:
                with open(path, encoding="ascii") as handle:
                    return handle.read().strip()
            except OSError:
                return None
        result = self.run(["sysctl", "-n", key])
        return result.stdout.strip() if result.returncode == 0 else None

    def write_sysctl(self, key: str, value: str) -> None:
        if self.netns is None:
            with open("/proc/sys/" + key.replace(".", "/"), "w", encoding="ascii") as handle:
                handle.write(value)
            return
        self.check(["sysctl", "-q", "-w", f"{key}={value}"])

    def namespace_exists(self) -> bool:
        return self.netns is None or os.path.exists(f"/run/netns/{self.netns}")


def _first_lines(text: str, limit: int = 6) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if len(lines) > limit:
        lines = lines[:limit] + [f"... ({len(lines) - limit} more lines)"]
    return "\n    ".join(lines) or "(no message)"

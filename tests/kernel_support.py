"""Shared helpers for tests that need root and network namespaces.

Such tests skip with a clear reason on a machine that cannot run them, except under CI (the
`CI` environment variable set), where a missing capability is a failure, not a skip.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
from typing import NoReturn

import pytest

_counter = itertools.count()


def kernel_unavailable() -> str | None:
    """Why kernel tests cannot run here, or None when they can."""
    if os.geteuid() != 0:
        return "needs root to create network namespaces"
    for tool in ("ip", "nft", "iptables-restore", "ip6tables-restore"):
        if shutil.which(tool) is None:
            return f"needs the '{tool}' binary (Debian packages iproute2, nftables, iptables)"
    name = unique_name("probe")
    try:
        subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True)
    except subprocess.CalledProcessError as err:
        return f"cannot create a network namespace: {err.stderr.decode().strip()}"
    subprocess.run(["ip", "netns", "del", name], capture_output=True)
    return None


def require_kernel() -> None:
    """Skip (or, under CI, fail) the calling test when namespaces are unavailable."""
    reason = _reason()
    if reason is not None:
        cannot_run(reason)


def require_br_netfilter() -> None:
    """Skip (under CI, fail) a test that needs the bridge's IP hooks when br_netfilter is absent.

    The module is global: loaded, every namespace has its `net.bridge.bridge-nf-call-*` sysctls.
    """
    require_kernel()
    if not br_netfilter_loaded():
        cannot_run("needs br_netfilter loaded (modprobe br_netfilter)")


def cannot_run(reason: str, what: str = "kernel test") -> NoReturn:
    """Skip the calling test for `reason`; under CI, where every test must run, fail it."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} cannot run under CI: {reason}")
    pytest.skip(reason)


def br_netfilter_loaded() -> bool:
    return os.path.isdir("/proc/sys/net/bridge")


_cached: list[str | None] = []


def _reason() -> str | None:
    if not _cached:
        _cached.append(kernel_unavailable())
    return _cached[0]


def unique_name(tag: str) -> str:
    """A namespace name no other test or process uses: netc-<tag>-<pid>-<n> (≤ 32 chars)."""
    return f"netc-{tag}-{os.getpid()}-{next(_counter)}"[:32]


def nsrun(ns: str, *argv: str, input: str | None = None, check: bool = True) -> str:
    """Run a command inside namespace `ns`; returns stdout, raises with stderr on failure."""
    proc = subprocess.run(
        ["ip", "netns", "exec", ns, *argv], input=input, capture_output=True, text=True
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed in {ns}: {proc.stderr.strip()}")
    return proc.stdout


@pytest.fixture
def scratch_ns():
    """A fresh, empty network namespace, deleted afterwards whatever happens."""
    require_kernel()
    name = unique_name("scr")
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        delete_namespace(name)


def delete_namespace(name: str) -> None:
    """Delete a namespace and end the processes still in it (a dnsmasq `netc apply` started
    would otherwise keep the namespace, and itself, alive after the test)."""
    pids = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True).stdout
    for pid in pids.split():
        subprocess.run(["kill", pid], capture_output=True)
    subprocess.run(["ip", "netns", "del", name], capture_output=True)

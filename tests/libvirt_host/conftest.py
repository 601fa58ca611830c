"""Fixtures for tests against a real libvirtd (see libvirt_lab.py); one lab per test."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
from libvirt_lab import Lab, unavailable

from kernel_support import require_kernel


def require_libvirt() -> None:
    """Skip (or, under CI, fail) when root, namespaces or libvirt's binaries are missing."""
    require_kernel()
    reason = unavailable()
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"libvirt test cannot run under CI: {reason}")
    pytest.skip(reason)


@pytest.fixture
def make_lab(tmp_path) -> Iterator[Callable[[str], Lab]]:
    """A factory: `make_lab("nftables")` runs a lab with that libvirt firewall backend."""
    require_libvirt()
    labs: list[Lab] = []

    def make(backend: str) -> Lab:
        root = tmp_path / f"lab-{len(labs)}"
        root.mkdir()
        lab = Lab(str(root), backend)
        labs.append(lab)
        return lab.up()

    try:
        yield make
    finally:
        for lab in labs:
            lab.down()

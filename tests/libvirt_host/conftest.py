"""Fixtures for tests against a real libvirtd (see libvirt_lab.py); one lab per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from libvirt_lab import Lab, unavailable

from kernel_support import cannot_run, require_kernel


def require_libvirt() -> None:
    """Skip (or, under CI, fail) when root, namespaces or libvirt's binaries are missing."""
    require_kernel()
    reason = unavailable()
    if reason is not None:
        cannot_run(reason, "libvirt test")


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

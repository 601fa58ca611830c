"""Fixtures for tests that need the libvirt-like topology (see `topology.py`)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest

from kernel_support import require_kernel

from .topology import Shape, Topology, topology


@pytest.fixture
def make_topology() -> Iterator[Callable[..., Topology]]:
    """A factory: `make_topology(Shape(...), tag="x")` builds a topology, removed after the test.

    Several may be built in one test (e.g. one per backend, since conntrack state outlives a
    ruleset swap); every one is removed at teardown, even when the test or a build fails.
    """
    require_kernel()
    with ExitStack() as stack:
        yield lambda shape=Shape(), tag="topo": stack.enter_context(topology(shape, tag))


@pytest.fixture
def topo(make_topology: Callable[..., Topology]) -> Topology:
    """The default shape: virbr0 with 192.168.122.1/24 and 2001:db8:ca2:2::1/64, bridge-nf on."""
    return make_topology()


def pytest_terminal_summary(terminalreporter) -> None:
    """One line per behaviour run (scenario × backend): wall time and the slowest probe."""
    behaviour = sys.modules.get(f"{__package__}.test_behaviour")
    runs = getattr(behaviour, "_RUNS", {})
    if not runs:
        return
    terminalreporter.section("kernel behaviour runs")
    for (scenario, backend, mutant), run in sorted(runs.items()):
        backend = f"{backend}~{mutant}" if mutant else backend
        if isinstance(run, Exception):
            terminalreporter.write_line(f"{scenario:16} {backend:36} error: {run}")
            continue
        slowest = max(run.outcomes.values(), key=lambda o: o.ms)
        terminalreporter.write_line(
            f"{scenario:16} {backend:36} {run.seconds:5.2f} s  "
            f"({len(run.outcomes)} probes, slowest {slowest.ms} ms)"
        )

"""Load a `.net` source's rules into a topology's host namespace, on each backend.

Why per-backend topologies: conntrack state (NAT bindings, established entries) outlives a
ruleset swap, so every backend gets fresh namespaces rather than a reload.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from netc.pipeline import compile_sources, emit
from netc.ir.intents import Intent

from kernel.topology import Topology

# nft; iptables through the nf_tables compatibility layer; iptables-legacy (xtables).
BACKENDS = ("nft", "iptables-nft", "iptables-legacy")


def load(
    topo: Topology, source: str, backend: str, drop: Callable[[Intent], bool] | None = None
) -> None:
    """Compile `source` and load it into the host namespace with `backend`.

    `drop` removes intents before emitting: a mutant, to show a probe depends on that intent.
    """
    compiled = compile_sources([("test.net", source)])
    if drop is not None:
        kept = tuple(i for i in compiled.intents if not drop(i))
        assert len(kept) < len(compiled.intents), "the mutant drops nothing"
        compiled = dataclasses.replace(compiled, intents=kept)
    if backend == "nft":
        topo.run("host", "nft", "-f", "-", input=emit(compiled, "nft"))
        return
    flavour = backend.removeprefix("iptables-")
    for target in ("iptables", "ip6tables"):
        topo.run("host", f"{target}-{flavour}-restore", "--noflush", input=emit(compiled, target))


def explain(got: dict) -> str:
    """All outcomes, one per line, for an assertion message."""
    return "\n".join(f"  {role}: {outcome}" for (role, _), outcome in got.items())

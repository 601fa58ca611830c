"""Drive `probe.py` across a topology: servers in some roles, clients in others, verdicts joined.

Why the join: a client's failure alone does not prove the firewall stopped the traffic (the
answer could have been lost on the way back); "blocked" needs the server's log to be silent for
that probe's token too, and "ok" is only believed with the server's own account of the peer.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from .topology import Topology

PROBE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "probe.py")
PYTHON = (sys.executable, "-I", "-S", PROBE)


@dataclass(frozen=True, slots=True)
class Outcome:
    """One probe's verdict: the client's result and what the server logged for its token."""

    spec: str
    result: str
    logged: tuple[dict, ...]
    ms: int = 0  # how long the client took
    by: str | None = None  # who sent the ICMP error (or echo reply) the client got, if any

    @property
    def ok(self) -> bool:
        return self.result == "ok" and bool(self.logged)

    @property
    def blocked(self) -> bool:
        return self.result != "ok" and not self.logged

    @property
    def peer(self) -> str | None:
        """The source address the server saw (None if it saw nothing)."""
        return self.logged[0]["peer"] if self.logged else None

    @property
    def sport(self) -> int | None:
        """The source port the server saw (None if it saw nothing)."""
        return self.logged[0]["sport"] if self.logged else None

    def __str__(self) -> str:
        seen = f" seen {self.peer} port {self.sport}" if self.logged else " server saw nothing"
        by = f" (from {self.by})" if self.by else ""
        return f"{self.spec}: {self.result}{by} in {self.ms} ms;{seen}"


class Servers:
    """Probe servers running in some roles; `probe` runs clients and joins with the server logs."""

    def __init__(self, topo: Topology, logdir: str) -> None:
        self.topo = topo
        self.logdir = logdir
        self.procs: list[subprocess.Popen] = []

    def _log(self, role: str) -> str:
        return os.path.join(self.logdir, f"{role}.log")

    def start(self, listen: Mapping[str, Sequence[str]], wait: float = 5.0) -> None:
        """Start one server per role, listening on specs like "tcp/8080" or "icmp"; wait for all."""
        started = []
        for role, specs in listen.items():
            proc = self.topo.popen(
                role,
                *PYTHON,
                "serve",
                "--log",
                self._log(role),
                *specs,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            self.procs.append(proc)
            started.append((role, proc))
        for role, proc in started:
            sel = selectors.DefaultSelector()
            sel.register(proc.stdout, selectors.EVENT_READ)
            if not sel.select(wait) or proc.stdout.readline().strip() != "ready":
                proc.kill()
                raise RuntimeError(f"probe server in {role} did not start: {proc.stderr.read()}")
            sel.close()

    def stop(self) -> None:
        for proc in self.procs:
            proc.kill()
        for proc in self.procs:
            proc.wait()
            for stream in (proc.stdout, proc.stderr):
                if stream:
                    stream.close()
        self.procs.clear()

    def _logged(self) -> dict[str, list[dict]]:
        by_token: dict[str, list[dict]] = {}
        for name in os.listdir(self.logdir):
            with open(os.path.join(self.logdir, name), encoding="utf-8") as fh:
                for line in fh:
                    if not line.endswith("\n"):
                        break  # a line the server is still writing (read while waiting for it)
                    entry = json.loads(line)
                    by_token.setdefault(entry["token"], []).append(entry)
        return by_token

    def probe(
        self, clients: Mapping[str, Sequence[str]], timeout: float = 1.0
    ) -> dict[tuple[str, str], Outcome]:
        """Run each role's client specs (roles in parallel, specs in order); key (role, spec)."""
        running = [
            (
                role,
                self.topo.popen(
                    role,
                    *PYTHON,
                    "client",
                    "--timeout",
                    str(timeout),
                    *specs,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                ),
            )
            for role, specs in clients.items()
        ]
        reports = []
        for role, proc in running:
            out, err = proc.communicate(timeout=30)
            if proc.returncode != 0:
                raise RuntimeError(f"probe client in {role} failed: {err.strip()}")
            reports += [(role, json.loads(line)) for line in out.splitlines()]
        logged = self._logged()
        # An echo reply comes from the kernel, not from the server, so a client may see it
        # before the server has logged the request (TCP/UDP answers are sent after logging).
        # The request is already queued on the server's raw socket: wait for the log briefly.
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline and any(
            r["result"] == "ok" and r["token"] not in logged for _, r in reports
        ):
            time.sleep(0.01)
            logged = self._logged()
        return {
            (role, r["spec"]): Outcome(
                r["spec"], r["result"], tuple(logged.get(r["token"], ())), r["ms"], r.get("by")
            )
            for role, r in reports
        }


@contextmanager
def servers(topo: Topology, listen: Mapping[str, Sequence[str]]) -> Iterator[Servers]:
    """Probe servers for `listen` ({role: ["tcp/8080", ...]}), stopped whatever happens."""
    with tempfile.TemporaryDirectory(prefix="netc-probe-") as logdir:
        running = Servers(topo, logdir)
        try:
            running.start(listen)
            yield running
        finally:
            running.stop()

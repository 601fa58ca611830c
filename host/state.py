"""What netc applied, with which backend: one small JSON file, replaced atomically.

The state is what lets `down` remove exactly what `apply` added (the bridges it created, the
addresses it set, the sysctls it changed, the iptables-nft tables its load created) and lets
`status` tell drift from intent: it keeps the source texts that were applied, so the remaining
networks can be recompiled when one file goes down, and the listing of netc's live rules right
after loading, to compare with the kernel later.

Default location `/var/lib/netc/state.json`; `--state-dir` or `NETC_STATE_DIR` move it. A run
against a network namespace keeps its own file (`state@NETNS.json`) so it can never be
mistaken for the host's.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field

from netc.diagnostics import Diagnostic, NetcError

DEFAULT_DIR = "/var/lib/netc"
ENV = "NETC_STATE_DIR"
VERSION = 1


@dataclass(frozen=True, slots=True)
class FlaggedPort:
    """A bridge port whose `isolated` flag netc turned on (it was off): `down` turns it off.

    The ifindex tells the port apart from a later one with the same name (guests restart).
    """

    name: str
    index: int


@dataclass(frozen=True, slots=True)
class NetworkState:
    name: str
    bridge: str
    file: str
    created: bool  # netc created the bridge (and deletes it on down)
    addresses: tuple[str, ...]  # addresses netc added ("192.168.122.1/24")
    was_up: bool  # the link was already up before netc (down leaves it up)
    isolate: bool = False  # `isolate guests`: every port of the bridge needs the isolated flag
    flagged: tuple[FlaggedPort, ...] = ()  # ports whose isolated flag netc set


@dataclass(frozen=True, slots=True)
class State:
    backend: str  # "nftables" | "iptables"
    sources: dict[str, str]  # file path -> text that was applied
    networks: tuple[NetworkState, ...]
    sysctls: dict[str, str] = field(default_factory=dict)  # key -> value before netc changed it
    created_objects: tuple[str, ...] = ()  # iptables-nft tables and base chains netc created
    live: str = ""  # netc's rules as the kernel listed them right after loading

    def network(self, name: str) -> NetworkState | None:
        return next((n for n in self.networks if n.name == name), None)


def state_path(state_dir: str | None, netns: str | None) -> str:
    directory = state_dir or os.environ.get(ENV) or DEFAULT_DIR
    name = f"state@{netns}.json" if netns else "state.json"
    return os.path.join(directory, name)


def load_state(path: str) -> State | None:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        raise NetcError(
            Diagnostic(
                f"cannot read netc's state: {err}",
                hint="remove the file to start over (netc then knows nothing it applied)",
                file=path,
            )
        ) from None
    if data.get("version") != VERSION:
        raise NetcError(
            Diagnostic(f"state file version {data.get('version')!r} unknown", file=path)
        )
    return State(
        backend=data["backend"],
        sources=dict(data["sources"]),
        networks=tuple(_network(n) for n in data["networks"]),
        sysctls=dict(data.get("sysctls", {})),
        created_objects=tuple(data.get("created_objects", ())),
        live=data.get("live", ""),
    )


def _network(data: dict) -> NetworkState:
    flagged = tuple(FlaggedPort(**port) for port in data.get("flagged", ()))
    return NetworkState(**{**data, "addresses": tuple(data["addresses"]), "flagged": flagged})


def save_state(path: str, state: State | None) -> None:
    """Write (or, for None, remove) the state: a crash leaves the old file or the new one."""
    if state is None:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        return
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, mode=0o755, exist_ok=True)
    data = {"version": VERSION, **asdict(state)}
    fd, tmp = tempfile.mkstemp(prefix=".state-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise

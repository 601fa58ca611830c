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

import ipaddress
import json
import os
from dataclasses import asdict, dataclass, field, fields

from netc.diagnostics import Diagnostic, NetcError

from .files import write_atomic

DEFAULT_DIR = "/var/lib/netc"
ENV = "NETC_STATE_DIR"
VERSION = 1
BACKENDS = ("nftables", "iptables")


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
    hairpinned: tuple[FlaggedPort, ...] = ()  # ports whose hairpin_mode netc set (`expose`)
    # The bridge's ifindex when netc last set it up (0: not recorded). A bridge of the same name
    # with another index is someone else's, made after netc's was deleted: down leaves it alone.
    index: int = 0


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
    """The state at `path`, or None when there is none; a file that does not read back as the
    state netc writes is refused with what is wrong, never half acted on."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        return None
    except PermissionError:
        raise NetcError(
            Diagnostic(
                "permission denied reading netc's state",
                hint="host commands need root (or --state-dir DIR for a state of your own)",
                file=path,
            )
        ) from None
    except (OSError, ValueError) as err:
        raise _corrupt(path, f"cannot read netc's state: {err}") from None
    try:
        return _state(data)
    except (KeyError, TypeError, ValueError) as err:
        raise _corrupt(path, f"netc's state is damaged: {_what(err)}") from None


def _corrupt(path: str, message: str) -> NetcError:
    return NetcError(
        Diagnostic(
            message,
            hint=f"move it aside (mv {path} {path}.bad): netc then knows nothing it applied; "
            "remove its rules with `netc compile --remove FILE... | nft -f -` (or the iptables "
            "target) and re-apply your files",
            file=path,
        )
    )


def _what(err: Exception) -> str:
    if isinstance(err, KeyError):
        return f"no {err.args[0]!r}"
    return str(err)


def _state(data: object) -> State:
    """Check every field's type and value as netc writes it (a hand edit or a crash's debris)."""
    from .forwarding import IPV4, IPV6  # the only sysctls netc ever changes, or restores

    record = _mapping(data, "the state")
    unknown = sorted(set(record) - {"version", *(f.name for f in fields(State))})
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(map(repr, unknown))}")
    if record.get("version") != VERSION:
        raise ValueError(f"version {record.get('version')!r} unknown (this netc writes {VERSION})")
    backend = record["backend"]
    if backend not in BACKENDS:
        raise ValueError(f"backend {backend!r} is not one of {', '.join(BACKENDS)}")
    sources = _mapping(record["sources"], "sources")
    sysctls = _mapping(record.get("sysctls", {}), "sysctls")
    for key in sysctls:
        if key not in (IPV4, IPV6):
            raise ValueError(f"sysctl {key!r} is not one netc sets")
    for key, value in [*sources.items(), *sysctls.items()]:
        _text(key, "a key")
        _text(value, f"the value of {key!r}")
    if any(value not in ("0", "1", "2") for value in sysctls.values()):
        raise ValueError("a forwarding sysctl's recorded value is not 0, 1 or 2")
    objects = record.get("created_objects", [])
    if not isinstance(objects, list) or not all(isinstance(o, str) for o in objects):
        raise ValueError("created_objects is not a list of names")
    networks = record["networks"]
    if not isinstance(networks, list):
        raise ValueError("networks is not a list")
    return State(
        backend=backend,
        sources=dict(sources),
        networks=tuple(_network(n) for n in networks),
        sysctls=dict(sysctls),
        created_objects=tuple(objects),
        live=_text(record.get("live", ""), "live"),
    )


def _network(data: object) -> NetworkState:
    from netc.compiler.names import interface_problem, network_problem

    record = _mapping(data, "a network")
    name = _text(record["name"], "a network's name")
    unknown = sorted(set(record) - {f.name for f in fields(NetworkState)})
    if unknown:  # every field is read below: one this netc does not know is not its state
        raise ValueError(f"network {name!r}: unknown field(s) {', '.join(map(repr, unknown))}")
    problem = network_problem(name) or interface_problem(_text(record["bridge"], "a bridge"))
    if problem:
        raise ValueError(problem)
    flagged: list[FlaggedPort] = []
    hairpinned: list[FlaggedPort] = []
    for key, out in (("flagged", flagged), ("hairpinned", hairpinned)):
        for port in record.get(key, ()):
            entry = _mapping(port, "a flagged port")
            problem = interface_problem(_text(entry["name"], "a port"))
            if problem or not isinstance(entry["index"], int):
                raise ValueError(problem or f"port {entry['name']!r} has no ifindex")
            out.append(FlaggedPort(entry["name"], entry["index"]))
    addresses = record["addresses"]
    if not isinstance(addresses, list):
        raise ValueError(f"network {name!r}: addresses is not a list")
    for address in addresses:
        ipaddress.ip_interface(_text(address, "an address"))
    flags = {key: record.get(key, False) for key in ("created", "was_up", "isolate")}
    if not all(isinstance(value, bool) for value in flags.values()):
        raise ValueError(f"network {name!r}: created/was_up/isolate are not true or false")
    index = record.get("index", 0)
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise ValueError(f"network {name!r}: index is not an interface index")
    return NetworkState(
        name=name,
        bridge=record["bridge"],
        file=_text(record["file"], "a file"),
        created=flags["created"],
        addresses=tuple(addresses),
        was_up=flags["was_up"],
        isolate=flags["isolate"],
        flagged=tuple(flagged),
        hairpinned=tuple(hairpinned),
        index=index,
    )


def _mapping(value: object, what: str) -> dict:
    if not isinstance(value, dict):
        raise ValueError(f"{what} is not a JSON object")
    return value


def _text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} is not text")
    return value


def save_state(path: str, state: State | None) -> None:
    """Write (or, for None, remove) the state: a crash leaves the old file or the new one."""
    if state is None:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        return
    data = {"version": VERSION, **asdict(state)}
    write_atomic(path, json.dumps(data, indent=1, sort_keys=True) + "\n", mode=0o600)

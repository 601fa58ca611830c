"""`netc adopt` / `netc release`: netc runs a libvirt network's firewall, libvirt keeps the rest.

Adopting network NAME keeps the bridge, its addresses and dnsmasq (DHCP, DNS) libvirt's and moves
the firewall to netc:

1. read NAME's persistent and live XML (libvirt_daemon.py), refuse what netc cannot firewall;
2. write DIR/NAME.net (the libvirt importer's text) and load its rules through `apply` (the
   bridge exists, so apply neither creates nor re-addresses it);
3. redefine NAME's *persistent* definition with `<forward mode='open'/>`, everything else kept:
   libvirt adds no firewall rule at all for an open network, on any later start;
4. delete libvirt's live rules for NAME's bridge (libvirt_nft.py, libvirt_chains.py), keeping
   libvirt's shared tables/chains so it can start and stop every network afterwards;
5. keep the original XML (for `release`) in a record next to netc's state, and install a
   libvirt daemon hook (below).

Why this holds whatever libvirt does next (tried on libvirt 11.3, both firewall backends):
- `net-destroy` + `net-start`, and a boot with autostart, start the persistent (open)
  definition: libvirt adds no rule, netc's rules (matching the bridge by name) apply;
- the live definition stays `nat` until the network restarts (adopting does not restart it, so
  guests keep their connections). While it is, a restart of libvirt's daemon (virtnetworkd or
  libvirtd) re-adds libvirt's rules for it, and no network hook runs then. libvirt's *daemon*
  hook does run (`/etc/libvirt/hooks/daemon.d/*` with `- start - start`), but on libvirt 11.3
  before the network driver re-adds the rules, and the daemon waits for it. So our hook only
  starts a detached `netc adopt --reassert --wait`: it waits until the daemon answers a client
  (libvirt serves clients only once its drivers are initialised, firewall reload included), then
  deletes libvirt's rules for the adopted networks again. For that moment both parties' rules
  are live (they accept and masquerade the same guests; nothing is dropped). Restarting the
  network at a moment of the user's choice closes this window for good; `netc status` says
  whether it is still open.

Release is the inverse, ordered so that guests never lack NAT rules: the original definition
goes back, the network restarts (libvirt adds its rules while netc's are still loaded), then
netc's rules and (unless --keep) the .net file go.

Every step is undone if a later one fails, and the message says what to do.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from netc.diagnostics import Diagnostic, NetcError
from netc.ir.model import Network

from . import libvirt_chains, libvirt_nft
from .apply import apply_sources
from .down import _down
from .lifecycle import Report, Where, compile_stored
from .libvirt_daemon import FIREWALLED, Libvirt, as_open, check_name, forward_mode
from .files import write_atomic
from .run import Host

DEFAULT_DIR = "/etc/netc/networks"
DEFAULT_HOOKS = "/etc/libvirt/hooks"
HOOK_NAME = "netc"
# what may appear in the hook script: paths and names, nothing a shell would interpret
_SAFE = re.compile(r"^[A-Za-z0-9_./@:+,=-]+$")


@dataclass(frozen=True, slots=True)
class Adopted:
    """One adopted network: what `release` needs to give it back."""

    name: str
    uri: str
    file: str  # the .net file netc wrote (absolute)
    bridge: str
    original: str  # libvirt's persistent XML before adopt


def record_path(where: Where) -> str:
    state = where.state_file
    base = os.path.basename(state).replace("state", "libvirt", 1)
    return os.path.join(os.path.dirname(state), base)


def load_record(where: Where) -> dict[str, Adopted]:
    try:
        with open(record_path(where), encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as err:
        raise NetcError(
            Diagnostic(f"cannot read netc's libvirt record: {err}", file=record_path(where))
        ) from None
    return {item["name"]: Adopted(**item) for item in data["adopted"]}


def save_record(where: Where, record: dict[str, Adopted]) -> None:
    path = record_path(where)
    if not record:
        if os.path.exists(path):
            os.unlink(path)
        return
    _write_atomic(path, json.dumps({"adopted": [asdict(a) for a in record.values()]}, indent=1))


def _write_atomic(path: str, text: str, mode: int = 0o644) -> None:
    write_atomic(path, text if text.endswith("\n") else text + "\n", mode)


# -- adopt -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Plan:
    name: str
    original: str
    file: str
    text: str
    bridge: str


def adopt(
    names: Sequence[str],
    uri: str | None,
    directory: str | None,
    hooks: str | None,
    where: Where,
) -> Report:
    for name in names:
        check_name(name)
    with where.locked():
        return _adopt(names, Libvirt(uri), directory or DEFAULT_DIR, hooks or DEFAULT_HOOKS, where)


def _adopt(names: Sequence[str], lv: Libvirt, directory: str, hooks: str, where: Where) -> Report:
    from netc.libvirt import import_sources

    report = Report()
    host = where.host()
    record = load_record(where)
    plans: list[_Plan] = []
    for name in dict.fromkeys(names):
        if name in record:
            report.say(f"network {name}: already adopted")
            continue
        original = lv.xml(name, inactive=True)
        _refuse_unfit(name, original, lv)
        path = os.path.abspath(os.path.join(directory, f"{name}.net"))
        text = import_sources([(f"{name}.xml", original)]).text
        _refuse_foreign_file(path, text)
        plans.append(_Plan(name, original, path, text, lv.info(name).bridge or ""))
    _check_hook_args(where)
    if plans:
        _take_over(plans, lv, hooks, where, record, report)
    else:
        _install_hook(hooks, where)  # again, in case it was removed by hand
    for line in reassert(where, host, record=load_record(where)).lines:
        report.say(line)
    return report


def _refuse_unfit(name: str, xml: str, lv: Libvirt) -> None:
    mode = forward_mode(xml)
    if mode == "open":
        raise NetcError(
            Diagnostic(
                f"network {name} is already forward mode 'open': libvirt adds no rules for it "
                "and netc did not adopt it",
                hint="write its firewall as a .net file and `netc apply` it; nothing was changed",
            )
        )
    if mode not in FIREWALLED:
        raise NetcError(
            Diagnostic(
                f"network {name} is forward mode '{mode}': its guests are on a host device, "
                "not behind a firewall on a bridge, so there is nothing for netc to run",
                hint="only nat, route and isolated networks can be adopted; nothing was changed",
            )
        )
    if not lv.info(name).active:
        raise NetcError(
            Diagnostic(
                f"network {name} is not running: netc adopts a running network (libvirt owns "
                "its bridge, and netc never creates it)",
                hint=f"`virsh net-start {name}`, then adopt it; nothing was changed",
            )
        )


def _refuse_foreign_file(path: str, text: str) -> None:
    try:
        with open(path, encoding="utf-8") as handle:
            current = handle.read()
    except FileNotFoundError:
        return
    if current != text:
        raise NetcError(
            Diagnostic(
                "this file exists and is not what netc would write for the network",
                hint="move it away or choose another --dir; nothing was changed",
                file=path,
            )
        )


def _take_over(
    plans: list[_Plan],
    lv: Libvirt,
    hooks: str,
    where: Where,
    record: dict[str, Adopted],
    report: Report,
) -> None:
    """Files, rules, the hook, libvirt's definitions, the record: undone in reverse on failure."""
    written: list[str] = []
    defined: list[_Plan] = []
    applied = False
    if not os.path.exists(hook_path(hooks)):
        written.append(hook_path(hooks))
    try:
        for plan in plans:
            if not os.path.exists(plan.file):
                _write_atomic(plan.file, plan.text)
                written.append(plan.file)
            report.say(f"network {plan.name}: wrote {plan.file}")
        # the bridges are libvirt's: libvirt's dnsmasq keeps serving DHCP/DNS, netc starts none
        for line in apply_sources({p.file: p.text for p in plans}, where, None).lines:
            report.say(line)
        applied = True
        _install_hook(hooks, where)
        for plan in plans:
            lv.define(as_open(plan.original))
            defined.append(plan)
            report.say(
                f"network {plan.name}: libvirt's persistent definition is now forward mode "
                "'open' (bridge, addresses, DHCP and DNS stay libvirt's)"
            )
        for plan in plans:
            record[plan.name] = Adopted(plan.name, lv.uri, plan.file, plan.bridge, plan.original)
        save_record(where, record)
    except BaseException as err:
        undone = _roll_back(lv, where, written, defined, [p.file for p in plans] if applied else [])
        if isinstance(err, (NetcError, OSError)):
            message = (
                err.diagnostics[0].message
                if isinstance(err, NetcError)
                else f"cannot write {err.filename}: {err.strerror}"
            )
            raise NetcError(
                Diagnostic(
                    message, hint=f"adopting was undone ({undone}); fix the cause and run it again"
                )
            ) from err
        raise


def _roll_back(
    lv: Libvirt, where: Where, written: list[str], defined: list[_Plan], applied: list[str]
) -> str:
    done = []
    for plan in defined:
        lv.define(plan.original)
        done.append(f"{plan.name}'s definition restored")
    if applied and where.state() is not None:
        _down(applied, where)
        done.append("netc's rules removed")
    for path in written:
        if os.path.exists(path):
            os.unlink(path)
            done.append(f"{path} removed")
    return ", ".join(done) or "nothing had changed"


def reassert(where: Where, host: Host | None = None, record=None) -> Report:
    """Delete libvirt's live rules for every adopted network (never calling libvirt itself).

    Run by `adopt` and, through the daemon hook, after libvirt's daemon starts: while a network's
    live definition is still nat, a daemon restart puts libvirt's rules back.
    """
    report = Report()
    host = host or where.host()
    record = load_record(where) if record is None else record
    state = where.state()
    if not record or state is None:
        return report
    files = {a.file for a in record.values()}
    networks = [
        net
        for net in compile_stored(state.sources).program.networks
        if net.span.file in files and net.name in record
    ]
    if not networks:
        return report
    nft = libvirt_nft.find(host, networks, keep_shared=True)
    chains = libvirt_chains.find(host, networks, keep_shared=True)
    libvirt_nft.check(host, nft)
    libvirt_chains.check(host, chains)
    for line in libvirt_nft.remove(host, nft):
        report.say(f"removed libvirt's nft {line}")
    for line in libvirt_chains.remove(host, chains):
        report.say(f"removed libvirt's {line}")
    return report


def wait_for_libvirt(where: Where, timeout: float = 120.0) -> None:
    """Block until every adopted network's libvirt daemon answers (its reload is then done)."""
    import time

    deadline = time.monotonic() + timeout
    for uri in sorted({a.uri for a in load_record(where).values()}):
        while True:
            try:
                Libvirt(uri).names()
                break
            except NetcError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)


def adopted_networks(where: Where) -> list[Network]:
    state = where.state()
    record = load_record(where)
    if not record or state is None:
        return []
    return [
        n
        for n in compile_stored(state.sources).program.networks
        if n.name in record and n.span.file == record[n.name].file
    ]


# -- status and doctor ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AdoptedView:
    """One adopted network as `status` and `doctor` show it: a line, and problems with fixes."""

    line: str
    problems: tuple[tuple[str, str], ...]  # (problem, fix)


def views(where: Where, host: Host) -> list[AdoptedView]:
    record = load_record(where)
    networks = {n.name: n for n in adopted_networks(where)}
    out = []
    for name, adopted in record.items():
        problems: list[tuple[str, str]] = []
        lv = Libvirt(adopted.uri)
        try:
            info = lv.info(name)
            live = forward_mode(lv.xml(name)) if info.active else None
            persistent = forward_mode(lv.xml(name, inactive=True))
        except NetcError as err:
            problems.append(
                (
                    f"network {name}: libvirt does not answer: {err.diagnostics[0].message}",
                    "start libvirt's network daemon (virtnetworkd or libvirtd); netc's rules "
                    "stay loaded meanwhile",
                )
            )
            out.append(AdoptedView(f"network {name}: adopted from libvirt", tuple(problems)))
            continue
        net = networks.get(name)
        if net is None:
            problems.append(
                (
                    f"network {name} is adopted (libvirt adds no firewall rule for it), but "
                    f"netc's rules for it are not loaded (`netc down {adopted.file}`?): its "
                    "guests have no NAT and no filtering",
                    f"`netc apply {adopted.file}` loads them; `netc release {name}` gives the "
                    "network back to libvirt",
                )
            )
        held = 0
        if net is not None:
            held = len(libvirt_nft.find(host, [net], keep_shared=True).ours)
            held += len(libvirt_chains.find(host, [net], keep_shared=True).ours)
        running = f"running, live mode '{live}'" if info.active else "not running"
        line = (
            f"network {name}: adopted from libvirt; libvirt: {running}, next start "
            f"'{persistent}', rules libvirt holds for {adopted.bridge}: {held}"
        )
        if held:
            problems.append(
                (
                    f"network {name}: libvirt holds {held} rule(s) for {adopted.bridge} besides "
                    "netc's (its daemon restarted while the live definition was still nat)",
                    "`netc adopt --reassert` deletes them; restart the network when it suits "
                    f"you (`virsh net-destroy {name}; virsh net-start {name}`) so its live "
                    "definition is 'open' and libvirt adds none again",
                )
            )
        if persistent != "open":
            problems.append(
                (
                    f"network {name}: libvirt's definition is forward mode '{persistent}' again "
                    "(redefined since adopt): its next start adds libvirt's rules",
                    f"`netc release {name}`, then `netc adopt {name}`",
                )
            )
        elif info.active and live != "open" and not held:
            line += (
                "; the live definition stays nat until the network restarts (a daemon "
                "restart re-adds libvirt's rules for a moment; netc's hook deletes them)"
            )
        out.append(AdoptedView(line, tuple(problems)))
    return out


# -- the daemon hook -------------------------------------------------------------------------


def _hook_args(where: Where) -> list[str]:
    args = [sys.executable, "-m", "netc", "adopt", "--reassert", "--wait"]
    args += ["--state-dir", os.path.dirname(os.path.abspath(where.state_file))]
    if where.netns:
        args += ["--netns", where.netns]
    if where.config:
        args += ["--config", os.path.abspath(where.config)]
    return args


def _check_hook_args(where: Where) -> None:
    """Refuse, before anything changes, a value the hook script could not hold safely."""
    for value in _hook_args(where):
        if not _SAFE.match(value):
            raise NetcError(
                Diagnostic(
                    f"'{value}' cannot go into libvirt's hook script (it may contain only "
                    "letters, digits and . / _ @ : + , = -)",
                    hint="use a plainer path or namespace name; nothing was changed",
                )
            )


def hook_path(hooks: str) -> str:
    return os.path.join(hooks, "daemon.d", HOOK_NAME)


def hook_text(where: Where) -> str:
    command = " ".join(shlex.quote(arg) for arg in _hook_args(where))
    return (
        "#!/bin/sh\n"
        "# Written by `netc adopt`: when libvirt's daemon starts, it re-adds its firewall rules\n"
        "# for networks whose live definition is still nat. This starts, detached (the daemon\n"
        "# waits for its hooks), a netc that waits until the daemon answers and then deletes\n"
        "# them again for the networks netc adopted. Removed by the last `netc release`.\n"
        '[ "$2" = start ] || exit 0\n'
        f"setsid -f {command} </dev/null >/dev/null 2>&1\n"
    )


def _install_hook(hooks: str, where: Where) -> None:
    _write_atomic(hook_path(hooks), hook_text(where), 0o755)


# -- release ---------------------------------------------------------------------------------


def release(
    names: Sequence[str], keep: bool, hooks: str | None, where: Where, uri: str | None = None
) -> Report:
    for name in names:
        check_name(name)
    with where.locked():
        return _release(names, keep, hooks or DEFAULT_HOOKS, where, uri)


def _release(names: Sequence[str], keep: bool, hooks: str, where: Where, uri: str | None) -> Report:
    report = Report()
    record = load_record(where)
    unknown = [n for n in names if n not in record]
    if unknown:
        raise NetcError(
            Diagnostic(
                f"not adopted: {', '.join(unknown)}",
                hint="`netc status` lists the adopted networks; nothing was changed",
            )
        )
    for name in dict.fromkeys(names):
        adopted = record[name]
        lv = Libvirt(uri or adopted.uri)
        lv.define(adopted.original)
        report.say(f"network {name}: libvirt's original definition restored")
        try:
            if lv.info(name).active:
                lv.destroy(name)
            lv.start(name)
        except NetcError as err:
            lv.define(as_open(adopted.original))
            raise NetcError(
                Diagnostic(
                    err.diagnostics[0].message,
                    hint=f"network {name} is still adopted (its definition is 'open' again and "
                    "netc's rules are loaded); fix the cause and run `netc release` again",
                )
            ) from err
        report.say(f"network {name}: restarted by libvirt, which loaded its own rules for it")
        state = where.state()
        if state is not None and adopted.file in state.sources:
            for line in _down([adopted.file], where).lines:
                report.say(line)
        if not keep and os.path.exists(adopted.file):
            os.unlink(adopted.file)
            report.say(f"network {name}: removed {adopted.file}")
        del record[name]
        save_record(where, record)
    if not record and os.path.exists(hook_path(hooks)):
        os.unlink(hook_path(hooks))
        report.say(f"removed libvirt hook {hook_path(hooks)} (no adopted network left)")
    return report

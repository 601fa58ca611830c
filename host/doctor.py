"""`netc doctor`: find what outside netc will override netc's rules, and say how to fix it.

An accept is final only within one table: a packet crosses every base chain on its hook, so a
drop anywhere else still drops it. This is libvirt users' most frequent breakage after the
nftables switch: Docker sets iptables `FORWARD` policy DROP (guests lose the outside), a host
firewall's input policy drops guests' DHCP and DNS. doctor reads the live ruleset (`nft -j list
ruleset`, and iptables-legacy's tables when there are any) and the sysctls, and prints one
finding per problem with the concrete fix. On a clean host it prints nothing. It also finds
libvirt's own rules for netc's bridges, nft or iptables (a second firewall for the same guests).
"""

from __future__ import annotations

import re

from collections.abc import Sequence
from dataclasses import dataclass

from netc.ir.model import Network

from . import forwarding, iptables_save, libvirt_leftovers
from .backends import available, make_backend
from .lifecycle import Where, compile_stored, read_files
from .nft_json import nft_items
from .run import Host, which

BR_NF = {
    "ipv4": "net.bridge.bridge-nf-call-iptables",
    "ipv6": "net.bridge.bridge-nf-call-ip6tables",
}
_IPTABLES_NFT_TABLES = {"filter", "nat", "mangle", "raw", "security"}


@dataclass(frozen=True, slots=True)
class Finding:
    problem: str
    fix: str


@dataclass(frozen=True, slots=True)
class _BaseChain:
    family: str
    table: str
    name: str
    hook: str
    policy: str
    rules: tuple[tuple[dict, ...], ...]  # each rule's statements (nft JSON)

    @property
    def iptables(self) -> bool:
        """Managed by iptables-nft (fix it with the iptables command, not nft)."""
        return self.table in _IPTABLES_NFT_TABLES and self.name.isupper()

    @property
    def where(self) -> str:
        return f"{self.family} {self.table} {self.name}"


def doctor(files: Sequence[str], where: Where) -> list[Finding]:
    host = where.host()
    state = where.state()
    sources = read_files(files) if files else (dict(state.sources) if state else {})
    networks = compile_stored(sources).program.networks if sources else ()
    bridges = [n.bridge for n in networks] or ["virbr0"]
    findings: list[Finding] = []
    chains = _nft_base_chains(host) + _legacy_base_chains(host)
    forward_drops = []
    for chain in chains:
        if _handled(chain, bridges):
            continue
        drop = chain.policy == "drop" or any(_drops_guests(rule, bridges) for rule in chain.rules)
        if not drop:
            continue
        what = "policy drop" if chain.policy == "drop" else "a drop/reject rule"
        if chain.hook == "forward":
            forward_drops.append(chain)
            findings.append(
                Finding(
                    f"{chain.where} (hook forward) has {what}: it drops guest traffic that "
                    "netc's rules accept (an accept is final only within its own table)",
                    _forward_fix(chain, bridges),
                )
            )
        elif chain.hook == "input":
            findings.append(
                Finding(
                    f"{chain.where} (hook input) has {what}: guests' DHCP and DNS requests to "
                    "the host are dropped",
                    _input_fix(chain, bridges),
                )
            )
    for family, key in BR_NF.items():
        hit = [
            c for c in forward_drops if c.family in ("inet", "ip" if family == "ipv4" else "ip6")
        ]
        if hit and host.read_sysctl(key) == "1":
            findings.append(
                Finding(
                    f"{key} = 1 (br_netfilter): traffic between guests on the same bridge "
                    f"also passes the forward hook, so {hit[0].where} drops it too",
                    f"the fix above covers it; or `sysctl -w {key}=0` if nothing on this "
                    "host (Docker, Kubernetes) needs bridged traffic filtered",
                )
            )
    from .libvirt_adopt import load_record, views

    adopted = load_record(where) if not files else {}
    for view in views(where, host) if adopted else ():
        findings += [Finding(problem, fix) for problem, fix in view.problems]
    findings += _libvirt_checks(
        host,
        [n for n in networks if n.name not in adopted],
        state.backend if state else None,
        files,
    )
    if state is not None:
        findings += _applied_checks(host, state, networks)
    findings += _isolation_checks(where.netns, networks)
    if state is not None:
        findings += _server_conflicts(host, where, state, networks)
    return findings


_SERVER_PORTS = {"53": "DNS", "67": "DHCP", "547": "DHCPv6"}


def _server_conflicts(
    host: Host, where: Where, state, networks: Sequence[Network]
) -> list[Finding]:
    """Another DNS/DHCP server on port 53/67/547 bound to all addresses or to a bridge netc
    serves: its answers race netc's dnsmasq (or it keeps dnsmasq from binding at all)."""
    from . import dnsmasq

    served = [
        n
        for n in networks
        if dnsmasq.serves(n) and (owned := state.network(n.name)) is not None and owned.created
    ]
    if not served or which("ss") is None:
        return []
    directory = dnsmasq.directory_for(where.state_file)
    ours = {dnsmasq.running_pid(dnsmasq.Server(directory, n.name)) for n in served}
    result = host.run(["ss", "-H", "-lunp"])
    findings = []
    for line in result.stdout.splitlines() if result.returncode == 0 else ():
        fields = line.split()
        if len(fields) < 5:
            continue
        local, process = fields[3], " ".join(fields[5:])
        address, _, port = local.rpartition(":")
        if port not in _SERVER_PORTS:
            continue
        address, _, device = address.partition("%")
        pids = {int(p) for p in re.findall(r"pid=(\d+)", process)}
        if pids and pids <= ours:
            continue
        names = re.findall(r'"([^"]+)"', process) or ["an unknown process"]
        for net in served:
            addresses = {str(s.gateway.ip) for s in net.subnets}
            wildcard = address in ("0.0.0.0", "*", "[::]") and device in ("", net.bridge)
            if wildcard or address.strip("[]") in addresses:
                findings.append(
                    Finding(
                        f"{names[0]} (pid {', '.join(map(str, sorted(pids))) or '?'}) listens "
                        f"on UDP {local} ({_SERVER_PORTS[port]}): it answers guests of network "
                        f"{net.name} on {net.bridge} beside netc's dnsmasq",
                        f"stop it, or bind it to its own interfaces only (dnsmasq: "
                        f"`bind-dynamic` with `except-interface={net.bridge}`)",
                    )
                )
    return findings


def _isolation_checks(netns: str | None, networks: Sequence[Network]) -> list[Finding]:
    """`isolate guests` holds only while every port of the bridge has the `isolated` flag."""
    from .port_isolation import unisolated_ports

    findings = []
    for net in networks:
        loose = unisolated_ports(netns, net.bridge) if net.isolate_guests else []
        if loose:
            findings.append(
                Finding(
                    f"network {net.name} isolates guests, but port(s) {', '.join(loose)} of "
                    f"{net.bridge} lack the isolated flag: their guests reach the other guests "
                    "(the IP rules stop that only while br_netfilter is on)",
                    "`netc apply` flags them; in libvirt put `<port isolated='yes'/>` in the "
                    "network XML (or the guest interface's XML) so new ports get it at once",
                )
            )
    return findings


def _libvirt_checks(
    host: Host, networks: Sequence[Network], backend: str | None, files: Sequence[str]
) -> list[Finding]:
    """libvirt's rules for the same bridges (nft or iptables): a second firewall for the guests."""
    target = " ".join(
        [f"netc migrate --to {backend or 'nftables'}", *(files if not backend else ())]
    )
    return [
        Finding(stale.text(), stale.fix(target)) for stale in libvirt_leftovers.find(host, networks)
    ]


def _applied_checks(host: Host, state, networks: Sequence[Network]) -> list[Finding]:
    findings = []
    for key in forwarding.needed(networks):
        if host.read_sysctl(key) != "1":
            findings.append(
                Finding(
                    f"{key} is off: networks that forward cannot reach anything",
                    f"`sysctl -w {key}=1` (netc apply sets it), and find what turned it off",
                )
            )
    backend = make_backend(state.backend, host)
    if available(backend) and not backend.present():
        findings.append(
            Finding(
                f"netc's rules are missing from {state.backend} (`nft flush ruleset`, or a "
                "firewall service restart, removes them)",
                "`netc restore` puts them back; make the service that flushes run before netc",
            )
        )
    return findings


def _nft_base_chains(host: Host) -> list[_BaseChain]:
    if which("nft") is None:
        return []
    items = nft_items(host, ["list", "ruleset"])
    rules: dict[tuple[str, str, str], list[tuple[dict, ...]]] = {}
    for kind, body in items:
        if kind == "rule":
            key = (body["family"], body["table"], body["chain"])
            rules.setdefault(key, []).append(tuple(body.get("expr", ())))
    out = []
    for kind, body in items:
        if kind != "chain" or body.get("hook") not in ("forward", "input"):
            continue
        if (body["family"], body["table"]) == ("inet", "netc") or body.get("type") != "filter":
            continue
        if body["family"] not in ("ip", "ip6", "inet"):
            continue
        key = (body["family"], body["table"], body["name"])
        table_rules = {c: r for (f, t, c), r in rules.items() if (f, t) == key[:2]}
        expanded = _expand(table_rules, body["name"], set())
        out.append(_BaseChain(*key, body["hook"], body.get("policy", "accept"), expanded))
    return out


def _expand(
    rules: dict[str, list[tuple[dict, ...]]], chain: str, seen: set[str]
) -> tuple[tuple[dict, ...], ...]:
    """A chain's rules with jumps into user chains replaced by those chains' rules, in place.

    Close enough for finding drops and accepts: Docker's fix goes into DOCKER-USER, which
    FORWARD jumps to. netc's own jumps (NETC_*) are kept as they are.
    """
    out: list[tuple[dict, ...]] = []
    for rule in rules.get(chain, ()):
        target = next((s["jump"].get("target") for s in rule if "jump" in s), None)
        if target and not str(target).startswith("NETC_") and target not in seen:
            if _verdict(rule) == "jump" and not _interfaces(rule):
                out += _expand(rules, target, seen | {chain})
                continue
        out.append(rule)
    return tuple(out)


def _legacy_base_chains(host: Host) -> list[_BaseChain]:
    """iptables-legacy's filter tables are invisible to nft; read them with iptables-legacy-save."""
    out = []
    for tool, family in (("iptables-legacy-save", "ip"), ("ip6tables-legacy-save", "ip6")):
        if which(tool) is None:
            continue
        result = host.run([tool])
        table = iptables_save.parse(result.stdout).get("filter") if result.returncode == 0 else None
        if table is None:
            continue
        for name, hook in (("FORWARD", "forward"), ("INPUT", "input")):
            chain = table.chain(name)
            if chain is None:
                continue
            by_chain: dict[str, list[tuple[dict, ...]]] = {}
            for rule in table.rules:
                by_chain.setdefault(rule.chain, []).append(_legacy_rule(rule))
            rules = _expand(by_chain, name, set())
            out.append(
                _BaseChain(family, "filter (legacy)", name, hook, chain.policy.lower(), rules)
            )
    return out


def _legacy_rule(rule: iptables_save.Rule) -> tuple[dict, ...]:
    """An iptables rule in the nft JSON shape the checks read (interfaces and verdict only)."""
    import shlex

    tokens = shlex.split(rule.spec)
    out: list[dict] = []
    for flag, value in zip(tokens, tokens[1:]):
        if flag in ("-i", "-o"):
            key = "iifname" if flag == "-i" else "oifname"
            out.append({"match": {"op": "==", "left": {"meta": {"key": key}}, "right": value}})
        if flag == "-m" and value in ("conntrack", "state"):
            out.append({"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": "?"}})
    target = rule.target
    if target in ("DROP", "REJECT", "ACCEPT"):
        out.append({target.lower(): None})
    elif target:
        out.append({"jump": {"target": target}})
    return tuple(out)


def _interfaces(rule: Sequence[dict]) -> list[tuple[str, str, str]]:
    """(key, op, name) for each iifname/oifname/iif/oif match in the rule."""
    found = []
    for stmt in rule:
        match = stmt.get("match")
        if not match:
            continue
        meta = match.get("left", {}).get("meta", {})
        if meta.get("key") in ("iifname", "oifname", "iif", "oif"):
            right = match.get("right")
            names = right.get("set", []) if isinstance(right, dict) else [right]
            for name in names:
                if isinstance(name, str):
                    found.append((meta["key"], match.get("op", "=="), name))
    return found


def _verdict(rule: Sequence[dict]) -> str | None:
    for stmt in rule:
        for key in ("accept", "drop", "reject", "jump", "goto"):
            if key in stmt:
                return key
    return None


def _matches_ct(rule: Sequence[dict]) -> bool:
    return any("ct" in stmt.get("match", {}).get("left", {}) for stmt in rule)


def _drops_guests(rule: Sequence[dict], bridges: Sequence[str]) -> bool:
    """A drop or reject that could hit guest traffic: not limited to other interfaces.

    Connection-state drops (`ct state invalid drop`, everywhere in distro firewalls) are left
    out: they do not touch a guest's valid traffic.
    """
    if _verdict(rule) not in ("drop", "reject") or _matches_ct(rule):
        return False
    names = _interfaces(rule)
    positive = [name for _, op, name in names if op in ("==", "in")]
    return not positive or any(name in bridges for name in positive)


def _handled(chain: _BaseChain, bridges: Sequence[str]) -> bool:
    """The chain already lets guest traffic through: an accept (or netc's own jump) for it."""
    for rule in chain.rules:
        verdict = _verdict(rule)
        if verdict == "jump" and any(
            str(s["jump"].get("target", "")).startswith("NETC_") for s in rule if "jump" in s
        ):
            return True
        if verdict == "accept" and any(
            op == "==" and name in bridges for _, op, name in _interfaces(rule)
        ):
            return True
        if verdict in ("drop", "reject") and _drops_guests(rule, bridges):
            return False  # an accept after this drop comes too late
    return False


def _forward_fix(chain: _BaseChain, bridges: Sequence[str]) -> str:
    if chain.iptables or "legacy" in chain.table:
        tool = "iptables" if chain.family == "ip" else "ip6tables"
        if "legacy" in chain.table:
            tool += "-legacy"
        parent = "DOCKER-USER" if chain.name == "FORWARD" else chain.name
        cmds = [f"{tool} -I {parent} -{side} {br} -j ACCEPT" for br in bridges for side in "io"]
        note = (
            " (DOCKER-USER is the chain Docker leaves alone; create it with "
            f"`{tool} -N DOCKER-USER` and jump to it from FORWARD if Docker has not)"
        )
        return "; ".join(cmds) + note
    table = f"{chain.family} {chain.table}"
    cmds = [
        f'nft insert rule {table} {chain.name} {side}name "{br}" accept'
        for br in bridges
        for side in ("iif", "oif")
    ]
    extra = ""
    if chain.table == "firewalld":
        zone = f"firewall-cmd --permanent --zone=libvirt --add-interface={bridges[0]}"
        extra = f"; with firewalld: `{zone}`"
    return "; ".join(cmds) + extra


def _input_fix(chain: _BaseChain, bridges: Sequence[str]) -> str:
    if chain.iptables or "legacy" in chain.table:
        tool = "iptables" if chain.family == "ip" else "ip6tables"
        if "legacy" in chain.table:
            tool += "-legacy"
        cmds = [
            f"{tool} -I {chain.name} -i {br} -p {proto} --dport {port} -j ACCEPT"
            for br in bridges
            for proto, port in (("udp", 67), ("udp", 53), ("tcp", 53))
        ]
        return "; ".join(cmds)
    table = f"{chain.family} {chain.table}"
    cmds = [
        f'nft insert rule {table} {chain.name} iifname "{br}" meta l4proto {{ udp, tcp }} '
        "th dport { 53, 67 } accept"
        for br in bridges
    ]
    return "; ".join(cmds) + " (NixOS: networking.firewall.trustedInterfaces)"

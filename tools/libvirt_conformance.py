"""netc versus libvirt, case by case: is netc's ruleset for a libvirt XML equivalent to libvirt's?

For every corpus case and both backends this builds libvirt's ruleset (`corpus.expected`), compiles
the same XML with netc, and asks the verifier (`netc.parity.verify`) whether every packet gets the
same verdict and NAT. Constructs the verifier treats as declared differences (no verdict effect)
are listed per side. A second check puts a foreign DROP policy on the iptables INPUT and OUTPUT
chains of both sides: that is where libvirt's unconditional guest↔host accepts (DHCP/DNS over tcp
and udp, in and out) and netc's "only what the network serves" stop being invisible, and the
verifier's counterexamples list exactly the ports libvirt accepts and netc does not.

`python tools/libvirt_conformance.py --write libvirt/CONFORMANCE.md` regenerates the table; the
test suite fails when the file is stale.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import TYPE_CHECKING

from libvirt_replay import CASES, Case, expected

if TYPE_CHECKING:
    from netc.parity.model import Ruleset

DEFAULT_CORPUS = Path(__file__).resolve().parent.parent / "tests" / "libvirt" / "corpus"


@dataclass(frozen=True, slots=True)
class Outcome:
    """One case on one backend, as the verifier saw it."""

    case: str
    backend: str  # "nftables" or "iptables"
    equivalent: bool
    classes: int
    declared: tuple[str, ...]  # e.g. "CHECKSUM --checksum-fill (libvirt only)"
    counterexamples: tuple[str, ...]  # one line each, the verifier's own wording
    spec_failures: tuple[int, int]  # rows of netc's per-mode spec failed by (libvirt, netc)


@dataclass(frozen=True, slots=True)
class HostOnly:
    """With INPUT/OUTPUT policy DROP: the guest↔host ports accepted by one side only."""

    case: str
    libvirt_only: tuple[str, ...]  # "ipv4 input tcp/67", ...
    netc_only: tuple[str, ...]


def _netc_texts(xml_path: Path) -> dict[str, str]:
    from netc.pipeline import compile_files, emit

    compiled = compile_files([str(xml_path)])
    return {t: emit(compiled, t) for t in ("nft", "iptables", "ip6tables")}


def _ipt(v4: str, v6: str, label: str):
    from netc.parity import Family as PFamily
    from netc.parity import parse_iptables

    return parse_iptables(v4, PFamily.IPV4, f"{label}.v4").merged(
        parse_iptables(v6, PFamily.IPV6, f"{label}.v6")
    )


def rulesets(corpus: Path, case: Case) -> dict[str, tuple[Ruleset, Ruleset]]:
    """backend → (libvirt's Ruleset, netc's Ruleset) for one case."""
    from netc.parity import parse_nft

    lv = expected(corpus, case)
    nc = _netc_texts(corpus / case.xml)
    return {
        "nftables": (
            parse_nft(lv.nft, f"libvirt-{case.name}.nft"),
            parse_nft(nc["nft"], f"netc-{case.name}.nft"),
        ),
        "iptables": (
            _ipt(lv.iptables, lv.ip6tables, f"libvirt-{case.name}"),
            _ipt(nc["iptables"], nc["ip6tables"], f"netc-{case.name}"),
        ),
    }


def _describe_declared(result) -> tuple[str, ...]:
    out = []
    for d in result.declared:
        side = {"A": "libvirt only", "B": "netc only"}.get(d.only_in or "", "both")
        out.append(f"{d.kind} ({side})")
    return tuple(out)


def _counterexample_lines(result) -> tuple[str, ...]:
    from netc.parity.report import format_result

    text = format_result(result)
    return tuple(line.strip() for line in text.splitlines() if "counterexample" in line)


def _spec(corpus: Path, case: Case) -> list:
    """parity's behavioural spec (guest→outside masqueraded, outside→guest rejected, ...) of
    the case's network, as netc reads it; both sides are checked against it, since two
    rulesets can agree and both be wrong."""
    from netc.verification import spec_from_networks
    from netc.pipeline import compile_files

    return spec_from_networks(compile_files([str(corpus / case.xml)]).program.networks)


def check_case(corpus: Path, case: Case) -> list[Outcome]:
    from netc.parity import verify
    from netc.parity.spec import check_spec

    spec = _spec(corpus, case)
    out = []
    for backend, (a, b) in rulesets(corpus, case).items():
        result = verify(a, b)
        failures = (len(check_spec(a, spec)), len(check_spec(b, spec)))
        out.append(
            Outcome(
                case.name,
                backend,
                result.equivalent,
                result.classes,
                _describe_declared(result),
                _counterexample_lines(result),
                failures,
            )
        )
    return out


def with_drop_policy(text: str) -> str:
    """iptables-restore text with policy DROP on filter INPUT and OUTPUT (a host firewall)."""
    head, marker, rest = text.partition("*filter\n")
    if not marker:
        return text + "*filter\n:INPUT DROP [0:0]\n:OUTPUT DROP [0:0]\nCOMMIT\n"
    body, commit, tail = rest.partition("COMMIT\n")
    kept = [line for line in body.splitlines() if not line.startswith((":INPUT ", ":OUTPUT "))]
    lines = [":INPUT DROP [0:0]", ":OUTPUT DROP [0:0]", *kept]
    return head + marker + "\n".join(lines) + "\n" + commit + tail


def host_only(corpus: Path, case: Case):
    """Verify both iptables sides under a DROP policy; returns (HostOnly, VerifyResult)."""
    from netc.parity import verify

    lv = expected(corpus, case)
    nc = _netc_texts(corpus / case.xml)
    a = _ipt(with_drop_policy(lv.iptables), with_drop_policy(lv.ip6tables), f"libvirt-{case.name}")
    b = _ipt(
        with_drop_policy(nc["iptables"]), with_drop_policy(nc["ip6tables"]), f"netc-{case.name}"
    )
    result = verify(a, b, max_counterexamples=1000)
    libvirt_only: set[str] = set()
    netc_only: set[str] = set()
    for ce in result.counterexamples:
        p = ce.packet
        region = dict(ce.region.fields)
        example = {6: "tcp", 17: "udp"}.get(p.l4proto, str(p.l4proto))
        protos = [x.strip() for x in region.get("l4proto", example).split(",")]
        # A counterexample stands for a region; every protocol and port in it differs alike.
        for proto, dport in product(protos, _ports(region.get("dport"), p.dport)):
            key = f"{p.family.value} {p.path.value} {proto}/{dport}"
            if ce.a.outcome.verdict == "accept" and ce.b.outcome.verdict != "accept":
                libvirt_only.add(key)
            elif ce.b.outcome.verdict == "accept" and ce.a.outcome.verdict != "accept":
                netc_only.add(key)
            else:
                netc_only.add(f"UNEXPECTED {key}: {ce.a.outcome} vs {ce.b.outcome}")
    return HostOnly(case.name, tuple(sorted(libvirt_only)), tuple(sorted(netc_only))), result


def _ports(described: str | None, example: int | None) -> list[int | None]:
    """The destination ports a region lists ("53, 68", "1-3"); its example when it lists none."""
    if not described:
        return [example]
    ports: list[int | None] = []
    for part in described.split(","):
        first, _, last = part.strip().partition("-")
        ports += range(int(first), int(last or first) + 1)
    return ports


# -- the table -------------------------------------------------------------------------------

_INTRO = """\
# netc ↔ libvirt conformance

Generated by `python tools/libvirt_conformance.py --write libvirt/CONFORMANCE.md` (the test suite
fails when this file is stale). For every case of libvirt's own firewall test corpus
(`tests/networkxml2firewalldata/`, vendored in `tests/libvirt/corpus/`), libvirt's command lists
(`base.*` + the case's file, head insertions applied) are turned into the ruleset libvirt leaves
in the kernel (`tools/libvirt_replay.py`), netc compiles the same XML, and `netc.parity.verify` checks
that every packet class gets the same verdict and NAT on each backend. libvirt's nft `iif`/`oif`
(interface index, resolved when libvirt inserts the rule right after creating the bridge) is read
as `iifname`/`oifname`.

**Equivalent** means no packet class is treated differently. Declared differences are constructs
the verifier proves have no verdict or NAT effect but reports because one side has them:

- `CHECKSUM --checksum-fill` (iptables mangle) and `udp checksum set 0` (one nft generation):
  libvirt's DHCP checksum fix-up for old guests. netc emits neither on purpose: it changes no
  verdict, libvirt itself adds the iptables one ignoring errors (not every iptables has the
  target) and newer libvirt moved the fix out of netfilter, to `tc`.
- `counter`: libvirt's nft rules count packets; iptables counts every rule implicitly.

**Spec**: besides agreeing with each other, both sides are checked against the verifier's
behavioural spec of the network (`netc verify --spec`: per forward mode, guest→outside
masqueraded into the port range or routed, outside→guest new and established, guest↔guest,
guest→host DHCP/DHCPv6/DNS/TFTP, multicast and broadcast not masqueraded), since two rulesets
can agree and both be wrong. "holds on all four" = on libvirt's and on netc's ruleset, on each
backend.

**Host services** (last column). libvirt's iptables backend accepts guest→host DHCP (tcp and udp
67) and DNS (tcp and udp 53) and host→guest tcp/udp 68 and 53 unconditionally, whether or not the
network serves them (with an IPv6 subnet also DNS both ways and DHCPv6 547 in / 546 out); its nft
backend accepts none. netc accepts, on both backends, exactly the services the network serves
(DHCP only with a DHCP range or host, DNS unless `dns off`, TFTP with `tftp`). With the default
ACCEPT policies this makes no verdict difference (hence "equivalent").
It shows as soon as a host firewall drops by default: the column lists the verifier's
counterexamples when both iptables sides get `INPUT`/`OUTPUT` policy DROP, all of them "libvirt
accepts, netc drops". On nft the same foreign DROP drops on both sides (an accept in one nft table
does not overrule a drop in another), so nothing differs there.

Other deliberate differences, tested in `tests/libvirt/test_libvirt_conformance.py` but not part
of the corpus: libvirt puts several networks' rules into shared chains in reverse start order,
netc dispatches to per-network chains by bridge name (verified equivalent for two networks started
in either order); `inbound stateful` (opt-in) makes netc's routed inbound stateful where libvirt's
is stateless (as is netc's default, which `netc import` writes out as `inbound stateless`), and
the verifier's counterexamples are then exactly new inbound connections to the routed subnet.

`<port isolated='yes'/>` (`isolate guests`), checked against a live libvirt in
`tests/libvirt_host/test_libvirt_live_conformance.py`: libvirt isolates guests with the bridge
ports' `isolated` flag alone and keeps accepting traffic in and out of the same bridge
(`guest_cross`); netc also rejects it (after hairpinned forwarded ports), so the counterexamples
are exactly iif = oif = the bridge. On purpose: the flag stops only port → port, so under
libvirt's rules a guest that routes a neighbour's address via the gateway reaches it through the
host (`tests/ports/test_isolate_guests.py` shows it; docs/language.md, `isolate guests`).

"""


def render(outcomes: Sequence[Outcome], hosts: Sequence[HostOnly]) -> str:
    by = {(o.case, o.backend): o for o in outcomes}
    host_by = {h.case: h for h in hosts}
    lines = [
        _INTRO,
        "| case | nftables | iptables | spec | iptables with INPUT/OUTPUT DROP: accepted by libvirt only |",
        "|---|---|---|---|---|",
    ]
    for case in CASES:
        cells = [f"`{case.name}`"]
        for backend in ("nftables", "iptables"):
            o = by[(case.name, backend)]
            verdict = "**equivalent**" if o.equivalent else "**DIFFERENT**"
            extra = "; declared: " + ", ".join(o.declared) if o.declared else ""
            cells.append(f"{verdict}{extra}")  # no class counts: they churn with unrelated changes
        specs = [by[(case.name, b)].spec_failures for b in ("nftables", "iptables")]
        if all(f == (0, 0) for f in specs):
            cells.append("holds on all four")
        else:
            cells.append(
                ", ".join(
                    f"{b}: libvirt {lv} / netc {nc} rows fail"
                    for b, (lv, nc) in zip(("nftables", "iptables"), specs)
                )
            )
        h = host_by[case.name]
        cell = ", ".join(h.libvirt_only) or "none"
        if h.netc_only:
            cell += "; netc only: " + ", ".join(h.netc_only)
        cells.append(cell)
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Files used per case (`tests/libvirt/corpus/`):")
    lines.append("")
    for case in CASES:
        why = f" — {case.why}" if case.why else ""
        lines.append(f"- `{case.name}`: `{case.xml}`, `{case.nftables}`, `{case.iptables}`{why}")
    return "\n".join(lines) + "\n"


def table(corpus: Path = DEFAULT_CORPUS) -> str:
    outcomes: list[Outcome] = []
    hosts: list[HostOnly] = []
    for case in CASES:
        outcomes += check_case(corpus, case)
        hosts.append(host_only(corpus, case)[0])
    return render(outcomes, hosts)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--write", type=Path, metavar="FILE", help="write the table to FILE")
    args = parser.parse_args(argv)
    text = table(args.corpus)
    if args.write:
        args.write.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["HostOnly", "Outcome", "check_case", "host_only", "main", "render", "table"]

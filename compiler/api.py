"""The compiler's public face: sources in, intents and emitted text out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from netc.collector import collector_paused
from netc.diagnostics import Diagnostic, NetcError
from netc.emitters import TARGETS, header
from netc.ir.intents import Intent
from netc.ir.model import Network, Program

from .build import build
from .lower import lower
from .parse import parse_recovering
from .sources import looks_like_xml, read_source
from .validate import cross_check


@dataclass(frozen=True, slots=True)
class Compiled:
    program: Program
    intents: tuple[Intent, ...]
    sources: dict[str, str]  # file name -> text, for rendering diagnostics
    notes: tuple[Diagnostic, ...] = ()  # remarks that are not errors (ignored libvirt XML)


def networks_from_text(text: str, filename: str) -> tuple[list[Network], list[Diagnostic]]:
    """Parse and build one source; returns the networks and every syntax and value error.

    Networks with a syntax error are left out; the others are still built and checked, so one
    run reports independent mistakes all over the file.
    """
    tree, syntax = parse_recovering(text, filename)
    networks, problems = build(tree, filename)
    return networks, syntax + problems


def _networks_from_any(
    text: str, filename: str, notes: list[Diagnostic]
) -> tuple[list[Network], list[Diagnostic]]:
    """`.net` source, or libvirt network XML (netc.libvirt converts it to `.net` source)."""
    if not looks_like_xml(filename, text):
        return networks_from_text(text, filename)
    from netc.libvirt import networks_from_xml

    nets, problems, found = networks_from_xml(text, filename)
    notes += found
    return nets, problems


def compile_sources(sources: Sequence[tuple[str, str]]) -> Compiled:
    """Compile (filename, text) pairs into one program; raises NetcError with every problem.

    A source may be libvirt network XML instead of `.net` text; it is detected and converted.
    """
    with collector_paused():
        return _compile_sources(sources)


def _compile_sources(sources: Sequence[tuple[str, str]]) -> Compiled:
    networks: list[Network] = []
    problems: list[Diagnostic] = []
    notes: list[Diagnostic] = []
    for filename, text in sources:
        try:
            nets, found = _networks_from_any(text, filename, notes)
        except NetcError as err:
            problems += err.diagnostics
            continue
        networks += nets
        problems += found
    problems += cross_check(networks)  # over the networks that built: no spurious clashes
    if problems:
        failure = NetcError(problems)
        failure.sources = dict(sources)  # for carets, stdin included
        raise failure
    program = Program(tuple(networks))
    return Compiled(program, tuple(lower(program.networks)), dict(sources), tuple(notes))


def compile_files(paths: Sequence[str]) -> Compiled:
    """Read and compile files; every unreadable file is reported, not only the first."""
    sources, problems = [], []
    for path in paths:
        try:
            sources.append((path, read_source(path)))
        except NetcError as err:
            problems += err.diagnostics
    if problems:
        raise NetcError(problems)
    return compile_sources(sources)


def emit(compiled: Compiled, target: str, remove: bool = False) -> str:
    """Print the compiled intents for a target ("nft", "iptables", "ip6tables")."""
    emitter = TARGETS[target]
    names = [name.rsplit("/", 1)[-1] for name in compiled.sources]
    with collector_paused():
        body = emitter.teardown() if remove else emitter.setup(compiled.intents)
    return header(emitter, names, remove) + body


def compile_text(text: str, filename: str, target: str, remove: bool = False) -> str:
    """Compile one source text straight to a target's text (raises NetcError on bad input)."""
    return emit(compile_sources([(filename, text)]), target, remove)

"""The pipeline every caller runs: sources in, a `Compiled` value, emitted text out.

The CLI, the host code, the benchmarks and the libvirt tools all come through here; nothing
else composes the stages. Reading (`read_sources`) happens once per input — standard input
included — and the texts travel with the result, so a command that both emits and verifies
compiles once and can still point a diagnostic at a line of stdin.

    read_sources ──► compile_sources ──► Compiled ──► emit(target, remove, jumps)
       .net text ──► compiler (parse → build → check → lower)
      libvirt XML ──► libvirt converter ──► compiler      (detected by `looks_like_xml`)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from netc.collector import collector_paused
from netc.compiler.api import cross_check, lower, networks_from_text
from netc.compiler.sources import looks_like_xml, read_source
from netc.diagnostics import Diagnostic, NetcError
from netc.emitters import TARGETS, header
from netc.ir.intents import Intent
from netc.ir.model import Network, Program


@dataclass(frozen=True, slots=True)
class Compiled:
    """A checked program, its intents, and the source texts it came from."""

    program: Program
    intents: tuple[Intent, ...]
    sources: Mapping[str, str]  # file name -> text, for rendering diagnostics
    notes: tuple[Diagnostic, ...] = ()  # remarks that are not errors (ignored libvirt XML)


def read_sources(paths: Sequence[str]) -> list[tuple[str, str]]:
    """Read every path once ('-' is standard input); every unreadable file is reported."""
    sources: list[tuple[str, str]] = []
    problems: list[Diagnostic] = []
    for path in paths:
        try:
            sources.append((path, read_source(path)))
        except NetcError as err:
            problems += err.diagnostics
    if problems:
        raise NetcError(problems)
    return sources


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
        raise NetcError(problems, sources=dict(sources))
    program = Program(tuple(networks))
    return Compiled(program, tuple(lower(program.networks)), dict(sources), tuple(notes))


def _networks_from_any(
    text: str, filename: str, notes: list[Diagnostic]
) -> tuple[list[Network], list[Diagnostic]]:
    """`.net` source, or libvirt network XML (netc.libvirt converts it to `.net` source)."""
    if not looks_like_xml(filename, text):
        return networks_from_text(text, filename)
    from netc.libvirt import networks_from_xml  # XML only: `.net` runs never import it

    nets, problems, found = networks_from_xml(text, filename)
    notes += found
    return nets, problems


def compile_files(paths: Sequence[str]) -> Compiled:
    """Read and compile files ('-' is standard input, read once)."""
    return compile_sources(read_sources(paths))


def emit(compiled: Compiled, target: str, remove: bool = False, jumps: bool = True) -> str:
    """Print the compiled intents for a target ("nft", "iptables", "ip6tables").

    `jumps=False` leaves out the jumps from the built-in chains (see `Emitter.setup`): what a
    re-apply over rules already loaded needs.
    """
    emitter = TARGETS[target]
    names = [name.rsplit("/", 1)[-1] for name in compiled.sources]
    with collector_paused():
        body = emitter.teardown() if remove else emitter.setup(compiled.intents, jumps=jumps)
    return header(emitter, names, remove) + body


def compile_text(text: str, filename: str, target: str, remove: bool = False) -> str:
    """Compile one source text straight to a target's text (raises NetcError on bad input)."""
    return emit(compile_sources([(filename, text)]), target, remove)

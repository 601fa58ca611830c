"""libvirt network XML in, `.net` source or compiled networks out.

This is the one entry point the rest of netc uses: `netc import` prints `import_sources(...)`;
the compiler calls `networks_from_xml` for any input `looks_like_xml`. Both go through the same
generated `.net` text, so importing and then compiling cannot differ from compiling the XML.
Diagnostics from compiling the generated text are moved back to the XML element they came from.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from netc.diagnostics import Diagnostic, NetcError
from netc.ir.model import Network
from netc.ir.span import Span

from netc.compiler.api import networks_from_text
from netc.compiler.sources import looks_like_xml  # noqa: F401  (re-exported)

from .records import LvNetwork
from .tosource import Generated, generate
from .xmlread import read_network
from .xmltree import parse_xml


@dataclass(frozen=True, slots=True)
class Imported:
    """The `.net` text for some XML sources, and the notes about what was ignored."""

    generated: Generated
    notes: tuple[Diagnostic, ...]

    @property
    def text(self) -> str:
        return self.generated.text


def read_xml(text: str, filename: str) -> tuple[LvNetwork, list[Diagnostic]]:
    """Parse and read one libvirt network XML; raises NetcError with located problems."""
    return read_network(parse_xml(text, filename))


def import_sources(sources: Sequence[tuple[str, str]]) -> Imported:
    """(filename, XML text) pairs → one `.net` source; every file's problems are reported."""
    networks: list[tuple[str, LvNetwork]] = []
    notes: list[Diagnostic] = []
    problems: list[Diagnostic] = []
    for filename, text in sources:
        try:
            network, found = read_xml(text, filename)
        except NetcError as err:
            problems += err.diagnostics
            continue
        networks.append((filename, network))
        notes += found
    if problems:
        raise NetcError(problems)
    return Imported(generate(networks), tuple(notes))


def networks_from_xml(
    text: str, filename: str
) -> tuple[list[Network], list[Diagnostic], list[Diagnostic]]:
    """Compile one XML source to networks: (networks, problems, notes), spans in the XML.

    Problems in the generated text, syntax errors included (a value the grammar cannot hold),
    are located in the XML.
    """
    imported = import_sources([(filename, text)])
    relocate = _Relocator(filename, imported.generated)
    try:
        networks, problems = networks_from_text(imported.text, filename)
    except NetcError as err:
        raise NetcError([relocate(d) for d in err.diagnostics]) from None
    return (
        [relocate(n) for n in networks],
        [relocate(d) for d in problems],
        list(imported.notes),
    )


class _Relocator:
    """Moves every Span that points into the generated text onto the XML element it came from."""

    def __init__(self, filename: str, generated: Generated) -> None:
        self.filename = filename
        self.generated = generated

    def __call__(self, value):  # any IR record, Diagnostic, tuple, or leaf value
        if isinstance(value, Span):
            if value.file != self.filename:
                return value
            return self.generated.origin(value.line) or Span(self.filename, 1, 1, 1, 2)
        if isinstance(value, tuple):
            return tuple(self(item) for item in value)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            changes = {}
            for f in dataclasses.fields(value):
                old = getattr(value, f.name)
                new = self(old)
                if new is not old:
                    changes[f.name] = new
            return dataclasses.replace(value, **changes) if changes else value
        return value


__all__ = ["Imported", "import_sources", "looks_like_xml", "networks_from_xml", "read_xml"]

"""libvirt network XML → a small element tree in which every element knows its line and column.

ElementTree drops positions, and a semantic error ("unknown forward mode 'natt'") is only useful
when it points at the line that says so. So the tree is built straight from expat's events,
which carry the position of each start tag. Document type declarations are refused: libvirt's
network XML never has one, and refusing them closes the door on entity-expansion tricks.
"""

from __future__ import annotations

import xml.parsers.expat
from dataclasses import dataclass, field

from netc.diagnostics import Diagnostic, NetcError
from netc.ir.span import Span


@dataclass(frozen=True, slots=True)
class Element:
    """One XML element: tag, attributes, children in document order, and where it starts."""

    tag: str
    attrs: dict[str, str] = field(hash=False, compare=False)
    children: tuple["Element", ...]
    text: str
    span: Span

    def get(self, name: str) -> str | None:
        return self.attrs.get(name)

    def all(self, tag: str) -> tuple["Element", ...]:
        return tuple(c for c in self.children if c.tag == tag)

    def first(self, tag: str) -> "Element | None":
        return next((c for c in self.children if c.tag == tag), None)


class _Builder:
    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.parser = xml.parsers.expat.ParserCreate()
        self.parser.StartElementHandler = self.start
        self.parser.EndElementHandler = self.end
        self.parser.CharacterDataHandler = self.chars
        self.parser.StartDoctypeDeclHandler = self.doctype
        self.parser.EntityDeclHandler = self.entity
        self.stack: list[tuple[str, dict[str, str], list[Element], list[str], Span]] = []
        self.root: Element | None = None

    def here(self, width: int) -> Span:
        line = self.parser.CurrentLineNumber
        column = self.parser.CurrentColumnNumber + 1
        return Span(self.filename, line, column, line, column + width)

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        self.stack.append((tag, dict(attrs), [], [], self.here(len(tag) + 1)))

    def chars(self, data: str) -> None:
        if self.stack:
            self.stack[-1][3].append(data)

    def end(self, tag: str) -> None:
        name, attrs, children, text, span = self.stack.pop()
        element = Element(name, attrs, tuple(children), "".join(text), span)
        if self.stack:
            self.stack[-1][2].append(element)
        else:
            self.root = element

    def doctype(self, *_args: object) -> None:
        raise NetcError(
            Diagnostic(
                "a document type declaration is not allowed in libvirt network XML",
                Span(
                    self.filename,
                    self.parser.CurrentLineNumber,
                    1,
                    self.parser.CurrentLineNumber,
                    10,
                ),
                "remove the <!DOCTYPE ...> line",
            )
        )

    def entity(self, *_args: object) -> None:  # pragma: no cover - needs a DTD, refused above
        raise NetcError(Diagnostic("entity declarations are not allowed", self.here(1)))


def parse_xml(text: str, filename: str) -> Element:
    """Parse XML text into an `Element` tree; malformed XML is a located `NetcError`."""
    builder = _Builder(filename)
    try:
        builder.parser.Parse(text, True)
    except xml.parsers.expat.ExpatError as err:
        line, column = err.lineno, err.offset + 1
        message = xml.parsers.expat.ErrorString(err.code)
        hint = None
        if not text.lstrip("\ufeff \t\r\n").startswith("<"):
            hint = "this is not XML: netc import reads libvirt network XML (<network>...</network>)"
        raise NetcError(
            Diagnostic(
                f"malformed XML: {message}", Span(filename, line, column, line, column + 1), hint
            )
        ) from None
    assert builder.root is not None  # expat reports "no element found" otherwise
    return builder.root

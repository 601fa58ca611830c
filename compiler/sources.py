"""Reading input files, with clear errors for everything the outside world can get wrong."""

from __future__ import annotations

import os
import re
import sys

from netc.diagnostics import Diagnostic, NetcError

MAX_SOURCE_BYTES = 8 * 1024 * 1024  # far beyond 10,000 networks; larger is a mistake


def read_source(path: str) -> str:
    """Read one input file as UTF-8 text; raises NetcError naming the file and what is wrong."""

    def fail(message: str, hint: str | None = None) -> NetcError:
        return NetcError(Diagnostic(message, None, hint, file=path))

    if path != "-" and os.path.isdir(path):
        raise fail("is a directory, not a network file")
    try:
        if path == "-":
            if sys.stdin is None:  # started with standard input closed (`<&-`)
                raise fail("standard input is closed", "give a file name, or pipe the text in")
            data = sys.stdin.buffer.read(MAX_SOURCE_BYTES + 1)
        else:
            if os.path.getsize(path) > MAX_SOURCE_BYTES:
                raise fail(f"file is larger than {MAX_SOURCE_BYTES // (1024 * 1024)} MiB")
            with open(path, "rb") as handle:
                data = handle.read(MAX_SOURCE_BYTES + 1)
    except FileNotFoundError:
        raise fail("no such file") from None
    except PermissionError:
        raise fail("permission denied") from None
    except OSError as err:
        raise fail(f"cannot read: {err.strerror or err}") from None
    except ValueError:  # a NUL byte in the path itself
        raise fail("not a usable file name") from None
    if len(data) > MAX_SOURCE_BYTES:
        raise fail(f"input is larger than {MAX_SOURCE_BYTES // (1024 * 1024)} MiB")
    try:
        # utf-8-sig: a byte-order mark some editors write would otherwise glue itself to the
        # first keyword ("\ufeffnetwork") and make a baffling syntax error.
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        line_start = data.rfind(b"\n", 0, err.start) + 1
        column = len(data[line_start : err.start].decode("utf-8", "replace")) + 1
        raise fail(
            f"not UTF-8 text: byte 0x{data[err.start]:02x} at line {line}, column {column}",
            "netc reads network files as UTF-8; convert with iconv",
        ) from None
    if "\x00" in text:
        at = text.index("\x00")
        line = text.count("\n", 0, at) + 1
        column = at - (text.rfind("\n", 0, at) + 1) + 1
        raise fail(
            f"contains NUL bytes (the first at line {line}, column {column}); "
            "is this a binary file?"
        )
    hint = "a network file holds at least one 'network NAME { ... }' block"
    if not text.strip():
        raise fail("is empty", hint)
    if all(not line.strip() or line.lstrip().startswith("#") for line in text.split("\n")):
        raise fail("has only comments, no network", hint)
    return text


_XML_START = re.compile(r"\A(?:\s|<!--.*?-->)*<", re.S)


def looks_like_xml(filename: str, text: str) -> bool:
    """libvirt network XML, by extension or by content (the first thing after blanks and XML
    comments is '<'). A `.net` file cannot start with '<', which is no character of the grammar.

    It lives here, not in `netc.libvirt`, so that compiling `.net` files never imports the XML
    reader (start-up time).
    """
    return filename.lower().endswith(".xml") or bool(_XML_START.match(text))

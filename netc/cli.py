"""The `netc` command line: parse arguments, run one command, render errors in one place.

Exit status: 0 success, 1 verification found a difference, 2 bad input or usage, 3 an internal
error (a bug: please report it). Commands live in `netc.commands.*`, each with `register()` and
`run()`. Only the command being run is imported: `netc compile` must not pay at start-up for the
verifier or for the host code (pyroute2), so the other commands appear in `--help` through the
one-line summaries in `COMMANDS`, which a test keeps equal to what each module registers.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import stat
import sys
from collections.abc import Sequence

from netc.diagnostics import NetcError, render

# command -> the `help=` its module registers (shown by `netc --help` without importing it)
COMMANDS = {
    "compile": "compile network files to nft or iptables-restore text",
    "check": "validate network files",
    "verify": "prove an nft and an iptables ruleset equivalent, packet class by packet class",
    "import": "print libvirt network XML as .net source",
    "apply": "create bridges and load the rules for the networks in FILEs",
    "down": "remove netc's rules and the bridges it created",
    "status": "show what netc applied and whether the host still matches it",
    "migrate": "move netc's rules to another firewall backend",
    "doctor": "find foreign rules and settings that break netc's networks",
    "adopt": "take over the firewall of running libvirt networks (libvirt keeps bridge and DHCP)",
    "release": "give adopted libvirt networks back to libvirt",
    "restore": "load the rules of every applied network again, from netc's state",
    "units": "install the systemd units that restore netc's rules at boot and firewall reloads",
}

EXIT_OK, EXIT_DIFFERENT, EXIT_BAD_INPUT, EXIT_INTERNAL = 0, 1, 2, 3


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors with exit status 2 and no traceback (its default)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        sys.stderr.write(f"netc: error: {message}\n")
        raise SystemExit(EXIT_BAD_INPUT)


def module_name(command: str) -> str:
    return f"netc.commands.{'import_' if command == 'import' else command}"


DESCRIPTION = (
    "Compile virtual-network firewalls (.net files or libvirt network XML) to nftables or "
    "iptables rules, prove both backends' rules equivalent, and apply them on a host."
)
VERBOSE_HELP = "also print notes without firewall meaning (libvirt XML elements netc ignores)"
EPILOG = (
    "Run `netc COMMAND --help` for a command's options. Exit status: 0 success, 1 verification "
    "found a difference, 2 bad input or usage, 3 internal error."
)


class _Version(argparse.Action):
    """`--version`: the installed package's version, read only when asked for (start-up cost)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print netc's version and exit")

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            found = version("netc")
        except PackageNotFoundError:
            found = "unknown (not installed: pip install -e .)"
        sys.stdout.write(f"netc {found}\n")
        raise SystemExit(EXIT_OK)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser for `argv`: the chosen command fully registered, the others as summaries."""
    chosen = _command_word(sys.argv[1:] if argv is None else argv)
    parser = _Parser(prog="netc", description=DESCRIPTION, epilog=EPILOG)
    parser.add_argument("--version", action=_Version)
    parser.add_argument("-v", "--verbose", action="store_true", help=VERBOSE_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name, summary in COMMANDS.items():
        if importlib.util.find_spec(module_name(name)) is None:
            continue  # a command whose module is not part of this build
        if name == chosen:
            importlib.import_module(module_name(name)).register(sub)
            _add_verbose(sub.choices[name])
        else:
            sub.add_parser(name, help=summary)
    return parser


def _add_verbose(parser: argparse.ArgumentParser) -> None:
    """`-v` after the command too (`netc compile x.xml -v`), unless the command defines its own."""
    try:
        parser.add_argument(
            "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=VERBOSE_HELP
        )
    except argparse.ArgumentError:
        pass  # the command's own -v (verify) sets the same `verbose`


def _command_word(argv: Sequence[str]) -> str | None:
    """The subcommand named on the command line: the first argument not an option."""
    return next((arg for arg in argv if not arg.startswith("-")), None)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser(argv)
    if not (sys.argv[1:] if argv is None else argv):
        parser.print_help(sys.stderr)  # bare `netc`: what it does and its commands
        sys.stderr.write("netc: error: name a COMMAND, e.g. netc compile FILE.net\n")
        return EXIT_BAD_INPUT
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except NetcError as err:
        sys.stderr.write(render(err.diagnostics, err.sources or _sources(args)))
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        return EXIT_OK
    except KeyboardInterrupt:
        return 130
    except Exception as err:  # noqa: BLE001 - the one place a bug becomes a message, not a trace
        sys.stderr.write(f"netc: internal error: {type(err).__name__}: {err}\n")
        return EXIT_INTERNAL


def _sources(args: argparse.Namespace) -> dict[str, str]:
    """Source texts for rendering carets, when the error did not carry them: re-read, but only
    regular files of a size netc reads at all (`/dev/zero` or a FIFO would never end)."""
    from netc.compiler.sources import MAX_SOURCE_BYTES

    texts = {}
    for path in getattr(args, "files", None) or []:
        try:
            info = os.stat(path)
            if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_SOURCE_BYTES:
                continue
            with open(path, encoding="utf-8") as handle:
                texts[path] = handle.read(MAX_SOURCE_BYTES)
        except (OSError, UnicodeDecodeError, ValueError):
            pass
    return texts

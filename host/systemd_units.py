"""The systemd units netc ships, filled in with the path of the installed netc and written out.

The unit files live in the package (`host/units/*.service.in`) with `@NETC@` where the absolute
path of the `netc` executable goes. That path reaches the unit text only after a check: it is
absolute, names an executable file, and holds only characters systemd takes literally in an
`ExecStart=` line (no whitespace, quotes, `\\`, `%` specifiers or `$` variables). The default is
the `netc` script installed beside the running interpreter (`/usr/bin/netc` from a distribution
package, `/usr/local/bin/netc` from pip, `VENV/bin/netc` from a virtualenv).

Writing goes to `ROOT/etc/systemd/system` (ROOT `/` by default), each file replaced atomically;
`--root` lets a test or an image build write elsewhere. Enabling is left to `systemctl`, the
tool that knows the host's unit search path; the command to run is printed.
"""

from __future__ import annotations

import os
import re
import sysconfig
from importlib import resources

from netc.diagnostics import Diagnostic, NetcError

from .files import write_atomic
from .lifecycle import Report

UNITS = ("netc-restore.service", "netc-firewall-reload.service")
PLACEHOLDER = "@NETC@"
UNIT_DIR = "etc/systemd/system"
_SAFE_PATH = re.compile(r"/[A-Za-z0-9._+/-]+")


def template(name: str) -> str:
    return resources.files("netc.host").joinpath("units", f"{name}.in").read_text("utf-8")


def default_executable() -> str:
    """The `netc` console script installed with the running interpreter's packages."""
    return os.path.join(sysconfig.get_path("scripts"), "netc")


def checked_executable(path: str, option: str = "--netc") -> str:
    """`path` if it is safe to put in `ExecStart=` and names an executable file; else an error."""
    if not _SAFE_PATH.fullmatch(path) or "/../" in f"{path}/":
        raise NetcError(
            Diagnostic(
                f"{option}: {path!r} is not an absolute path systemd can run as it is",
                hint="give the absolute path of the netc executable (letters, digits, "
                "'.', '_', '+', '-', '/' only); nothing was written",
            )
        )
    if not os.path.isfile(path) or not os.access(path, os.X_OK):
        raise NetcError(
            Diagnostic(
                f"{option}: {path} is not an executable file",
                hint="install netc first (pip install, or a package), or point --netc at the "
                "installed netc; nothing was written",
            )
        )
    return path


def render(name: str, executable: str) -> str:
    """The unit `name` with the (checked) executable filled in."""
    return template(name).replace(PLACEHOLDER, checked_executable(executable))


def install(root: str = "/", executable: str | None = None) -> Report:
    """Write every unit into ROOT/etc/systemd/system; say what to run to enable them."""
    report = Report()
    netc = checked_executable(executable) if executable else _default_checked()
    texts = {name: render(name, netc) for name in UNITS}  # all checked before any write
    directory = os.path.join(os.path.abspath(root), UNIT_DIR)
    try:
        os.makedirs(directory, mode=0o755, exist_ok=True)
        for name, text in texts.items():
            path = os.path.join(directory, name)
            if _read(path) == text:
                report.say(f"unchanged: {path}")
                continue
            _write(path, text)
            report.say(f"wrote {path}")
    except OSError as err:
        raise NetcError(
            Diagnostic(
                f"cannot write the units: {err.strerror}",
                hint="run as root, or choose another --root",
                file=err.filename or directory,
            )
        ) from None
    report.say(f"ExecStart uses {netc}")
    systemctl = "systemctl" if os.path.abspath(root) == "/" else f"systemctl --root={root}"
    report.say("to enable them:")
    if os.path.abspath(root) == "/":
        report.say("  systemctl daemon-reload")
    report.say(f"  {systemctl} enable {' '.join(UNITS)}")
    return report


def _default_checked() -> str:
    path = default_executable()
    try:
        return checked_executable(path, option="the installed netc")
    except NetcError:
        raise NetcError(
            Diagnostic(
                f"no installed netc executable at {path}",
                hint="give its absolute path with --netc PATH; nothing was written",
            )
        ) from None


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def _write(path: str, text: str) -> None:
    """Replace `path` atomically: systemd never reads half a unit."""
    write_atomic(path, text)
